"""Entry point of the ``arsc`` command.

Every verb module exposes ``register(app)``; this module collects them. Bad
input (:class:`arsc.errors.ArscInputError` or a usage error) prints one line,
``arsc: error: ...``, and exits with code 2, never a traceback.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import typer

try:  # typer >= 0.20 vendors click as typer._click
    from typer._click import exceptions as cx
except ImportError:  # pragma: no cover - older typer on top of click
    from click import exceptions as cx  # type: ignore[no-redef]

from arsc import __version__
from arsc.errors import ArscInputError

#: Verb modules, one per noun; each exposes ``register(app)``. Add one line per module.
VERB_MODULES: tuple[str, ...] = (
    "workflows.cli.space",
    "workflows.cli.ingest",
    "workflows.cli.activity",
    "workflows.cli.validate",
    "workflows.cli.model",
    "workflows.cli.pfess",
    "workflows.cli.run",
    "workflows.cli.finetune",
    "workflows.cli.campaign",
    "workflows.cli.screen",
    "workflows.cli.report",
    "workflows.cli.submit",
)

app = typer.Typer(
    name="arsc",
    help="ARSC-DAC: screen dual-atom catalysts with the ARSC descriptor and DFT workflows.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _name in VERB_MODULES:
    importlib.import_module(_name).register(app)


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
