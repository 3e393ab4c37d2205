"""Verbs that scale out through FireWorks and SLURM: ``submit``, ``status``, ``resume``."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from arsc.outputs import OutputKind, check_output
from workflows.cli.options import (
    ForceOpt,
    ListOpt,
    MinImageOpt,
    ModesOpt,
    PlacementsOpt,
    PrerelaxEngineOpt,
    PrerelaxOpt,
    PrerelaxWeightsOpt,
    ProtocolOpt,
    bounded,
    console,
    flow_knobs,
    split_list,
)
from workflows.settings import get_settings

#: An existing queue-adapter YAML that ``--write-qadapter`` may replace.
QADAPTER = OutputKind("FireWorks queue adapter (YAML)", lambda p: "_fw_name" in p.read_text())

if TYPE_CHECKING:  # jobflow, FireWorks and the engines load when a verb runs
    from workflows.executors.queue import QueueSettings
    from workflows.executors.submission import LaunchReport


class Executor(StrEnum):
    """Executors of ``arsc submit`` (``arsc run`` runs locally)."""

    fireworks = "fireworks"


LaunchpadOpt = Annotated[
    Path | None,
    typer.Option("--launchpad", help="FireWorks LaunchPad YAML (default ./launchpad.yaml)."),
]
QadapterOpt = Annotated[
    Path | None,
    typer.Option("--qadapter", help="Queue settings YAML (default: the packaged SLURM one)."),
]
ProjectOpt = Annotated[
    Path | None,
    typer.Option("--project", help="Project folder (job store, launcher folders)."),
]
NoLaunchOpt = Annotated[
    bool, typer.Option("--no-launch", help="Only update the LaunchPad; queue no worker job.")
]
MaxJobsOpt = Annotated[
    int,
    typer.Option(
        "--max-jobs", callback=bounded(1, 10000), help="Most worker jobs queued at once (1-10000)."
    ),
]
LostAfterOpt = Annotated[
    float,
    typer.Option(
        "--lost-after",
        callback=bounded(0.0, 365 * 86400.0, unit="s"),
        help="Seconds without a ping before a run is lost (0 to one year).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
PartitionOpt = Annotated[str | None, typer.Option("--partition", help="SLURM partition.")]
AccountOpt = Annotated[str | None, typer.Option("--account", help="SLURM account.")]
WalltimeOpt = Annotated[
    str | None, typer.Option("--walltime", help="Time limit per worker job, [D-]HH:MM:SS.")
]
JobNameOpt = Annotated[str | None, typer.Option("--job-name", help="SLURM job name.")]


def _queue(qadapter: Path | None, **overrides: Any) -> QueueSettings:
    from workflows.executors.queue import load_queue_settings

    return load_queue_settings(qadapter, overrides)


def _print_launch(report: LaunchReport, launch_dir: Path, lines: list[str]) -> None:
    out = console()
    for line in lines:
        out.print(line)
    if report.queue_jobs:
        how = "one at a time (dependency singleton)" if report.sequential else "in parallel"
        jobs = ", ".join(report.queue_jobs)
        out.print(f"queued {len(report.queue_jobs)} worker jobs {how}: {jobs} (in {launch_dir})")
    else:
        out.print("queued no worker job")
    out.print(f"{report.unfinished} fireworks unfinished; `arsc status` shows their states")


def _notes(store_note: str | None) -> list[str]:
    from workflows.executors.fireworks import mongomock_file

    notes = []
    if mongomock_file():
        notes.append(
            f"LaunchPad backend: mongomock file {mongomock_file()} (tests only; one process at "
            "a time): workers forced sequential (dependency singleton), one worker job"
        )
    if store_note:
        notes.append(store_note)
    return notes


def submit(
    site_ids: Annotated[list[str], typer.Argument(help="Site ids, e.g. Fe-Co_qv-n6_graphene.")],
    engine: Annotated[
        Executor, typer.Option("--engine", help="Executor: fireworks (SLURM through FireWorks).")
    ] = Executor.fireworks,
    reactions: Annotated[
        ListOpt, typer.Option("--reactions", "-r", help="Reactions: orr, oer, her, crr, nrr.")
    ] = None,
    dft_engine: Annotated[
        str | None, typer.Option("--dft-engine", help="DFT engine: gpaw, vasp or mlip.")
    ] = None,
    preset: Annotated[
        str | None, typer.Option("--preset", help="Engine preset (default: the engine's).")
    ] = None,
    launchpad: LaunchpadOpt = None,
    qadapter: QadapterOpt = None,
    project: ProjectOpt = None,
    no_launch: NoLaunchOpt = False,
    max_jobs: MaxJobsOpt = 10,
    prerelax: PrerelaxOpt = None,
    prerelax_engine: PrerelaxEngineOpt = None,
    prerelax_weights: PrerelaxWeightsOpt = None,
    modes: ModesOpt = None,
    min_image: MinImageOpt = None,
    protocol: ProtocolOpt = None,
    placements: PlacementsOpt = None,
    partition: PartitionOpt = None,
    account: AccountOpt = None,
    walltime: WalltimeOpt = None,
    job_name: JobNameOpt = None,
    write_qadapter: Annotated[
        Path | None,
        typer.Option("--write-qadapter", help="Also write a FireWorks qadapter for `qlaunch -q`."),
    ] = None,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Submit the adsorption flow of sites to FireWorks and launch it through SLURM."""
    from workflows.cli.run import tuned_weights
    from workflows.executors.local import RunRequest
    from workflows.executors.queue import write_qadapter as write_file
    from workflows.executors.submission import LAUNCH_FOLDER, adapter_for, require_launchpad
    from workflows.executors.submission import submit as submit_request
    from workflows.store import is_embedded, make_store

    settings = get_settings(
        project=project,
        engine=dft_engine,
        preset=preset,
        reactions=split_list(reactions, "--reactions"),
    )
    settings = settings.model_copy(update={"project": settings.project.absolute()})
    lp_file = require_launchpad(launchpad)
    if write_qadapter is not None:
        check_output(
            write_qadapter,
            [lp_file, *([qadapter] if qadapter else [])],
            option="--write-qadapter",
            kind=QADAPTER,
            force=force,
        )
    queue = _queue(
        qadapter, partition=partition, account=account, walltime=walltime, job_name=job_name
    )
    knobs = flow_knobs(prerelax, prerelax_engine, prerelax_weights, min_image, modes, protocol)
    knobs = tuned_weights({**knobs, "placements": placements}, settings)
    request = RunRequest.of(site_ids, settings.flow_options(**knobs))
    launch_dir = settings.project / LAUNCH_FOLDER
    if write_qadapter is not None:
        write_file(adapter_for(queue, lp_file, launch_dir), write_qadapter)
    store_note = None
    if is_embedded(settings):
        store_note = (
            f"job store: embedded sqlite {settings.store_path()} -- workers must reach this file "
            "(same machine, or a file system with working locks); clusters: store.type mongodb"
        )
    report = submit_request(
        request,
        lp_file,
        queue,
        make_store(settings),
        launch_dir,
        do_launch=not no_launch,
        max_jobs=max_jobs,
    )
    if as_json:
        payload = {"launchpad": str(lp_file), "notes": _notes(store_note), **report.as_dict()}
        typer.echo(json.dumps(payload))
        return
    lines = [f"added {len(report.added)} site flows, skipped {len(report.skipped)} already there"]
    lines += [f"  + {k}" for k in report.added] + [f"  = {k}" for k in report.skipped]
    _print_launch(report, launch_dir, _notes(store_note) + lines)


