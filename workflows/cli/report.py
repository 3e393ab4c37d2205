"""``arsc report CAMPAIGN``: the campaign's self-contained HTML report and its PNG figures."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer

from arsc.errors import ArscInputError
from workflows.cli.options import ForceOpt, console


def campaign_folder(campaign: Path) -> Path:
    """Return the campaign folder, also when its state file itself is given.

    Raises
    ------
    ArscInputError
        One line naming the path given: it does not exist, is a file other
        than a campaign's ``state.json``, or a folder without one.
    """
    from workflows.campaign.state import STATE_FILE

    shown = repr(str(campaign))
    hint = f"give a campaign folder (it holds {STATE_FILE}, written by `arsc campaign run`)"
    if not campaign.exists():
        raise ArscInputError(f"campaign folder {shown} does not exist; {hint}")
    if campaign.is_file():
        if campaign.name != STATE_FILE:
            raise ArscInputError(f"{shown} is a file, not a campaign folder; {hint}")
        return campaign.parent
    if not (campaign / STATE_FILE).is_file():
        raise ArscInputError(
            f"{shown} is not a campaign folder: {STATE_FILE} not found in it; {hint}"
        )
    return campaign


def report(
    campaign: Annotated[
        Path, typer.Argument(help="Campaign folder (holds state.json), or its state.json.")
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Report folder (default: CAMPAIGN/report); report.html and the PNGs in it "
            "are replaced, other files of those names only with --force.",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object (paths, funnel, accounting).")
    ] = False,
    force: ForceOpt = False,
) -> None:
    """Write the campaign report: one HTML page with the figures embedded, plus the PNGs."""
    from workflows.report import make_report

    rep = make_report(campaign_folder(campaign), output, force=force, option="-o")
    acc, funnel = rep.data.accounting, rep.data.funnel
    if as_json:
        doc = {
            "report": str(rep.page),
            "figures": {k: str(v) for k, v in rep.figures.items()},
            "funnel": {label: count for label, count in funnel.stages()},
            "accounting": {
                "dft_calculations": acc.calculations,
                "core_hours": _finite(acc.core_hours),
                "exhaustive_calculations": acc.exhaustive_calculations,
                "exhaustive_core_hours": _finite(acc.exhaustive_core_hours),
                "ratio": _finite(acc.ratio),
                "saved_fraction": _finite(acc.saved_fraction),
                "saving_claimed": acc.confirmed,  # ratio and fraction are claims only then
                "claim": acc.claim,
                "protocol": acc.protocol,
                "protocol_note": acc.protocol_note,
            },
            "seconds": rep.seconds,
        }
        typer.echo(json.dumps(doc))
        return
    from workflows.report.html import accounting_line

    out = console()
    out.print(
        "funnel: "
        + " -> ".join(f"{label} {count:,}" for label, count in funnel.stages())
        + f" ({funnel.pruned:,} pruned)"
    )
    out.print(accounting_line(acc))
    out.print(f"{len(rep.figures)} figures, built in {rep.seconds:.1f} s")
    out.print(f"report: {rep.page}")


def _finite(value: float) -> float | None:
    """Return the value, or None where JSON cannot hold it (NaN, inf)."""
    return value if math.isfinite(value) else None


def register(app: typer.Typer) -> None:
    """Add this module's verbs to the app."""
    app.command("report")(report)
