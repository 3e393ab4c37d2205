"""Verbs about CHE free energies: ``arsc activity`` and ``arsc corrections``."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from arsc.errors import ArscInputError
from arsc.outputs import PNG, check_output, csv_with, write_text_atomic
from arsc.thermo import (
    ActivityReport,
    EnergyColumn,
    References,
    compute_activity,
    load_references,
    read_energies,
)
from arsc.thermo.references import CHE_TEMPERATURE, REFERENCES_TABLE, dump_references
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
        out.print(
            f"  UNCORRECTED: no free-energy correction for {', '.join(summary['uncorrected'])} "
            f"(0 eV; {summary['uncorrected_sites']} sites affected, column `uncorrected`)"
        )
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


def _diagram(report: ActivityReport, site: str | None, path: Path) -> str:
    """Draw the diagram of one site (default: the best computed one); return the site drawn."""
    from arsc.thermo.diagram import site_diagrams, write_diagrams

    by_site = {r.site: r for r in report.results}
    if site is None:
        best = report.summary(top=1)["best"]
        if not best:
            raise ArscInputError(
                f"--diagram: no site has a computed {report.reaction} overpotential; "
                "name one with --site"
            )
        site = str(best[0]["site"])
    if site not in by_site:
        shown = ", ".join(list(by_site)[:10]) + (", ..." if len(by_site) > 10 else "")
        raise ArscInputError(f"--site {site!r} is not in the energies table; sites: {shown}")
    result = by_site[site]
    found = site_diagrams(site, result.dg, report.reaction)
    if result.uncorrected:  # the dG carry no correction: say so on the figure
        note = f"\nno ZPE-TS correction: {', '.join('*' + x for x in result.uncorrected)}"
        found = [replace(d, title=d.title + note) for d in found]
    write_diagrams(found, path, title=f"{report.reaction.upper()} free-energy diagram (CHE)")
    return site


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
    allow_uncorrected: Annotated[
        bool,
        typer.Option(
            "--allow-uncorrected",
            help="Compute intermediates the references give no ZPE-TS correction for with "
            "0 eV; they are listed per site (column uncorrected) and in the summary.",
        ),
    ] = False,
    diagram: Annotated[
        Path | None,
        typer.Option(
            "--diagram",
            help="Draw the free-energy diagram (PNG) of one site, limiting step marked.",
        ),
    ] = None,
    site: Annotated[
        str | None,
        typer.Option("--site", help="Site of --diagram (default: the best computed site)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object (summary and rows).")
    ] = False,
    force: ForceOpt = False,
) -> None:
    """Free energies, limiting potential and overpotential per site (CHE)."""
    inputs: list[str | Path] = [energies, *([references] if Path(references).is_file() else [])]
    if output is not None:
        check_output(output, inputs, option="-o", kind=ACTIVITY_TABLE, force=force)
    if diagram is not None:
        check_output(diagram, [*inputs, *([output] if output else [])], "--diagram", PNG, force)
    elif site is not None:
        raise ArscInputError("--site names the site of --diagram; give --diagram FILE.png")
    refs = load_references(references)
    table = read_energies(energies)
    report = compute_activity(
        table,
        reaction,
        refs,
        energy=energy.value,
        include_inconsistent=include_inconsistent,
        source=f"energies table {str(energies)!r}",
        allow_uncorrected=allow_uncorrected,
    )
    frame = report.table()
    if output is not None:
        write_text_atomic(output, frame.to_csv(index=False))
    drawn = _diagram(report, site, diagram) if diagram is not None else None
    summary = report.summary()
    if as_json:
        doc = {**summary, "output": str(output) if output else None}
        if diagram is not None:
            doc["diagram"] = {"path": str(diagram), "site": drawn}
        doc["results"] = frame.drop(columns=["steps"]).to_dict("records")
        typer.echo(json.dumps(json_clean(doc)))
        return
    _print_summary(summary, output)
    if diagram is not None:
        console().print(f"drew the {report.reaction} diagram of {drawn} to {diagram}")


def corrections(
    structures: Annotated[
        list[Path],
        typer.Argument(
            help="Adsorbed states (extxyz from `arsc build SITE -a X`, or relaxed ones "
            "carrying the same tags and info): one per intermediate."
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="References table to write (YAML).")
    ],
    base: Annotated[
        str,
        typer.Option(
            "--base",
            help="References table giving the molecule energies (and the corrections of "
            "intermediates not analysed here).",
        ),
    ] = "vasp-pbe",
    engine: Annotated[
        str, typer.Option("--engine", help="Calculator: mlip (CPU) or gpaw.")
    ] = "mlip",
    model: Annotated[str, typer.Option("--model", help="MLIP model (engine mlip).")] = "chgnet",
    preset: Annotated[str, typer.Option("--preset", help="GPAW preset (engine gpaw).")] = "fast",
    relax: Annotated[
        bool,
        typer.Option(
            "--relax/--no-relax", help="Relax the adsorbate (site fixed) before the displacements."
        ),
    ] = True,
    name: Annotated[
        str | None, typer.Option("--name", help="Name of the new table (default: file stem).")
    ] = None,
    scratch: Annotated[
        Path | None,
        typer.Option("--scratch", help="Folder for cached force calls (resumable)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the analyses and corrections as JSON.")
    ] = False,
    force: ForceOpt = False,
) -> None:
    """Compute Delta(ZPE - TS) corrections by harmonic vibrations into a references table."""
    from arsc.thermo.vibrations import corrections_table
    from workflows.engines.vibrations import VibrationsMaker, analyse_states, read_atoms

    check_output(output, [*structures, *([base] if Path(base).is_file() else [])], "-o",
                 REFERENCES_TABLE, force)  # fmt: skip
    base_refs = load_references(base)
    states = [read_atoms(path) for path in structures]  # every file read before any work
    maker = VibrationsMaker(
        engine=engine,
        model=model,
        preset=preset,
        relax=relax,
        scratch_dir=str(scratch) if scratch else None,
    )
    adsorbates, gases = analyse_states(maker, states)
    refs = corrections_table(adsorbates, gases, base_refs, name or output.stem, CHE_TEMPERATURE)
    note = "arsc corrections " + " ".join(str(p) for p in structures)
    write_text_atomic(output, dump_references(refs, note=note))
    if as_json:
        doc = {
            "output": str(output),
            "corrections": {k: refs.corrections[k] for k in adsorbates},
            "analyses": [a.model_dump() for a, _ in [*adsorbates.values(), *gases.values()]],
        }
        typer.echo(json.dumps(json_clean(doc)))
        return
    _print_corrections(refs, base_refs, adsorbates, output)


def _print_corrections(
    refs: References, base: References, adsorbates: dict[str, Any], output: Path
) -> None:
    table = Table(title=f"Delta(ZPE - TS) at {CHE_TEMPERATURE} K (eV)")
    for col in ("intermediate", "ZPE", "TS", "correction", base.name):
        table.add_column(col)
    for x, (_, terms) in adsorbates.items():
        lit = base.corrections.get(x)
        table.add_row(
            x,
            f"{terms.zpe:.3f}",
            f"{terms.ts:.3f}",
            f"{refs.corrections[x]:.3f}",
            "-" if lit is None else f"{lit:.2f}",
        )
    out = console()
    out.print(table)
    out.print(f"wrote references table {refs.name!r} to {output}")


def register(app: typer.Typer) -> None:
    """Add this module's verbs to the app."""
    app.command("activity")(activity)
    app.command("corrections")(corrections)