def _state_table(title: str, first: list[str], rows: list[list[str]]) -> Table:
    table = Table(title=title)
    for col in first:
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    return table


def _status_tables(data: dict[str, Any], show_jobs: bool) -> list[Table]:
    from workflows.executors.submission import STATES

    seen = {s for site in data["sites"] for s in site["states"]}
    states = [s for s in STATES if s in seen] + sorted(seen - set(STATES))
    sites = _state_table(
        "sites",
        ["site", "state", "jobs", *states],
        [
            [s["site"], s["state"], str(s["jobs"]), *(str(s["states"].get(x, 0)) for x in states)]
            for s in data["sites"]
        ],
    )
    tables = [sites]
    if show_jobs:
        cols = ["fw_id", "site", "job", "state", "launches", "worker"]
        rows = [
            [
                str(r["fw_id"]),
                r["site"],
                r["name"].removeprefix(f"{r['site']} "),
                r["state"],
                str(r["launches"]),
                r["worker"],
            ]
            for r in data["jobs"]
        ]
        tables.append(_state_table("jobs", cols, rows))
    return tables


def status(
    launchpad: LaunchpadOpt = None,
    lost_after: LostAfterOpt = 3600.0,
    jobs: Annotated[
        bool, typer.Option("--jobs/--no-jobs", help="Show the per-job table (default yes).")
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Show the state of every submitted site and job (READY, RUNNING, COMPLETED, FIZZLED, LOST)."""
    from workflows.executors.submission import require_launchpad
    from workflows.executors.submission import status as read_status

    data = read_status(require_launchpad(launchpad), lost_after=lost_after)
    if as_json:
        typer.echo(json.dumps(data, default=str))
        return
    out = console()
    for table in _status_tables(data, jobs):
        out.print(table)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(data["counts"].items())) or "no jobs"
    out.print(f"{sum(data['counts'].values())} jobs on {data['backend']} LaunchPad: {counts}")


def resume(
    launchpad: LaunchpadOpt = None,
    qadapter: QadapterOpt = None,
    project: ProjectOpt = None,
    lost_after: LostAfterOpt = 3600.0,
    no_launch: NoLaunchOpt = False,
    max_jobs: MaxJobsOpt = 10,
    partition: PartitionOpt = None,
    account: AccountOpt = None,
    walltime: WalltimeOpt = None,
    job_name: JobNameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rerun lost and FIZZLED jobs (finished ones are never rerun) and queue workers again.

    Without --qadapter the queue settings recorded with the latest submission are used.
    """
    from workflows.executors.queue import queue_settings
    from workflows.executors.submission import LAUNCH_FOLDER, recorded_queue, require_launchpad
    from workflows.executors.submission import resume as resume_launchpad

    lp_file = require_launchpad(launchpad)
    overrides = {"partition": partition, "account": account, "walltime": walltime}
    overrides["job_name"] = job_name
    recorded = recorded_queue(lp_file) if qadapter is None else None
    if recorded is not None:
        given = {k: v for k, v in overrides.items() if v is not None}
        queue = queue_settings({**recorded.model_dump(), **given}, "the command line")
    else:
        queue = _queue(qadapter, **overrides)
    settings = get_settings(project=project)
    launch_dir = settings.project.absolute() / LAUNCH_FOLDER
    report = resume_launchpad(
        lp_file,
        queue,
        launch_dir,
        lost_after=lost_after,
        do_launch=not no_launch,
        max_jobs=max_jobs,
    )
    if as_json:
        payload = {"launchpad": str(lp_file), "notes": _notes(None), **report.as_dict()}
        typer.echo(json.dumps(payload))
        return
    ids = ", ".join(map(str, report.rerun)) or "none"
    _print_launch(report, launch_dir, [*_notes(None), f"marked for rerun (lost or FIZZLED): {ids}"])


def register(app: typer.Typer) -> None:
    """Add this module's verbs to the app."""
    app.command("submit")(submit)
    app.command("status")(status)
    app.command("resume")(resume)
