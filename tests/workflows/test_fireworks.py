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
from pathlib import Path

import pytest
from jobflow import Flow, JobStore
from maggma.stores import JSONStore

from arsc.errors import ArscInputError
from tests.workflows.fw_jobs import add
from workflows.executors.fireworks import (
    launch,
    load_qadapter,
    open_launchpad,
    rerun_failed,
    status_rows,
    submit_flows,
    unfinished_count,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def mongomock_lp(tmp_path, monkeypatch):
    """A LaunchPad file on the mongomock backend, reset and empty."""
    db = tmp_path / "launchpad-db.json"
    db.write_text("{}")
    monkeypatch.setenv("MONGOMOCK_SERVERSTORE_FILE", str(db))
    lp_file = tmp_path / "launchpad.yaml"
    lp_file.write_text("host: localhost\nname: arsc_test\n")
    with open_launchpad(lp_file, write=True) as lp:
        lp.reset("", require_password=False)
    return lp_file


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


def test_packaged_qadapter_writes_a_slurm_script(tmp_path):
    q = load_qadapter(None, tmp_path / "launchpad.yaml", python="/opt/py/bin/python")
    script = q.get_script_str(str(tmp_path))
    assert "#SBATCH --partition=debug" in script
    assert "#SBATCH --cpus-per-task=2" in script
    assert "#SBATCH --time=04:00:00" in script
    assert f"/opt/py/bin/python -m workflows.executors.fw_worker --launchpad {tmp_path}" in script
    assert "--dependency" not in script and "--account" not in script  # unset fields dropped


def test_bad_queue_adapter_and_launchpad_files(tmp_path):
    bad = tmp_path / "q.yaml"
    bad.write_text("queue: [unclosed\n")
    with pytest.raises(ArscInputError, match="malformed queue adapter"):
        load_qadapter(bad, tmp_path / "lp.yaml")
    bad.write_text("queue: debug\n")
    with pytest.raises(ArscInputError, match="needs _fw_name and _fw_q_type"):
        load_qadapter(bad, tmp_path / "lp.yaml")
    with (
        pytest.raises(ArscInputError, match=r"LaunchPad file .*nope\.yaml' not found"),
        open_launchpad(tmp_path / "nope.yaml"),
    ):
        pass


# --- real SLURM -------------------------------------------------------------


@pytest.fixture(scope="module")
def slurm():
    """Start the project's single-node SLURM (scripts/slurm.sh), as CI does."""
    if os.geteuid() != 0:
        pytest.skip("the local SLURM needs root (apt, munge); CI runs as root")
    script = str(ROOT / "scripts/slurm.sh")
    subprocess.run(["bash", script, "start"], check=True, timeout=600)
    conf = subprocess.run(["bash", script, "conf"], capture_output=True, text=True, check=True)
    os.environ["SLURM_CONF"] = conf.stdout.strip()
    return Path(conf.stdout.strip()).parent


def _qadapter(lp_file, db):
    q = load_qadapter(None, lp_file)
    q["pre_rocket"] = f"export MONGOMOCK_SERVERSTORE_FILE={db} PYTHONPATH={ROOT}"
    q["dependency"] = "singleton"  # mongomock: one worker process at a time
    q["cpus_per_task"] = 1
    q["rocket_launch"] += " --ping 1"
    return q


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
    deadline = time.time() + 90
    while time.time() < deadline and "RUNNING" not in {r["state"] for r in _rows(mongomock_lp)}:
        time.sleep(0.5)
    states = {r["fw_id"]: r["state"] for r in _rows(mongomock_lp)}
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
