"""The ``arsc campaign`` verbs: run, resume and validate a screening campaign.

``arsc campaign replay`` (offline benchmark of acquisition strategies) lives
in :mod:`workflows.cli.campaign_replay` and joins this group when present.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from workflows.cli.options import bounded, console, json_clean
from workflows.formatting import significant

if TYPE_CHECKING:  # the loop (jobflow, back-ends) and the report load when a verb runs
    from workflows.campaign.loop import Campaign
    from workflows.campaign.state import CampaignState

DirArg = Annotated[
    Path, typer.Argument(help="Campaign folder (holds state.json).", show_default=True)
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
ProgressOpt = Annotated[
    bool, typer.Option("--progress/--no-progress", help="Progress lines and bars on stderr.")
]
#: Most DFT calculations a budget may name (workflows.campaign.definition.MAX_CALCULATIONS).
MAX_BUDGET = 10_000_000
#: ``--budget``
BudgetOpt = Annotated[
    int | None,
    typer.Option(
        "--budget",
        callback=bounded(1, MAX_BUDGET),
        help=f"DFT calculations, 1..{MAX_BUDGET:,} (overrides the campaign file); it must buy "
        "at least one site (its states plus the gas references).",
    ),
]


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def accounting_line(state: CampaignState) -> str:
    """Return one line: what was spent, what it resolved, what it claims, by which protocol.

    A saving against an exhaustive screen is claimed only for an optimum the
    stopping rule's test confirms (:func:`workflows.campaign.outcome.claim_text`);
    otherwise the line says why the campaign stopped and what is unresolved.
    """
    from workflows.campaign.outcome import state_claim, state_protocol_line

    a = state.accounting
    n_sites = state.space.sites if state.space else 0
    per = a.core_hours_per_calculation
    kind = "DFT" if state.definition.dft.is_dft else "MLIP"  # say what it spent
    hours, per_calc, whole_hours = (
        significant(x, "-") for x in (a.core_hours, per, a.exhaustive_core_hours)
    )
    spent = f"{a.dft_calculations} {kind} calculations, {hours} core-hours"
    if per is not None:
        spent += f" (measured {per_calc} core-hours per calculation)"
    whole = (
        f"an exhaustive screen of the {n_sites} candidates needs {a.exhaustive_calculations} "
        f"calculations, {whole_hours} core-hours"
    )
    claim = state_claim(state) if a.dft_calculations else "nothing computed yet"
    return f"accounting: {spent}; {whole}; {claim}; {state_protocol_line(state)}"


def top_table(state: CampaignState, top: int | None = None) -> Table:
    """Return a table of the best candidates, in the ranking's one order (see ranking_note)."""
    from arsc.thermo.quantities import quantity_unit
    from workflows.campaign.outcome import resolution

    spec = state.definition.objective
    unit = quantity_unit(spec.quantity)
    table = Table(title=f"top candidates: {spec.quantity} of {spec.reaction} ({spec.goal})")
    kind = "DFT" if state.definition.dft.is_dft else "MLIP"  # replayed tables count as DFT
    unresolved = set(resolution(state).unresolved)
    table.add_column("rank")
    table.add_column("site", no_wrap=True)
    table.add_column(f"{spec.quantity} ({unit})", min_width=min(len(spec.quantity), 16))
    table.add_column("std")
    table.add_column("ranked by")
    table.add_column("could beat best", max_width=10)
    for row in state.ranking[: top or state.definition.report.top]:
        dft = row.source == "dft"
        table.add_row(
            str(row.rank),
            row.site,
            _fmt(row.value),
            _fmt(row.value_std, 2),
            f"{kind} value" if dft else "ARSC mean",
            "-" if dft else ("yes" if row.site in unresolved else "no"),
        )
    return table


def write_report_of(campaign: Campaign) -> tuple[Path, bool]:
    """Write the report of a finished campaign if the report package is there.

    Returns
    -------
    tuple
        (path of the report page, whether it was written).
    """
    try:
        from workflows.report import write_report
    except ImportError:
        return campaign.folder / "report" / "index.html", False
    return Path(write_report(campaign.folder)), True


def print_outcome(campaign: Campaign, as_json: bool) -> None:
    """Write the report of a finished campaign, then print the end of a run.

    Top candidates, accounting and the report path (or one JSON object).
    """
    from workflows.campaign.loop import describe
    from workflows.campaign.outcome import ranking_note

    state = campaign.state
    report, written = write_report_of(campaign) if state.status == "finished" else (None, False)
    if as_json:
        where = None if report is None else str(report)
        payload = {**describe(state), "folder": str(campaign.folder), "report": where}
        typer.echo(json.dumps(json_clean(payload), allow_nan=False))
        return
    out = console()
    if state.status != "finished":
        out.print(f"campaign {state.definition.name!r} not finished (status {state.status})")
        return
    out.print(top_table(state))
    out.print(ranking_note(state))
    out.print(f"stopped: {state.stop_reason} after {len(state.rounds)} round(s)")
    out.print(accounting_line(state))
    if written:
        out.print(f"report: {report}")
    else:
        out.print(f"report: not written yet (`arsc report {campaign.folder}` writes {report})")


