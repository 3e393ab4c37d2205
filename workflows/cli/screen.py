"""``arsc screen``: the packaged default campaign, end to end, on the embedded defaults.

With no arguments it runs ``workflows/data/campaigns/default.yaml``: five 3d
metals in the qv-n6 pocket, bifunctional ORR/OER, the local executor with
the embedded job store, GPAW's fast preset on MLIP-relaxed structures, a
DFT budget of two sites (docs/campaign.md says why). ``--engine mlip`` swaps
GPAW for the MLIP (minutes instead of a quarter of an hour).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workflows.cli.campaign import BudgetOpt, JsonOpt, ProgressOpt, print_outcome

#: Packaged campaign run by ``arsc screen``.
DEFAULT_CAMPAIGN = "default"


def screen(
    engine: Annotated[
        str | None,
        typer.Option("--engine", help="DFT engine: gpaw (default campaign) or mlip (quick)."),
    ] = None,
    project: Annotated[
        Path | None,
        typer.Option("--project", help="Campaign folder (default ./arsc-screen-<engine>)."),
    ] = None,
    budget: BudgetOpt = None,
    campaign: Annotated[
        str,
        typer.Option("--campaign", help="Packaged campaign name or YAML file to run instead."),
    ] = DEFAULT_CAMPAIGN,
    progress: ProgressOpt = True,
    as_json: JsonOpt = False,
) -> None:
    """Screen dual-atom catalysts end to end: ARSC prunes, DFT confirms, the report shows."""
    from workflows.campaign.definition import read_definition, resolve_campaign, with_overrides
    from workflows.campaign.loop import run_campaign, start_campaign

    path = resolve_campaign(campaign)
    base = read_definition(path)
    other = engine is not None and engine != base.dft.engine
    definition = with_overrides(  # another engine runs with its own default preset
        base,
        unset=("dft__preset",) if other else (),
        dft__engine=engine,
        budget__dft_calculations=budget,
    )
    folder = project or Path(f"arsc-screen-{definition.dft.engine}")
    run = start_campaign(
        definition, folder, source=path, show_progress=progress, option="--project"
    )
    run_campaign(run)
    print_outcome(run, as_json)


def register(app: typer.Typer) -> None:
    """Add ``arsc screen`` to the app."""
    app.command("screen")(screen)
