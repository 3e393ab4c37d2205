"""The documentation site: generated reference pages and the strict build.

The quick tests check the generators (every verb and option in the CLI
reference, every public name in the API pages) without building. The
``docs`` test runs ``scripts/build_docs.sh``, i.e. ``mkdocs build --strict``
with the tutorials executed, so a broken link, a stale reference, a docstring
mkdocstrings cannot render or a tutorial cell that raises fails it; it takes
minutes (the campaign tutorial runs CHGNet).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NOTEBOOKS = ("campaign", "vasp-to-model")


def generator(name: str) -> dict[str, Any]:
    """Load a docs generator script without running its build-time part."""
    return runpy.run_path(str(DOCS / f"{name}.py"), run_name="gen")


def test_cli_reference_lists_every_verb_subcommand_and_option() -> None:
    import typer.main

    from workflows.cli.main import VERBS, app, load_verb

    page = generator("gen_cli")["render"]()
    root = typer.main.get_command(app)
    ctx = root.make_context("arsc", [], resilient_parsing=True)
    for name in VERBS:
        command = load_verb(name)
        assert command is not None
        assert f"## `arsc {name}`" in page
        assert f"(#arsc-{name})" in page
        for sub in getattr(command, "commands", {}):
            assert f"### `arsc {name} {sub}`" in page
        for param in command.get_params(ctx):
            if param.name != "help" and param.get_help_record(ctx) is not None:
                assert any(opt in page for opt in param.opts), (name, param.opts)


def test_cli_reference_escapes_pipes_only_outside_code() -> None:
    cell = generator("gen_cli")["cell"]
    assert cell("gpaw|mlip or `a|b`\n next") == "gpaw\\|mlip or `a|b` next"


@pytest.mark.parametrize("package", ["arsc", "workflows"])
def test_api_pages_document_every_public_name(package: str) -> None:
    gen = generator("gen_api")
    page = gen["render"](package)
    api = importlib.import_module(package).API
    for name, module in api.items():
        target = f"{gen['defined_in'](package, name)}.{name}"
        assert target.startswith(f"{module}."), target  # the API's module or a submodule
        assert f"::: {target}\n" in page
        assert f"[`{name}`](#{target})" in page
    assert f"::: {package}\n" in page


def test_nav_names_every_page_and_tutorial() -> None:
    config = (ROOT / "mkdocs.yml").read_text()
    nav = config[config.index("\nnav:") :]
    pages = {m for m in re.findall(r":\s*([\w/.-]+\.(?:md|ipynb))\s*$", nav, re.M)}
    pages |= set(re.findall(r"^\s*-\s*([\w/.-]+\.md)\s*$", nav, re.M))
    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    on_disk |= {f"tutorials/{n}.ipynb" for n in NOTEBOOKS}
    generated = {"reference/cli.md", "reference/arsc.md", "reference/workflows.md"}
    assert pages == on_disk | generated


@pytest.mark.docs
def test_strict_build_with_executed_tutorials(tmp_path: Path) -> None:
    """Build the site as CI does; fail on any strict-mode warning or tutorial error."""
    needed = ("mkdocs", "material", "mkdocstrings", "mkdocs_jupyter", "mkdocs_gen_files")
    missing = [m for m in needed if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"docs extras not installed ({', '.join(missing)}): pip install -e '.[docs]'")
    site = tmp_path / "site"
    env_venv = Path(sys.executable).parents[1]
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts/build_docs.sh"), str(site)],
        capture_output=True,
        text=True,
        env={**os.environ, "ARSC_VENV": str(env_venv)},
        check=False,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert re.search(r"build_docs: built \d+ pages into .* in \d+ s", log), log[-2000:]
    for page in (
        "index.html",
        "getting-started.html",
        "reference/cli.html",
        "reference/arsc.html",
        "reference/workflows.html",
    ):
        assert (site / page).is_file(), page
    # the tutorials were executed: their outputs (text and figures) are in the pages
    campaign = (site / "tutorials/campaign.html").read_text()
    assert "budget spent" in campaign
    assert campaign.count("data:image/png;base64") >= 4  # structure + 3 report figures
    model = (site / "tutorials/vasp-to-model.html").read_text()
    assert "LDAU False vs bare True" in model
    assert re.search(r"held-out metals .*MAE \d\.\d\d eV", model)
    assert "data:image/png;base64" in model  # the parity plot
