"""FireWorks + SLURM executor: submit flows to a LaunchPad, launch them through a queue.

Production uses MongoDB (``launchpad.yaml``). No MongoDB server can run on the
development machines, so the tests use FireWorks' mongomock backend
(``MONGOMOCK_SERVERSTORE_FILE``): a JSON file loaded when a process opens
the LaunchPad and written back when it is flushed. It is correct for one
process at a time only, so here every process flushes as soon as it has
written (:func:`open_launchpad` ``write=True``), read-only processes never
write, workers persist their state at checkout, at every ping and at
completion (so a killed worker leaves a RUNNING launch behind, as with
MongoDB), and the queue runs one worker at a time (``dependency: singleton``).

Workers (:mod:`workflows.executors.fw_worker`) run fireworks until none is
ready, so the steps a job adds at run time (jobflow replacements) run in the
same allocation; :func:`launch` queues them through the validated SLURM
adapter of :mod:`workflows.executors.queue`. A run whose allocation dies stops
pinging; :func:`status_rows` shows it as LOST after ``lost_after`` seconds and
:func:`rerun_failed` puts it back to READY, leaving finished siblings alone.

Duplicate-free submission: each workflow carries ``metadata.arsc_key`` (the
request: site, engine, preset, reactions); a key already on the LaunchPad
and not FIZZLED is skipped. Inside the jobs, the fingerprint cache
(:mod:`workflows.cache`) reuses any calculation already completed in the
job store.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jobflow import Flow, JobStore

from arsc.errors import ArscInputError
from arsc.outputs import write_text_atomic

#: Seconds between a running worker's pings, and without one before a run is lost.
#: DFT jobs run for hours; a ping every 10 min and lost after 1 h detects a dead
#: allocation within the hour without false alarms from slow file systems.
PING_SECONDS = 600
LOST_AFTER_SECONDS = 3600

#: FireWorks states, and the ones that still need a worker.
UNFINISHED = ("READY", "WAITING", "RESERVED", "RUNNING")


def mongomock_file() -> str | None:
    """Return the mongomock LaunchPad file in use, or None for a real MongoDB."""
    return os.environ.get("MONGOMOCK_SERVERSTORE_FILE") or None


def _server_store(lp: Any) -> Any | None:
    return getattr(lp.connection, "_store", None) if mongomock_file() else None


#: Serialises this process's writes to a mongomock LaunchPad and its flushes
#: (a worker's ping thread and main thread both write).
MOCK_LOCK = threading.RLock()


def flush(lp: Any) -> None:
    """Persist a mongomock LaunchPad now, atomically (no-op on MongoDB).

    Written to a temporary file and renamed (:func:`arsc.outputs.write_text_atomic`),
    so a process reading the file at the same moment sees the old or the new
    state, never half of one.
    """
    store = _server_store(lp)
    if store is None:
        return
    from bson import json_util

    with MOCK_LOCK:
        write_text_atomic(store._filename, json_util.dumps(store.to_dict()))


def _detach(lp: Any) -> None:
    """Make sure a mongomock LaunchPad is never written by this process again."""
    store = _server_store(lp)
    if store is not None and getattr(store, "_finalizer", None) is not None:
        store._finalizer.detach()


def use_backend() -> None:
    """Point FireWorks at mongomock or MongoDB as ``MONGOMOCK_SERVERSTORE_FILE`` says now.

    FireWorks picks its client class once, when ``fireworks.fw_config`` is first
    imported; a process that imported FireWorks before the variable was set (a
    test session) would otherwise try to reach a MongoDB server. This re-runs
    FireWorks' own switch (``override_user_settings``) and hands the chosen
    class to the LaunchPad module.
    """
    import pymongo
    from fireworks import fw_config
    from fireworks.core import launchpad as lp_module

    if mongomock_file():
        fw_config.override_user_settings()
    else:
        fw_config.MONGOMOCK_SERVERSTORE_FILE = None
        fw_config.MongoClient = pymongo.MongoClient
    lp_module.MongoClient = fw_config.MongoClient


@contextmanager
def open_launchpad(
    path: str | Path | None, *, write: bool = False, log_level: str = "WARNING"
) -> Iterator[Any]:
    """Open the LaunchPad of a file (default ``./launchpad.yaml``).

    Parameters
    ----------
    path
        LaunchPad YAML (FireWorks format).
    write
        Whether this use writes. On mongomock a writer flushes when the block
        ends; a reader never writes back.
    log_level
        Level of the LaunchPad's messages on stdout (FireWorks' ``strm_lvl``);
        WARNING keeps the command line's output (and its ``--json``) clean.
        ``logdir`` in the file still gets every message.

    Raises
    ------
    ArscInputError
        If the file is missing or malformed.
    """
    from fireworks import LaunchPad

    use_backend()
    p = Path(path or "launchpad.yaml")
    if not p.is_file():
        raise ArscInputError(f"LaunchPad file {str(p)!r} not found; pass --launchpad FILE")
    try:
        data = yaml.safe_load(p.read_text())
        if not isinstance(data, dict):
            raise TypeError(f"expected a mapping of settings, got {type(data).__name__}")
        lp = LaunchPad.from_dict({**data, "strm_lvl": log_level})
    except (yaml.YAMLError, TypeError, KeyError, ValueError) as exc:
        msg = " ".join(str(exc).split())
        raise ArscInputError(f"malformed LaunchPad file {str(p)!r}: {msg}") from None
    try:
        yield lp
    finally:
        if write:
            flush(lp)
        _detach(lp)


@dataclass
class SubmitReport:
    """What a submission did: request keys added and skipped (already on the LaunchPad)."""

    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def submit_flows(
    lp: Any,
    flows: Sequence[tuple[str, Flow]],
    store: JobStore | None = None,
    metadata: dict[str, Any] | None = None,
) -> SubmitReport:
    """Add flows to a LaunchPad, skipping requests already there.

    Parameters
    ----------
    lp
        An open LaunchPad (see :func:`open_launchpad`, ``write=True``).
    flows
        ``(key, flow)`` pairs; the key names the request (site, engine,
        preset, reactions...). A key already on the LaunchPad in a workflow
        that is not FIZZLED or DEFUSED is skipped.
    store
        Job store the workers write to (serialised into every firework).
    metadata
        Extra workflow metadata (``arsc status`` reads ``arsc_site``;
        ``arsc resume`` reads ``arsc_queue``).
    """
    from jobflow.managers.fireworks import flow_to_workflow

    report = SubmitReport()
    for key, flow in flows:
        existing = lp.workflows.find_one(
            {"metadata.arsc_key": key, "state": {"$nin": ["FIZZLED", "DEFUSED"]}}, {"nodes": 1}
        )
        if existing:
            report.skipped.append(key)
            continue
        meta = {**(metadata or {}), "arsc_key": key}
        wf = flow_to_workflow(flow, store=store, metadata=meta)  # type: ignore[arg-type]
        lp.add_wf(wf)
        report.added.append(key)
    return report


def ready_count(lp: Any) -> int:
    """Count the fireworks ready to run now."""
    return int(lp.fireworks.count_documents({"state": "READY"}))


def unfinished_count(lp: Any) -> int:
    """Count the fireworks that still need a worker (READY, WAITING, RESERVED, RUNNING)."""
    return int(lp.fireworks.count_documents({"state": {"$in": list(UNFINISHED)}}))


def worker_jobs(lp: Any, max_jobs: int, sequential: bool) -> int:
    """How many worker jobs to queue: one per ready firework, at most ``max_jobs``.

    Each worker runs fireworks until none is ready, so with ``sequential``
    (one worker at a time) a single job suffices.
    """
    ready = ready_count(lp)
    if not ready:
        return 0
    return 1 if sequential else max(1, min(max_jobs, ready))


def launch(qadapter: Any, lp: Any, n_jobs: int, launch_dir: str | Path) -> list[str]:
    """Submit ``n_jobs`` worker jobs to the queue; return the queue job ids.

    The workers pull READY fireworks from the LaunchPad; a job finding
    nothing to do exits at once. On mongomock, open ``lp`` read-only: the
    workers write the file while this process still holds it.

    Raises
    ------
    RuntimeError
        If the queue refuses a job (the launcher folder has the script).
    """
    from fireworks.core.fworker import FWorker
    from fireworks.queue.queue_launcher import launch_rocket_to_queue

    Path(launch_dir).mkdir(parents=True, exist_ok=True)
    ids = []
    for _ in range(n_jobs):
        with warnings.catch_warnings():  # FireWorks' own use of its deprecated cd()
            warnings.filterwarnings("ignore", message="cd is deprecated", category=FutureWarning)
            qid = launch_rocket_to_queue(
                lp,
                FWorker(),
                qadapter,
                str(launch_dir),
                strm_lvl="WARNING",
                create_launcher_dir=True,
                fill_mode=True,
            )
        if qid is None or qid is False:
            raise RuntimeError(f"the queue refused a job; see the launcher folders in {launch_dir}")
        ids.append(str(qid))
    return ids


def _worker_of(launch: dict[str, Any] | None) -> str:
    if not launch:
        return ""
    return str((launch.get("fworker") or {}).get("name", ""))


def status_rows(lp: Any, lost_after: float = LOST_AFTER_SECONDS) -> list[dict[str, Any]]:
    """One row per firework, by id.

    Keys: ``fw_id``, ``name`` (the job), ``key`` and ``site`` (the request),
    ``state`` (FireWorks' state, or ``LOST`` for a RUNNING launch without a
    ping for ``lost_after`` seconds), ``launches`` (count, reruns' archived
    launches included) and ``worker`` (the FireWorker of the current launch:
    ``slurm-<job id>`` for a SLURM worker).
    """
    _, lost_fw_ids, _ = lp.detect_lostruns(expiration_secs=lost_after, fizzle=False, rerun=False)
    request_of: dict[int, tuple[str, str]] = {}
    for wf in lp.workflows.find({}, {"nodes": 1, "metadata": 1}):
        meta = wf.get("metadata", {})
        for fw_id in wf["nodes"]:
            request_of[fw_id] = (meta.get("arsc_key", ""), meta.get("arsc_site", ""))
    last_launch = {}
    for launch_doc in lp.launches.find({}, {"launch_id": 1, "fworker": 1}):
        last_launch[launch_doc["launch_id"]] = launch_doc
    rows = []
    fields = {"fw_id": 1, "name": 1, "state": 1, "launches": 1, "archived_launches": 1}
    for fw in lp.fireworks.find({}, fields):
        launches = fw.get("launches", [])
        archived = fw.get("archived_launches", [])
        key, site = request_of.get(fw["fw_id"], ("", ""))
        rows.append(
            {
                "fw_id": fw["fw_id"],
                "name": fw.get("name", ""),
                "key": key,
                "site": site,
                "state": "LOST" if fw["fw_id"] in lost_fw_ids else fw["state"],
                "launches": len(launches) + len(archived),
                "worker": _worker_of(last_launch.get(launches[-1])) if launches else "",
            }
        )
    return sorted(rows, key=lambda r: r["fw_id"])


def rerun_failed(lp: Any, lost_after: float = LOST_AFTER_SECONDS) -> list[int]:
    """Mark lost runs and FIZZLED fireworks for rerun; return their ids.

    Completed fireworks (siblings included) are left alone, so nothing
    finished runs twice.
    """
    _, lost, _ = lp.detect_lostruns(expiration_secs=lost_after, fizzle=False, rerun=True)
    fizzled = [fw["fw_id"] for fw in lp.fireworks.find({"state": "FIZZLED"}, {"fw_id": 1})]
    for fw_id in fizzled:
        lp.rerun_fw(fw_id)
    return sorted(set(lost) | set(fizzled))


def latest_metadata(lp: Any, key: str) -> Any:
    """Return ``metadata[key]`` of the most recently added workflow that has it, or None."""
    found = lp.workflows.find_one(
        {f"metadata.{key}": {"$exists": True}}, {"metadata": 1}, sort=[("created_on", -1)]
    )
    return found["metadata"][key] if found else None
