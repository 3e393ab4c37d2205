"""FireWorks submission through a real single-node SLURM.

No MongoDB server can run here (platform notes), so every test uses FireWorks'
mongomock LaunchPad backend (a JSON file), as the test names say; SLURM,
FireWorks, jobflow and the job store are real. Production uses MongoDB via
launchpad.yaml.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from jobflow import Flow, JobStore
from maggma.stores import JSONStore

from arsc.errors import ArscInputError
from tests.paths import ROOT
from tests.workflows.fw_jobs import add, add_then_replace
from workflows.executors.fireworks import (
    launch,
    open_launchpad,
    rerun_failed,
    status_rows,
    submit_flows,
    unfinished_count,
    worker_jobs,
)
from workflows.executors.queue import load_queue_settings, make_adapter

ROOT = ROOT


def _store(tmp_path):
    return JobStore(
        JSONStore(str(tmp_path / "docs.json"), read_only=False),
        additional_stores={"data": JSONStore(str(tmp_path / "data.json"), read_only=False)},
    )


def _chain(log, sleep=0.0):
    j1 = add(1, 2, log=str(log))
    j2 = add(j1.output, 10, log=str(log), sleep=sleep)
    return Flow([j1, j2], name="chain")


def test_submitting_the_same_request_twice_adds_nothing_mongomock_launchpad(tmp_path, mongomock_lp):
    store = _store(tmp_path)
    with open_launchpad(mongomock_lp, write=True) as lp:
        first = submit_flows(lp, [("site-a", _chain(tmp_path / "log"))], store=store)
    with open_launchpad(mongomock_lp, write=True) as lp:
        again = submit_flows(
            lp, [("site-a", _chain(tmp_path / "log")), ("site-b", _chain(tmp_path / "log"))], store
        )
        assert lp.workflows.count_documents({}) == 2
        assert unfinished_count(lp) == 4
    assert first.added == ["site-a"] and again.added == ["site-b"] and again.skipped == ["site-a"]


def test_workers_one_per_ready_firework_capped_or_one_when_sequential_mongomock_launchpad(
    tmp_path, mongomock_lp
):
    with open_launchpad(mongomock_lp, write=True) as lp:
        assert worker_jobs(lp, 10, sequential=False) == 0  # nothing to run: no job
        submit_flows(lp, [(f"site-{i}", _chain(tmp_path / "log")) for i in range(3)])
        assert worker_jobs(lp, 10, sequential=False) == 3  # 3 ready roots (children wait)
        assert worker_jobs(lp, 2, sequential=False) == 2
        assert worker_jobs(lp, 10, sequential=True) == 1


def test_bad_launchpad_file_is_one_line_error(tmp_path):
    with (
        pytest.raises(ArscInputError, match=r"LaunchPad file .*nope\.yaml' not found"),
        open_launchpad(tmp_path / "nope.yaml"),
    ):
        pass
    bad = tmp_path / "bad.yaml"
    bad.write_text("host: [unclosed\n")
    with pytest.raises(ArscInputError, match="malformed LaunchPad file"), open_launchpad(bad):
        pass


# --- real SLURM -------------------------------------------------------------


def _qadapter(lp_file, db, max_launches=1):
    """The packaged SLURM settings, one core, pings every second, one worker at a time."""
    settings = load_queue_settings(
        None,
        {
            "env": {"MONGOMOCK_SERVERSTORE_FILE": db, "PYTHONPATH": str(ROOT)},
            "sequential": True,  # mongomock: one worker process at a time
            "cpus_per_task": 1,
            "ping_seconds": 1,
            "max_launches": max_launches,
        },
    )
    return make_adapter(settings, lp_file)


def _wait_queue_empty(timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        out = subprocess.run(["squeue", "-h"], capture_output=True, text=True, check=True).stdout
        if not out.strip():
            return
        time.sleep(0.5)
    raise AssertionError("SLURM queue did not drain")


def _rows(lp_file, lost_after=3600):
    with open_launchpad(lp_file) as lp:
        return status_rows(lp, lost_after=lost_after)


def _states(lp_file):
    return {r["fw_id"]: r["state"] for r in _rows(lp_file)}


@pytest.mark.slurm
def test_flow_runs_to_completed_through_real_slurm_mongomock_launchpad(
    tmp_path, mongomock_lp, slurm
):
    log = tmp_path / "ran.log"
    with open_launchpad(mongomock_lp, write=True) as lp:
        submit_flows(lp, [("site-a", _chain(log))], store=_store(tmp_path))
        n = unfinished_count(lp)
    db = os.environ["MONGOMOCK_SERVERSTORE_FILE"]
    with open_launchpad(mongomock_lp) as lp:
        ids = launch(_qadapter(mongomock_lp, db), lp, n, tmp_path / "launch")
    assert len(ids) == 2
    _wait_queue_empty()
    rows = _rows(mongomock_lp)
    assert [r["state"] for r in rows] == ["COMPLETED", "COMPLETED"]
    assert log.read_text().splitlines() == ["add 1 2", "add 3 10"]  # the child got 1 + 2


@pytest.mark.slurm
def test_scancelled_run_is_lost_then_rerun_without_touching_finished_sibling_mongomock_launchpad(
    tmp_path, mongomock_lp, slurm
):
    log = tmp_path / "ran.log"
    with open_launchpad(mongomock_lp, write=True) as lp:
        submit_flows(lp, [("site-a", _chain(log, sleep=120))], store=_store(tmp_path))
    db = os.environ["MONGOMOCK_SERVERSTORE_FILE"]
    q = _qadapter(mongomock_lp, db)
    with open_launchpad(mongomock_lp) as lp:
        launch(q, lp, 2, tmp_path / "launch")
    # wait for the parent to finish and the 120 s child to start (the parent is
    # RUNNING for a moment first, so waiting for any RUNNING state is a race)
    deadline = time.time() + 90
    states = _states(mongomock_lp)
    while time.time() < deadline and sorted(states.values()) != ["COMPLETED", "RUNNING"]:
        time.sleep(0.5)
        states = _states(mongomock_lp)
    assert sorted(states.values()) == ["COMPLETED", "RUNNING"]  # parent done, child running
    child = next(i for i, s in states.items() if s == "RUNNING")
    parent = next(i for i, s in states.items() if s == "COMPLETED")
    subprocess.run(["scancel", "--name", "arsc"], check=True)  # the allocation dies
    _wait_queue_empty()
    time.sleep(4)  # no ping for longer than the expiry below
    lost = {r["fw_id"]: r["state"] for r in _rows(mongomock_lp, lost_after=3)}
    assert lost == {parent: "COMPLETED", child: "LOST"}
    with open_launchpad(mongomock_lp, write=True) as lp:
        assert rerun_failed(lp, lost_after=3) == [child]
        assert lp.get_fw_by_id(child).state == "READY"
        # make the rerun quick: the firework's spec carries the job's kwargs
        lp.update_spec([child], {"_tasks.0.job.function_kwargs.sleep": 0.0})
    with open_launchpad(mongomock_lp) as lp:
        launch(q, lp, 1, tmp_path / "launch")
    _wait_queue_empty()
    rows = {r["fw_id"]: r for r in _rows(mongomock_lp)}
    assert {i: r["state"] for i, r in rows.items()} == {parent: "COMPLETED", child: "COMPLETED"}
    assert rows[parent]["launches"] == 1  # the finished sibling never ran again
    assert log.read_text().splitlines() == ["add 1 2", "add 3 10"]


@pytest.mark.slurm
def test_one_worker_job_drains_the_flow_including_replacements_mongomock_launchpad(
    tmp_path, mongomock_lp, slurm
):
    """Jobs added at run time (a jobflow replacement) run in the same SLURM job as their parent."""
    log = tmp_path / "ran.log"
    first = add_then_replace(1, 2, log=str(log))
    flow = Flow([first, add(first.output, 1000, log=str(log))])
    with open_launchpad(mongomock_lp, write=True) as lp:
        submit_flows(lp, [("site-a", flow)], store=_store(tmp_path))
    db = os.environ["MONGOMOCK_SERVERSTORE_FILE"]
    with open_launchpad(mongomock_lp) as lp:
        ids = launch(_qadapter(mongomock_lp, db, max_launches=0), lp, 1, tmp_path / "launch")
    _wait_queue_empty()
    rows = _rows(mongomock_lp)
    assert len(ids) == 1
    assert [r["state"] for r in rows] == ["COMPLETED"] * 3  # parent, replacement, child
    assert {r["worker"] for r in rows} == {f"slurm-{ids[0]}"}
    assert log.read_text().splitlines() == ["add_then_replace 1 2", "add 3 100", "add 103 1000"]
