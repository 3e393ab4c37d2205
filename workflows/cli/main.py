"""Entry point of the ``arsc`` command.

Every verb module exposes ``register(app)``; the root group imports a verb's
module only when that verb is used (see :data:`VERBS`). Bad
input (:class:`arsc.errors.ArscInputError` or a usage error) prints one line,
``arsc: error: ...``, and exits with code 2, never a traceback.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any

import typer
import typer.core
import typer.main

try:  # typer >= 0.20 vendors click as typer._click
    from typer._click import exceptions as cx
except ImportError:  # pragma: no cover - older typer on top of click
    from click import exceptions as cx  # type: ignore[no-redef]

from arsc import __version__
from arsc.errors import ArscInputError

#: Verb -> (module that registers it, one-line help shown by ``arsc --help``). A module is
#: imported only when one of its verbs runs or shows its own help, so ``arsc --help``
#: answers at once; tests/workflows/cli/test_cli_startup.py checks these lines against
#: the verbs' docstrings.
VERBS: dict[str, tuple[str, str]] = {
    "space": (
        "workflows.cli.space",
        "Enumerate the candidate sites and count structures and DFT calculations.",
    ),
    "build": (
        "workflows.cli.space",
        "Build the bare site or an adsorbed state and write it to a file.",
    ),
    "elements": (
        "workflows.cli.space",
        "Print an element property table and the source of each column.",
    ),
    "activity": (
        "workflows.cli.activity",
        "Free energies, limiting potential and overpotential per site (CHE).",
    ),
    "corrections": (
        "workflows.cli.activity",
        "Compute Delta(ZPE - TS) corrections by harmonic vibrations into a references table.",
    ),
    "validate": (
        "workflows.cli.validate",
        "Compare predictions with DFT values: MAE, RMSE, R², Spearman, top-k retention.",
    ),
    "fit": (
        "workflows.cli.model",
        "Fit the ARSC model per intermediate; report training and grouped-CV errors.",
    ),
    "predict": (
        "workflows.cli.model",
        "Predict dG (eV) with uncertainty, phi and phi_opt for every row of a table.",
    ),
    "pfess": (
        "workflows.cli.pfess",
        "Find interpretable descriptors of a target by PFESS (Lin et al. 2024).",
    ),
    "run": (
        "workflows.cli.run",
        "Run the adsorption flow for sites locally; --resume continues the last request.",
    ),
    "results": (
        "workflows.cli.run",
        "List what the job store holds: one row per calculation, then per-site summaries.",
    ),
    "finetune": (
        "workflows.cli.finetune",
        "Fine-tune CHGNet on DFT frames; pre-relax with it via `arsc run --prerelax-weights`.",
    ),
    "screen": (
        "workflows.cli.screen",
        "Screen dual-atom catalysts end to end: ARSC prunes, DFT confirms, the report shows.",
    ),
    "report": (
        "workflows.cli.report",
        "Write the campaign report: one HTML page with the figures embedded, plus the PNGs.",
    ),
    "submit": (
        "workflows.cli.submit",
        "Submit the adsorption flow of sites to FireWorks and launch it through SLURM.",
    ),
    "status": (
        "workflows.cli.submit",
        "Show the state of every submitted site and job (READY, RUNNING, COMPLETED, FIZZLED, "
        "LOST).",
    ),
    "resume": (
        "workflows.cli.submit",
        "Rerun lost and FIZZLED jobs (finished ones are never rerun) and queue workers again.",
    ),
    "ingest": (
        "workflows.cli.ingest",
        "Ingest DFT results into one energies table (CSV) and check settings consistency.",
    ),
    "campaign": (
        "workflows.cli.campaign",
        "Screening campaigns: run, resume, validate (and replay benchmarks).",
    ),
}
#: Verb modules, one per noun; each exposes ``register(app)``.
VERB_MODULES: tuple[str, ...] = tuple(dict.fromkeys(module for module, _ in VERBS.values()))


def load_verb(name: str) -> cx.Command | None:
    """Import the module of verb ``name`` and return its click command (None: no such verb)."""
    if name not in VERBS:
        return None
    sub = typer.Typer()
    sub.callback()(lambda: None)  # always a group, so the verb is looked up by name
    importlib.import_module(VERBS[name][0]).register(sub)
    group = typer.main.get_command(sub)
    return group.commands.get(name)  # type: ignore[attr-defined]


class LazyVerbs(typer.core.TyperGroup):
    """The root group: verbs listed from :data:`VERBS`, their modules imported on use."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:  # noqa: D102 - click API
        return list(VERBS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:  # noqa: D102 - click API
        if self._listing and cmd_name in VERBS:  # help of the root: the static line
            return typer.core.TyperCommand(cmd_name, help=VERBS[cmd_name][1])
        return load_verb(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:  # noqa: D102 - click API
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="arsc",
    cls=LazyVerbs,
    help="ARSC-DAC: screen dual-atom catalysts with the ARSC descriptor and DFT workflows.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"arsc {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """ARSC-DAC: screen dual-atom catalysts with the ARSC descriptor and DFT workflows."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (2 for bad input, with a one-line message)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        app(args=args, prog_name="arsc", standalone_mode=False)
    except cx.NoArgsIsHelpError:  # bare `arsc`: the help was printed; not an error
        return 0
    except cx.UsageError as exc:
        typer.echo(f"arsc: error: {' '.join(exc.format_message().split())}", err=True)
        return 2
    except ArscInputError as exc:
        typer.echo(f"arsc: error: {exc}", err=True)
        return 2
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        typer.echo("arsc: aborted", err=True)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
