"""Verbs that ingest DFT results: ``arsc ingest vasp`` and ``arsc ingest gpaw``."""

from __future__ import annotations

import json
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from arsc.errors import ArscInputError
from arsc.ingest import BARE, IngestResult, NamePattern, causes, ingest_runs, write_table
from arsc.ingest.table import TABLE_KIND, Engine
from arsc.ingest.tree import check_root
from arsc.outputs import check_output
from workflows.cli.options import ForceOpt, console

ingest_app = typer.Typer(
    help="Ingest DFT results into one energies table (CSV) and check settings consistency.",
    no_args_is_help=True,
)

RootArg = Annotated[Path, typer.Argument(help="Folder to walk.")]
OutputOpt = Annotated[
    Path,
    typer.Option(
        "--output",
        "-o",
        help="Energies table to write (CSV), outside the tree read; an existing file that is "
        "not an energies table is replaced only with --force.",
    ),
]
PatternOpt = Annotated[
    str,
    typer.Option(
        "--pattern",
        help="Name pattern with {site}, {adsorbate}, optional {mode}; [...] is optional, "
        "/ a folder level.",
    ),
]
BareOpt = Annotated[
    str, typer.Option("--bare", help="Adsorbate token of the bare-site runs, e.g. substrate.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="List every inconsistent row.")]


class AseEngine(StrEnum):
    """Engines whose results are ASE files."""

    gpaw = "gpaw"
    mlip = "mlip"


#: Table engine of each choice.
ASE_ENGINES: dict[AseEngine, Engine] = {AseEngine.gpaw: "gpaw", AseEngine.mlip: "mlip"}


def _report(result: IngestResult, output: Path, seconds: float, hint: str, verbose: bool) -> None:
    out = console()
    summary = result.summary()
    table = Table(title="inconsistent rows by cause")
    table.add_column("cause")
    table.add_column("rows", justify="right")
    table.add_column("example")
    for cause, n in summary.by_cause.items():
        example = next(r for r in result.rows if "+".join(causes(r)) == cause)
        table.add_row(cause, str(n), f"{example.site} {example.adsorbate}: {example.reason}")
    out.print(table)
    if verbose:
        for r in result.inconsistent:
            out.print(f"inconsistent: {r.site} {r.adsorbate} {r.mode}".rstrip() + f": {r.reason}")
    for line in result.errors:
        out.print(f"error: {line}")
    for path in result.skipped:
        out.print(f"skipped (name does not match the pattern): {path}")
    if result.skipped:
        out.print(f"names: {hint}")
    out.print(
        f"{summary.rows} calculations, {summary.sites} sites, {summary.bare_runs} bare-site "
        f"runs: {summary.consistent} consistent, {summary.inconsistent} inconsistent, "
        f"{summary.read_errors} read errors, {summary.skipped} skipped; "
        f"{summary.not_converged} not converged"
    )
    out.print(f"wrote {output} in {seconds:.1f} s")


def _names(pattern: str, bare: str) -> NamePattern:
    """Compile ``--pattern`` with ``--bare``; a bad value is a one-line error naming the option."""
    names = NamePattern(pattern, bare)
    try:
        names.regex  # noqa: B018 - compiling checks the pattern and the bare token
    except ArscInputError as exc:
        option = "--bare" if str(exc).startswith("bare-site token") else "--pattern"
        raise ArscInputError(f"{option}: {exc}") from None
    return names


def _run(
    root: Path,
    output: Path,
    engine: Engine,
    pattern: str,
    bare: str,
    as_json: bool,
    verbose: bool,
    force: bool,
) -> None:
    start = time.perf_counter()
    names = _names(pattern, bare)
    check_root(root, engine)
    check_output(output, [root], kind=TABLE_KIND, force=force)
    result = ingest_runs(root, engine, pattern, bare)
    write_table(result.rows, output)
    seconds = time.perf_counter() - start
    if as_json:
        doc = {
            "output": str(output),
            "seconds": round(seconds, 3),
            **result.summary().model_dump(),
            "errors": result.errors,
            "skipped_paths": result.skipped,
        }
        typer.echo(json.dumps(doc))
    else:
        _report(result, output, seconds, names.hint(), verbose)
    if not any(r.readable for r in result.rows):
        raise ArscInputError(
            f"none of the {len(result.rows)} calculations under {str(root)!r} could be read; "
            f"the reasons are in {str(output)!r}"
        )


@ingest_app.command("vasp")
def vasp(
    root: RootArg,
    output: OutputOpt = Path("energies.csv"),
    pattern: PatternOpt = "{site}_{adsorbate}",
    bare: BareOpt = BARE,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
    force: ForceOpt = False,
) -> None:
    """Ingest VASP folders (OSZICAR, vasprun.xml or OUTCAR + INCAR) into an energies table."""
    _run(root, output, "vasp", pattern, bare, as_json, verbose, force)


@ingest_app.command("gpaw")
def gpaw(
    root: RootArg,
    output: OutputOpt = Path("energies.csv"),
    pattern: PatternOpt = "{site}_{adsorbate}",
    bare: BareOpt = BARE,
    engine: Annotated[
        AseEngine, typer.Option("--engine", help="Engine recorded in the table: gpaw or mlip.")
    ] = AseEngine.gpaw,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
    force: ForceOpt = False,
) -> None:
    """Ingest ASE files (.traj, .extxyz, .xyz, .gpw) of GPAW or MLIP runs into an energies table."""
    _run(root, output, ASE_ENGINES[engine], pattern, bare, as_json, verbose, force)


def register(app: typer.Typer) -> None:
    """Add the ``ingest`` sub-app to the app."""
    app.add_typer(ingest_app, name="ingest")
