"""Submit DAC flows to FireWorks and launch them through SLURM; report and resume them.

What ``arsc submit``, ``arsc status`` and ``arsc resume`` do, without the
printing:

* :func:`site_flows` builds one :class:`workflows.flows.DacAdsorptionFlow`
  flow per site, keyed by the request (:func:`request_key`);
* :func:`submit` adds the flows that are not on the LaunchPad yet (the job
  store travels inside every firework), records the queue settings with them,
  then queues worker jobs through :class:`workflows.executors.queue.ArscSlurmAdapter`;
* :func:`resume` puts lost and FIZZLED fireworks back to READY and queues
  workers again;
* :func:`status` summarises the LaunchPad per site and per job.

The mongomock LaunchPad (tests only; ``MONGOMOCK_SERVERSTORE_FILE``) is
single-process: with it the queue settings are forced to one sequential
worker (``dependency=singleton``) that knows the mongomock file.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobflow import Flow, JobStore

from arsc.errors import ArscInputError
from workflows.executors.fireworks import (
    LOST_AFTER_SECONDS,
    SubmitReport,
    latest_metadata,
    launch,
    mongomock_file,
    open_launchpad,
    rerun_failed,
    status_rows,
    submit_flows,
    unfinished_count,
    worker_jobs,
)
from workflows.executors.local import RunRequest
from workflows.executors.queue import ArscSlurmAdapter, QueueSettings, make_adapter, queue_settings
from workflows.fingerprint import file_digest
from workflows.flow_options import FlowOptions

#: Folder (in the project) where worker jobs are submitted from and run.
LAUNCH_FOLDER = "fireworks"
#: Workflow metadata keys.
META_KEY, META_SITE, META_QUEUE = "arsc_key", "arsc_site", "arsc_queue"
#: States shown as columns, in order (anything else is counted under its own name).
STATES = ("COMPLETED", "RUNNING", "READY", "WAITING", "RESERVED", "FIZZLED", "LOST", "DEFUSED")


def backend() -> str:
    """Name the LaunchPad backend in use: ``mongomock (tests)`` or ``mongodb``."""
    return "mongomock (tests, single process)" if mongomock_file() else "mongodb"


def request_key(request: RunRequest, site: str) -> str:
    """Key of one site's request: site, DFT engine, preset, reactions and the flow's options.

    The protocol and the placement search enter the key when they differ from
    the defaults, so ``--protocol sp`` and ``--protocol full`` are two requests.

    Two submissions with the same key are the same request; the preset is
    resolved to the engine's default, so ``--preset`` left out and given as
    the default are one request.
    """
    from workflows.engines import get_engine
    from workflows.protocols import default_protocol

    preset = get_engine(request.engine).check_preset(request.preset)
    parts = [
        site,
        request.engine,
        preset,
        ",".join(sorted(r.lower() for r in request.reactions)),
        f"prerelax={_prerelax_key(request)}",
        f"modes={','.join(request.modes) if request.modes is not None else 'all'}",
        f"min_image={request.min_image:g}",
    ]
    if request.corrections != FlowOptions.model_fields["corrections"].default:
        parts.append(f"corrections={request.corrections}")  # the default keeps older keys
    if request.protocol != default_protocol():
        parts.append(f"protocol={request.protocol}")  # the default protocol keeps older keys
    if request.placements is not None:
        parts.append(f"placements={request.placements}")
    return "|".join(parts)


def _prerelax_key(request: RunRequest) -> str:
    """``none``, the engine, or ``engine+sha256:DIGEST`` with fine-tuned weights (by content)."""
    if not request.prerelax:
        return "none"
    if request.prerelax_weights is None:
        return request.prerelax_engine
    digest = file_digest(request.prerelax_weights, "MLIP weights file")
    return f"{request.prerelax_engine}+sha256:{digest}"


def site_flows(request: RunRequest) -> list[tuple[str, str, Flow]]:
    """Return ``(site id, key, flow)`` per site of the request (sites canonical, deduplicated).

    Raises
    ------
    ArscInputError
        Unknown site, reaction, mode, engine or preset.
    """
    out: list[tuple[str, str, Flow]] = []
    for site in dict.fromkeys(request.site_ids()):
        one = request.model_copy(update={"sites": [site]})
        out.append((site, request_key(one, site), one.flow()))
    return out


def for_backend(queue: QueueSettings) -> QueueSettings:
    """Force one sequential worker that sees the mongomock file on the mongomock backend."""
    mock = mongomock_file()
    if not mock:
        return queue
    data = queue.model_dump()
    data["sequential"] = True
    data["env"] = {**queue.env, "MONGOMOCK_SERVERSTORE_FILE": str(Path(mock).absolute())}
    return queue_settings(data, "the mongomock LaunchPad settings")


def adapter_for(queue: QueueSettings, launchpad: Path, launch_dir: Path) -> ArscSlurmAdapter:
    """Build the SLURM adapter and render one script now, so that bad values fail before submitting.

    Raises
    ------
    ArscInputError
        A value (setting, LaunchPad path, launch folder) that fails validation.
    """
    adapter = make_adapter(for_backend(queue), launchpad)
    adapter.get_script_str(str(launch_dir))
    return adapter


@dataclass
class LaunchReport:
    """What a submission or resume did."""

    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rerun: list[int] = field(default_factory=list)
    unfinished: int = 0
    queue_jobs: list[str] = field(default_factory=list)
    sequential: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "added": self.added,
            "skipped": self.skipped,
            "rerun": self.rerun,
            "unfinished": self.unfinished,
            "queue_jobs": self.queue_jobs,
            "sequential": self.sequential,
        }


def _launch(
    launchpad: Path,
    adapter: ArscSlurmAdapter,
    launch_dir: Path,
    max_jobs: int,
    report: LaunchReport,
) -> None:
    sequential = bool(adapter.settings().sequential)
    report.sequential = sequential
    with open_launchpad(launchpad) as lp:  # read-only: the workers write from now on
        report.unfinished = unfinished_count(lp)
        n = worker_jobs(lp, max_jobs, sequential)
        report.queue_jobs = launch(adapter, lp, n, launch_dir) if n else []


def submit(
    request: RunRequest,
    launchpad: Path,
    queue: QueueSettings,
    store: JobStore,
    launch_dir: Path,
    *,
    do_launch: bool = True,
    max_jobs: int = 10,
) -> LaunchReport:
    """Add the request's flows to the LaunchPad (new keys only) and queue worker jobs.

    Parameters
    ----------
    request
        Sites, reactions, DFT engine, preset and flow knobs.
    launchpad
        LaunchPad YAML file.
    queue
        Queue settings (forced sequential on the mongomock backend).
    store
        Job store serialised into every firework (workers write there).
    launch_dir
        Folder the worker jobs are submitted from.
    do_launch
        Queue worker jobs (else only add to the LaunchPad).
    max_jobs
        Most worker jobs queued at once.
    """
    adapter = adapter_for(queue, launchpad, launch_dir)
    flows = site_flows(request)
    report = LaunchReport()
    meta_queue = adapter.settings().model_dump()
    with open_launchpad(launchpad, write=True) as lp:
        for site, key, flow in flows:
            meta = {META_SITE: site, META_QUEUE: meta_queue}
            done: SubmitReport = submit_flows(lp, [(key, flow)], store=store, metadata=meta)
            report.added += done.added
            report.skipped += done.skipped
    if do_launch:
        _launch(launchpad, adapter, launch_dir, max_jobs, report)
    else:
        with open_launchpad(launchpad) as lp:
            report.unfinished = unfinished_count(lp)
    return report


def recorded_queue(launchpad: Path) -> QueueSettings | None:
    """Return the queue settings recorded with the latest submission, if any."""
    with open_launchpad(launchpad) as lp:
        data = latest_metadata(lp, META_QUEUE)
    if data is None:
        return None
    return queue_settings(data, f"the queue settings recorded in {str(launchpad)!r}")


def resume(
    launchpad: Path,
    queue: QueueSettings,
    launch_dir: Path,
    *,
    lost_after: float = LOST_AFTER_SECONDS,
    do_launch: bool = True,
    max_jobs: int = 10,
) -> LaunchReport:
    """Rerun lost and FIZZLED fireworks (finished ones untouched) and queue worker jobs."""
    adapter = adapter_for(queue, launchpad, launch_dir)
    report = LaunchReport()
    with open_launchpad(launchpad, write=True) as lp:
        report.rerun = rerun_failed(lp, lost_after=lost_after)
    if do_launch:
        _launch(launchpad, adapter, launch_dir, max_jobs, report)
    else:
        with open_launchpad(launchpad) as lp:
            report.unfinished = unfinished_count(lp)
    return report


def status(launchpad: Path, lost_after: float = LOST_AFTER_SECONDS) -> dict[str, Any]:
    """Summarise the LaunchPad: counts by state, one row per site and one per job.

    Returns
    -------
    dict
        ``launchpad``, ``backend``, ``counts`` (state -> fireworks),
        ``sites`` (per site: ``site``, ``requests``, ``jobs``, ``state``
        counts and an overall ``state``), ``jobs`` (:func:`status_rows`).
    """
    with open_launchpad(launchpad) as lp:
        rows = status_rows(lp, lost_after=lost_after)
    counts = Counter(r["state"] for r in rows)
    sites: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        sites.setdefault(row["site"] or row["key"] or "-", []).append(row)
    site_rows = []
    for site, members in sites.items():
        states = Counter(r["state"] for r in members)
        site_rows.append(
            {
                "site": site,
                "requests": sorted({r["key"] for r in members}),
                "jobs": len(members),
                "states": dict(states),
                "state": overall_state(states),
            }
        )
    return {
        "launchpad": str(launchpad),
        "backend": backend(),
        "counts": dict(counts),
        "sites": site_rows,
        "jobs": rows,
    }


#: Overall state of a site: the first of these its jobs have, else COMPLETED.
_PRECEDENCE = ("LOST", "FIZZLED", "RUNNING", "RESERVED", "READY", "WAITING", "DEFUSED")


def overall_state(states: Counter[str]) -> str:
    """Return a site's state from its jobs' states (LOST and FIZZLED first)."""
    return next((s for s in _PRECEDENCE if states.get(s)), "COMPLETED")


def require_launchpad(path: Path | None) -> Path:
    """Return the LaunchPad file (default ``./launchpad.yaml``), absolute.

    Raises
    ------
    ArscInputError
        If it does not exist.
    """
    p = Path(path or "launchpad.yaml")
    if not p.is_file():
        raise ArscInputError(f"LaunchPad file {str(p)!r} not found; pass --launchpad FILE")
    return p.absolute()