def run(
    file: Annotated[str, typer.Argument(help="Campaign YAML file, or a packaged campaign name.")],
    folder: Annotated[
        Path | None,
        typer.Option("--dir", "-d", help="Campaign folder (default ./campaign-<name>)."),
    ] = None,
    budget: BudgetOpt = None,
    progress: ProgressOpt = True,
    as_json: JsonOpt = False,
) -> None:
    """Run a campaign to its end; rerunning the same campaign continues it.

    The campaign file is checked whole (every problem in one line) before the
    campaign folder is created.
    """
    from workflows.campaign.definition import read_definition, resolve_campaign, with_overrides
    from workflows.campaign.loop import run_campaign, start_campaign

    path = resolve_campaign(file)
    definition = with_overrides(read_definition(path), budget__dft_calculations=budget)
    target = folder or Path(f"campaign-{definition.name}")
    campaign = start_campaign(
        definition, target, source=path, show_progress=progress, option="--dir"
    )
    run_campaign(campaign)
    print_outcome(campaign, as_json)


def resume(
    folder: DirArg = Path("."),
    progress: ProgressOpt = True,
    as_json: JsonOpt = False,
) -> None:
    """Continue a campaign from its state (after a crash or kill); nothing finished reruns."""
    from workflows.campaign.loop import resume_campaign, run_campaign

    campaign = resume_campaign(folder, show_progress=progress)
    run_campaign(campaign)
    print_outcome(campaign, as_json)


def _validation_rows(state: CampaignState, folder: Path) -> list[dict[str, Any]]:
    from workflows.campaign.validation import validate_round

    k = state.definition.report.validate_k
    rows = []
    for rnd in state.rounds:
        if rnd.step not in ("ingest", "refit", "check") or not rnd.results:
            continue
        val = validate_round(state, rnd.index, folder, k)
        rows.append(
            {
                "round": rnd.index,
                "model": rnd.model_kind,
                "sites": [r.site for r in rnd.results],
                "quantities": {q: m.model_dump() for q, m in val.quantities.items()},
                "cumulative": {q: m.model_dump() for q, m in val.cumulative.items()},
                "parity_plot": None if val.parity_plot is None else str(folder / val.parity_plot),
            }
        )
    return rows


def validate(folder: DirArg = Path("."), as_json: JsonOpt = False) -> None:
    """ARSC predictions made before each batch vs the DFT that followed, per round."""
    from workflows.campaign.state import load_state

    state = load_state(folder)
    rows = _validation_rows(state, folder)
    if as_json:
        payload = {"campaign": state.definition.name, "folder": str(folder), "rounds": rows}
        typer.echo(json.dumps(json_clean(payload), allow_nan=False))
        return
    out = console()
    table = Table(title=f"campaign {state.definition.name!r}: ARSC before each batch vs DFT")
    for col in ("round", "model", "quantity", "n", "MAE", "Spearman", "top-k kept", "within 2 sd"):
        table.add_column(col)
    for row in rows:
        for q, m in row["quantities"].items():
            topk = "-" if m["k"] is None else f"{m['topk_retained']}/{m['k']}"
            table.add_row(
                str(row["round"]),
                row["model"],
                q,
                str(m["n"]),
                _fmt(m["mae"]),
                _fmt(m["spearman"], 2),
                topk,
                _fmt(m["within_2sigma"], 2),
            )
    out.print(table)
    if not rows:
        out.print("no round has DFT results yet")
    for row in rows:
        if row["parity_plot"]:
            out.print(f"round {row['round']} parity plot: {row['parity_plot']}")


def _register_replay(group: typer.Typer) -> None:
    """Add ``arsc campaign replay`` from its own module when it exists."""
    name = "workflows.cli.campaign_replay"
    if importlib.util.find_spec(name) is not None:
        importlib.import_module(name).register_replay(group)


def register(app: typer.Typer) -> None:
    """Add the ``arsc campaign`` group to the app."""
    group = typer.Typer(
        name="campaign",
        help="Screening campaigns: run, resume, validate (and replay benchmarks).",
        no_args_is_help=True,
    )
    group.command("run")(run)
    group.command("resume")(resume)
    group.command("validate")(validate)
    _register_replay(group)
    app.add_typer(group, name="campaign")
