"""Verbs that run DFT flows and read their results: ``arsc run``, ``arsc results``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from arsc.errors import ArscInputError
from workflows.cli.options import (
    ListOpt,
    MinImageOpt,
    ModesOpt,
    PlacementsOpt,
    PrerelaxEngineOpt,
    PrerelaxOpt,
    PrerelaxWeightsOpt,
    ProtocolOpt,
    console,
    flow_knobs,
    json_clean,
    split_list,
)
from workflows.settings import ArscSettings, get_settings

if TYPE_CHECKING:  # the heavy modules (jobflow, flows, engines) load when a verb runs
    from workflows.executors.local import RunRequest

ProjectOpt = Annotated[
    Path | None,
    typer.Option("--project", help="Project folder (store, last request); default from settings."),
]


def tuned_weights(knobs: dict[str, Any], settings: ArscSettings) -> dict[str, Any]:
    """Give a tuned protocol the project's fine-tuned weights when no --prerelax-weights is given.

    Raises
    ------
    ArscInputError
        The project has no fine-tuned model (``arsc finetune`` writes it).
    """
    from workflows.protocols import get_protocol

    name = knobs.get("protocol")
    if name is None or knobs.get("prerelax_weights") is not None or not get_protocol(name).tuned:
        return knobs
    from workflows.cli.finetune import MODELS_FOLDER
    from workflows.engines.finetune import WEIGHTS_NAME

    path = settings.project / MODELS_FOLDER / WEIGHTS_NAME
    if not path.is_file():
        raise ArscInputError(
            f"--protocol {name} relaxes with CHGNet fine-tuned on the project's DFT frames, "
            f"but {path} does not exist; run `arsc finetune` first or give --prerelax-weights"
        )
    return {**knobs, "prerelax_weights": str(path.absolute())}


def _request(
    site_ids: list[str] | None,
    resume: bool,
    settings: ArscSettings,
    explicit: dict[str, Any],
    knobs: dict[str, Any],
) -> RunRequest:
    from workflows.executors.local import RunRequest

    if resume:
        given = [f"--{k.replace('_', '-')}" for k, v in explicit.items() if v is not None]
        if site_ids or given:
            what = ", ".join((["SITE_IDS"] if site_ids else []) + given)
            raise ArscInputError(
                f"--resume reruns the recorded request; drop {what} "
                "(or start a new request without --resume)"
            )
        return RunRequest.load(settings.project)
    if not site_ids:
        raise ArscInputError("give SITE_IDS (e.g. Fe-Co_qv-n6_graphene) or --resume")
    return RunRequest.of(site_ids, settings.flow_options(**knobs))


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _protocol_cell(name: str | None, success_rate: float | None) -> str:
    """``sp (success not measured)``, ``full (success 92 %)``, or ``-`` for older documents."""
    if name is None:
        return "-"
    if success_rate is None:
        return f"{name} (success not measured)"
    return f"{name} (success {100 * success_rate:.0f} %)"


def _site_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="sites")
    table.add_column("site", no_wrap=True)  # ids stay whole, to be copied
    for col in ("protocol", "reaction", "overpotential (V)", "U_L (V)", "limiting step"):
        table.add_column(col)
    for col in ("states ok", "consistent", "d-band centre (eV)"):
        table.add_column(col)
    for row in rows:
        centres = ", ".join(f"{m} {_fmt(c, 2)}" for m, c in row["dband_centre"].items())
        acts = row["activity"] or {"-": {}}
        for reaction, act in acts.items():
            table.add_row(
                row["site"],
                _protocol_cell(row.get("protocol"), row.get("protocol_success_rate")),
                reaction,
                _fmt(act.get("overpotential")),
                _fmt(act.get("limiting_potential")),
                act.get("limiting_step") or "-",
                f"{row['states_ok']}/{row['states']}",
                "yes" if row["consistent"] else "no",
                centres or "-",
            )
    return table


def run(
    site_ids: Annotated[
        list[str] | None, typer.Argument(help="Site ids, e.g. Fe-Co_qv-n6_graphene.")
    ] = None,
    reactions: Annotated[
        ListOpt,
        typer.Option(
            "--reactions", "-r", help="Reactions: orr, oer, her, crr, nrr (default from settings)."
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option("--engine", help="DFT engine: gpaw, vasp or mlip (default from settings)."),
    ] = None,
    preset: Annotated[
        str | None, typer.Option("--preset", help="Engine preset, e.g. fast (default: engine's).")
    ] = None,
    project: ProjectOpt = None,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Rerun the project's last request; finished work is reused."),
    ] = False,
    retry_failed: Annotated[
        bool,
        typer.Option("--retry-failed", help="Recompute calculations that failed before."),
    ] = False,
    prerelax: PrerelaxOpt = None,
    prerelax_engine: PrerelaxEngineOpt = None,
    prerelax_weights: PrerelaxWeightsOpt = None,
    min_image: MinImageOpt = None,
    modes: ModesOpt = None,
    protocol: ProtocolOpt = None,
    placements: PlacementsOpt = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar on stderr.")
    ] = True,
) -> None:
    """Run the adsorption flow for sites locally; --resume continues the last request.

    Every calculation's job records the protocol (``--protocol``) and the MLIP
    weights (file, SHA-256) in its metadata.
    """
    from workflows.executors.local import run_local, unfinished
    from workflows.results import site_docs, site_row
    from workflows.store import make_store

    knobs = flow_knobs(prerelax, prerelax_engine, prerelax_weights, min_image, modes, protocol)
    knobs["placements"] = placements
    explicit = {
        "reactions": split_list(reactions, "--reactions"),
        "engine": engine,
        "preset": preset,
        **knobs,
    }
    settings = get_settings(
        project=project, engine=engine, preset=preset, reactions=explicit["reactions"]
    )
    if not resume:
        knobs = tuned_weights(knobs, settings)
    request = _request(site_ids, resume, settings, explicit, knobs)
    flow = request.flow()
    if not resume:
        request.save(settings.project)
    store = make_store(settings)
    runs = settings.project / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    responses = run_local(flow, store, progress, retry_failed=retry_failed, root_dir=runs)
    out = console()
    wanted = set(request.site_ids())
    rows = [site_row(d) for d in site_docs(store) if d.site_id in wanted]
    out.print(_site_table(rows))
    left = unfinished(flow, responses)
    if left:
        out.print(
            f"{len(left)} jobs did not finish (they raised, or need one that did), e.g. "
            f"{left[0]!r}; `arsc run --resume` retries them"
        )
        raise typer.Exit(1)


def _calc_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="calculations")
    cols = ("site", "adsorbate", "mode", "engine", "task", "status", "energy (eV)", "fingerprint")
    for col in cols:
        table.add_column(col, justify="right" if col == "energy (eV)" else "left")
    for r in rows:
        table.add_row(
            r["site"],
            r["adsorbate"],
            r["mode"] or "-",
            r["engine"],
            r["task"],
            r["status"] if r["status"] == "ok" else f"{r['status']}: {r['error']}",
            _fmt(r["energy"], 4),
            r["fingerprint"],
        )
    return table


def results(
    project: ProjectOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object (calculations, sites).")
    ] = False,
) -> None:
    """List what the job store holds: one row per calculation, then per-site summaries."""
    from workflows.results import calculations, site_docs, site_row
    from workflows.store import is_embedded, make_store

    settings = get_settings(project=project)
    if is_embedded(settings) and not settings.store_path().is_file():
        raise ArscInputError(
            f"no job store in project {str(settings.project)!r} "
            f"({settings.store_path()} does not exist); run `arsc run` first"
        )
    store = make_store(settings)
    store.connect()
    try:
        calcs = calculations(store)
        sites = [site_row(d) for d in site_docs(store)]
    finally:
        store.close()
    if as_json:
        payload = {"project": str(settings.project), "calculations": calcs, "sites": sites}
        typer.echo(json.dumps(json_clean(payload), allow_nan=False))
        return
    out = console()
    out.print(_calc_table(calcs))
    if sites:
        out.print(_site_table(sites))
    ok = sum(r["status"] == "ok" for r in calcs)
    out.print(f"{len(calcs)} calculations ({ok} ok, {len(calcs) - ok} failed), {len(sites)} sites")


def register(app: typer.Typer) -> None:
    """Add this module's verbs to the app."""
    app.command("run")(run)
    app.command("results")(results)
