"""FireWorks + SLURM executor: submit flows to a LaunchPad, launch them through a queue.

Production uses MongoDB (``launchpad.yaml``). No MongoDB server can run on the
development machines, so the tests use FireWorks' mongomock backend
(``MONGOMOCK_SERVERSTORE_FILE``): a JSON file loaded when a process opens
the LaunchPad and written back when it is flushed. It is correct for one
process at a time only, so here every process flushes as soon as it has
written (:func:`open_launchpad` ``write=True``), read-only processes never
write, workers persist their state at checkout and at every ping (so a killed
worker leaves a RUNNING launch behind, as with MongoDB), and the queue runs
one worker at a time (``dependency: singleton``).

Duplicate-free submission: each workflow carries ``metadata.arsc_key`` (the
request: site, engine, preset, reactions); a key already on the LaunchPad
and not FIZZLED is skipped. Inside the jobs, the fingerprint cache
(:mod:`workflows.cache`) reuses any calculation already completed in the
job store.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from jobflow import Flow, JobStore

from arsc.errors import ArscInputError

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


def flush(lp: Any) -> None:
    """Persist a mongomock LaunchPad now, atomically (no-op on MongoDB).

    Written to a temporary file and renamed, so a process reading the file at
    the same moment sees the old or the new state, never half of one.
    """
    store = _server_store(lp)
    if store is None:
        return
    from bson import json_util

    target = Path(store._filename)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json_util.dumps(store.to_dict()))
    os.replace(tmp, target)


def _detach(lp: Any) -> None:
    """Make sure a mongomock LaunchPad is never written by this process again."""
    store = _server_store(lp)
    if store is not None and getattr(store, "_finalizer", None) is not None:
        store._finalizer.detach()


@contextmanager
def open_launchpad(path: str | Path | None, *, write: bool = False) -> Iterator[Any]:
    """Open the LaunchPad of a file (default ``./launchpad.yaml``).

    Parameters
    ----------
    path
        LaunchPad YAML (FireWorks format).
    write
        Whether this use writes. On mongomock a writer flushes when the block
        ends; a reader never writes back.

    Raises
    ------
    ArscInputError
        If the file is missing or malformed.
    """
    from fireworks import LaunchPad

    p = Path(path or "launchpad.yaml")
    if not p.is_file():
        raise ArscInputError(f"LaunchPad file {str(p)!r} not found; pass --launchpad FILE")
    try:
        lp = LaunchPad.from_file(str(p))
    except (yaml.YAMLError, TypeError, KeyError, ValueError) as exc:
        msg = " ".join(str(exc).split())
        raise ArscInputError(f"malformed LaunchPad file {str(p)!r}: {msg}") from None
    try:
        yield lp
    finally:
        if write:
            flush(lp)
        _detach(lp)


def load_qadapter(path: str | Path | None, launchpad: str | Path, python: str | None = None) -> Any:
    """Load a FireWorks queue adapter (default: the packaged SLURM one).

    ``{python}`` and ``{launchpad}`` in ``rocket_launch`` are filled in; the
    template ``default`` is the packaged SLURM template.
    """
    from fireworks.user_objects.queue_adapters.common_adapter import CommonAdapter

    if path is None:
        text = files("workflows.data").joinpath("qadapter_slurm.yaml").read_text()
        source = "packaged qadapter_slurm.yaml"
    else:
        p = Path(path)
        if not p.is_file():
            raise ArscInputError(f"queue adapter file {str(p)!r} not found")
        text, source = p.read_text(), str(p)
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        msg = " ".join(str(exc).split())
        raise ArscInputError(f"malformed queue adapter {source!r}: {msg}") from None
    if not isinstance(spec, dict) or "_fw_q_type" not in spec:
        raise ArscInputError(f"queue adapter {source!r} needs _fw_name and _fw_q_type keys")
    if spec.get("_fw_name", "CommonAdapter") != "CommonAdapter":
        raise ArscInputError(f"queue adapter {source!r}: only _fw_name: CommonAdapter is supported")
    template = spec.pop("_fw_template_file", None)
    if template == "default":
        template = str(files("workflows.data").joinpath("slurm_template.txt"))
    spec["rocket_launch"] = str(spec.get("rocket_launch", "")).format(
        python=python or sys.executable, launchpad=str(Path(launchpad).resolve())
    )
    q_type = spec.pop("_fw_q_type")
    fields = {k: v for k, v in spec.items() if v is not None and not k.startswith("_fw")}
    return CommonAdapter(q_type=q_type, template_file=template, **fields)


@dataclass
class SubmitReport:
    """What a submission did."""

    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def submit_flows(
    lp: Any, flows: Sequence[tuple[str, Flow]], store: JobStore | None = None
) -> SubmitReport:
    """Add flows to a LaunchPad, skipping requests already there.

    Parameters
    ----------
    lp
        An open LaunchPad (see :func:`open_launchpad`, ``write=True``).
    flows
        ``(key, flow)`` pairs; the key names the request (site, engine,
        preset, reactions).
    store
        Job store the workers write to (serialised into the workflow).
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
        wf = flow_to_workflow(flow, store=store, metadata={"arsc_key": key})  # type: ignore[arg-type]
        lp.add_wf(wf)
        report.added.append(key)
    return report


def unfinished_count(lp: Any) -> int:
    """Count the fireworks that still need a worker."""
    return int(lp.fireworks.count_documents({"state": {"$in": list(UNFINISHED)}}))


def launch(qadapter: Any, lp: Any, n_jobs: int, launch_dir: str | Path) -> list[str]:
    """Submit ``n_jobs`` worker jobs to the queue; return the queue job ids.

    The workers pull READY fireworks from the LaunchPad; a job finding
    nothing to do exits at once.
    """
    from fireworks.core.fworker import FWorker
    from fireworks.queue.queue_launcher import launch_rocket_to_queue

    Path(launch_dir).mkdir(parents=True, exist_ok=True)
    ids = []
    for _ in range(n_jobs):
        qid = launch_rocket_to_queue(
            lp, FWorker(), qadapter, str(launch_dir), create_launcher_dir=True, fill_mode=True
        )
        if qid is None:
            raise RuntimeError(f"the queue refused a job; see the launcher folders in {launch_dir}")
        ids.append(str(qid))
    return ids


def status_rows(lp: Any, lost_after: float = LOST_AFTER_SECONDS) -> list[dict[str, Any]]:
    """One row per firework: id, name, request key, state ('LOST' for lost runs), launches."""
    _, lost_fw_ids, _ = lp.detect_lostruns(expiration_secs=lost_after, fizzle=False, rerun=False)
    key_of = {}
    for wf in lp.workflows.find({}, {"nodes": 1, "metadata": 1}):
        for fw_id in wf["nodes"]:
            key_of[fw_id] = wf.get("metadata", {}).get("arsc_key", "")
    rows = []
    for fw in lp.fireworks.find({}, {"fw_id": 1, "name": 1, "state": 1, "launches": 1}):
        state = "LOST" if fw["fw_id"] in lost_fw_ids else fw["state"]
        rows.append(
            {
                "fw_id": fw["fw_id"],
                "name": fw.get("name", ""),
                "key": key_of.get(fw["fw_id"], ""),
                "state": state,
                "launches": len(fw.get("launches", [])),
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
