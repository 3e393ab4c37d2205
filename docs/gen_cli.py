"""Generate ``reference/cli.md``: every verb of the ``arsc`` command, from the typer app itself.

Run by the mkdocs-gen-files plugin at build time (mkdocs.yml), so the page
always shows the options the code has. The root group loads its verbs
lazily (``workflows.cli.main.VERBS``); each verb's full click command comes
from :func:`workflows.cli.main.load_verb`, and a verb that is a group
(``arsc ingest``, ``arsc campaign``) lists its subcommands the same way.
Run it by hand to print the page: ``.venv/bin/python docs/gen_cli.py``.
"""

from __future__ import annotations

import re
import sys
from typing import Any

PAGE = "reference/cli.md"

INTRO = """\
# Command line: `arsc`

Generated from the typer app (`workflows/cli/main.py`) when the site is
built, so it lists exactly the options the installed code has. Every verb
also answers `arsc VERB --help`.

Bad input (an unknown element, motif or option value, a malformed file, a
number out of range) prints one line `arsc: error: ...` naming the bad value
and where it is, and exits with code 2 before anything is written. No verb
writes over one of its inputs; every write is atomic.
"""


def cell(text: str) -> str:
    """Text for one markdown table cell: one line, pipes escaped outside code spans."""
    parts = re.split(r"(`[^`]*`)", " ".join(text.split()))
    return "".join(p if p.startswith("`") else p.replace("|", "\\|") for p in parts)


def verb_section(path: str, command: Any, parent: Any, level: int) -> list[str]:
    """Markdown of one command: help text, usage, parameter table, then its subcommands."""
    ctx = command.make_context(path.split()[-1], [], parent=parent, resilient_parsing=True)
    lines = [f"{'#' * level} `{path}`", ""]
    help_text = (command.help or "").split("\f")[0].strip()
    lines += [help_text, ""] if help_text else []
    lines += ["```text", command.get_usage(ctx).replace("Usage: ", "", 1), "```", ""]
    records = [(p, p.get_help_record(ctx)) for p in command.get_params(ctx)]
    rows = [
        f"| `{' '.join(names.split())}` | {cell(text)} |"
        for p, record in records
        if record is not None and p.name != "help"
        for names, text in [record]
    ]
    if rows:
        lines += ["| argument / option | meaning |", "| --- | --- |", *rows, ""]
    for name in getattr(command, "list_commands", lambda _: [])(ctx):
        lines += verb_section(f"{path} {name}", command.get_command(ctx, name), ctx, level + 1)
    return lines


def render() -> str:
    """Return the whole CLI reference page as markdown."""
    import typer.main

    from workflows.cli.main import VERBS, app, load_verb

    root = typer.main.get_command(app)
    root_ctx = root.make_context("arsc", [], resilient_parsing=True)
    lines = [INTRO, "| verb | what it does |", "| --- | --- |"]
    lines += [
        f"| [`arsc {verb}`](#arsc-{verb}) | {cell(text)} |" for verb, (_, text) in VERBS.items()
    ]
    lines += ["", "`arsc --version` prints the version; `arsc --help` lists the verbs.", ""]
    for name in VERBS:
        lines += verb_section(f"arsc {name}", load_verb(name), root_ctx, 2)
    return "\n".join(lines).rstrip() + "\n"


def write_page() -> None:
    """Write the page into the site being built (mkdocs-gen-files)."""
    import mkdocs_gen_files

    with mkdocs_gen_files.open(PAGE, "w") as handle:
        handle.write(render())
    mkdocs_gen_files.set_edit_path(PAGE, "gen_cli.py")


if __name__ == "<run_path>":  # mkdocs-gen-files runs this file with runpy.run_path
    write_page()
elif __name__ == "__main__":  # by hand: print the page
    sys.stdout.write(render())
