"""Verb about CHE free energies: ``arsc activity``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from arsc.outputs import check_output, csv_with, write_text_atomic
from arsc.thermo import EnergyColumn, compute_activity, load_references, read_energies
from workflows.cli.options import ForceOpt, console, json_clean

#: What ``arsc activity -o`` writes; an existing file with these columns may be replaced.
ACTIVITY_TABLE = csv_with(
    "site", "reaction", "overpotential", "U_L", "limiting_step", name="activity table (CSV)"
)


def _print_summary(summary: dict[str, Any], output: Path | None) -> None:
    out = console()
    out.print(
        f"{summary['reaction']}: {summary['sites']} sites, {summary['computed']} computed, "
        f"{summary['nan']} NaN (references {summary['references']}, energy {summary['energy']})"
    )
    for cause, n in summary["nan_causes"].items():
        out.print(f"  NaN because {cause}: {n} sites")
    if summary["inconsistent_sites"]:
        what = "used" if summary["include_inconsistent"] else "excluded"
        out.print(f"  {summary['inconsistent_sites']} sites with inconsistent rows ({what})")
    if summary["uncorrected"]:
        out.print(f"  no free-energy correction for {', '.join(summary['uncorrected'])} (0 eV)")
    if "products" in summary:
        out.print("  products: " + ", ".join(f"{k} {v}" for k, v in summary["products"].items()))
    if summary["best"]:
        table = Table(title="best sites")
        for col in ("site", "overpotential (V)", "U_L (V)", "limiting step"):
            table.add_column(col)
        for b in summary["best"]:
            table.add_row(
                b["site"], f"{b['overpotential']:.3f}", f"{b['U_L']:.3f}", b["limiting_step"]
            )
        out.print(table)
    if output is not None:
        out.print(f"wrote {summary['sites']} sites to {output}")


def activity(
    energies: Annotated[Path, typer.Argument(help="Energies table (CSV, one row per run).")],
    references: Annotated[
        str,
        typer.Option(
            "--references",
            help="Reference energies: a packaged name (vasp-pbe) or a YAML file, "
            "at the DFT level of the slabs.",
        ),
    ],
    reaction: Annotated[
        str,
        typer.Option(
            "--reaction",
            "-r",
            help="Reaction in arsc/data/reactions.yaml: orr, oer, her, crr, nrr, bifunctional.",
        ),
    ] = "orr",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the per-site table (CSV).")
    ] = None,
    energy: Annotated[
        EnergyColumn, typer.Option("--energy", help="Energy column: e0 (sigma->0) or f.")
    ] = EnergyColumn.e0,
    include_inconsistent: Annotated[
        bool,
        typer.Option(
            "--include-inconsistent", help="Use rows flagged inconsistent (they stay flagged)."
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object (summary and rows).")
    ] = False,
    force: ForceOpt = False,
) -> None:
    """Free energies, limiting potential and overpotential per site (CHE)."""
    if output is not None:
        inputs: list[str | Path] = [energies, *([references] if Path(references).is_file() else [])]
        check_output(output, inputs, option="-o", kind=ACTIVITY_TABLE, force=force)
    refs = load_references(references)
    table = read_energies(energies)
    report = compute_activity(
        table,
        reaction,
        refs,
        energy=energy.value,
        include_inconsistent=include_inconsistent,
        source=f"energies table {str(energies)!r}",
    )
    frame = report.table()
    if output is not None:
        write_text_atomic(output, frame.to_csv(index=False))
    summary = report.summary()
    if as_json:
        doc = {**summary, "output": str(output) if output else None}
        doc["results"] = frame.drop(columns=["steps"]).to_dict("records")
        typer.echo(json.dumps(json_clean(doc)))
        return
    _print_summary(summary, output)


def register(app: typer.Typer) -> None:
    """Add this module's verbs to the app."""
    app.command("activity")(activity)
