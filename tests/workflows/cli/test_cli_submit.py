"""``arsc submit``, ``arsc status`` and ``arsc resume``.

No MongoDB server can run here (platform notes), so the LaunchPad is FireWorks'
mongomock backend wherever MongoDB would be (fixture ``mongomock_lp``; test
names say so), with sequential launches only. Everything else is real: the
DacAdsorptionFlow, FireWorks, the embedded sqlite job store and, in the
``slurm`` tier, SLURM and the MLIP engine (CHGNet).

The default tier uses the FAKE test engine (an orchestration seam, not DFT;
tests/workflows/fake_engine.py) and runs the worker as a plain subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.paths import ROOT
from tests.workflows import fake_engine
from workflows.cli.main import main
from workflows.executors.fireworks import LOST_AFTER_SECONDS, open_launchpad
from workflows.settings import ArscSettings
from workflows.store import make_store

ROOT = ROOT
SITE = "Fe-Co_qv-n6_graphene"
FAKE = ["--dft-engine", "fake", "--prerelax-engine", "fake", "--min-image", "9.5"]
HER_TOP1 = ["--reactions", "her", "--modes", "top1"]


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """Register the FAKE engine in this process; count its computations in a file."""
    monkeypatch.setitem(fake_engine.base.ENGINE_MODULES, "fake", fake_engine.__name__)
    monkeypatch.setitem(fake_engine.base._REGISTRY, "fake", fake_engine.ENGINE)
    for name in ("FAKE_ENGINE_SLEEP", "FAKE_ENGINE_FAIL", "ARSC_CONFIG_FILE", "ARSC_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FAKE_ENGINE_COUNTER", str(tmp_path / "count"))
    monkeypatch.chdir(tmp_path)


def cli_json(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    out = capsys.readouterr().out
    return json.loads(out)


def submit_fake(capsys, lp_file, *extra: str) -> dict:
    args = ["submit", SITE, "--engine", "fireworks", *FAKE, *HER_TOP1]
    return cli_json(capsys, *args, "--launchpad", str(lp_file), "--no-launch", *extra)


def test_submitting_the_same_sites_twice_adds_nothing_mongomock_launchpad(
    tmp_path, mongomock_lp, fake, capsys
):
    first = submit_fake(capsys, mongomock_lp, "--project", "proj")
    again = submit_fake(capsys, mongomock_lp, "--project", "proj")
    swapped = cli_json(
        capsys,
        *["submit", "Co-Fe_qv-n6_graphene", *FAKE, *HER_TOP1, "--no-launch"],
        *["--launchpad", str(mongomock_lp), "--project", "proj"],
    )
    key = f"{SITE}|fake|default|her|prerelax=fake|modes=top1|min_image=9.5"
    assert first["added"] == [key] and first["skipped"] == []
    assert again["added"] == [] and again["skipped"] == [key]
    assert swapped["added"] == [] and swapped["skipped"] == [key]  # one site, canonical order
    assert first["queue_jobs"] == again["queue_jobs"] == []  # --no-launch
    with open_launchpad(mongomock_lp) as lp:
        assert lp.workflows.count_documents({}) == 1
    status = cli_json(capsys, "status", "--launchpad", str(mongomock_lp))
    assert [s["site"] for s in status["sites"]] == [SITE]
    assert status["sites"][0]["state"] == "READY"
    assert set(status["counts"]) == {"READY", "WAITING"}
    assert any("mongomock" in note for note in first["notes"])


def test_write_qadapter_gives_qlaunch_the_validated_adapter_mongomock_launchpad(
    tmp_path, mongomock_lp, fake, capsys
):
    from fireworks.utilities.fw_serializers import load_object_from_file

    from workflows.executors.queue import ArscSlurmAdapter

    submit_fake(capsys, mongomock_lp, "--write-qadapter", "my_qadapter.yaml", "--account", "chem")
    adapter = load_object_from_file(str(tmp_path / "my_qadapter.yaml"))
    assert isinstance(adapter, ArscSlurmAdapter)
    script = adapter.get_script_str(str(tmp_path))
    assert "#SBATCH --account=chem" in script.splitlines()
    assert "#SBATCH --dependency=singleton" in script.splitlines()  # forced on mongomock
    assert f"--launchpad {mongomock_lp}" in script


def test_job_store_in_the_firework_spec_is_the_project_store_by_absolute_path_mongomock_launchpad(
    tmp_path, mongomock_lp, fake, capsys
):
    """A relative --project still gives workers (which run in other folders) the same file."""
    submit_fake(capsys, mongomock_lp, "--project", "proj")
    with open_launchpad(mongomock_lp) as lp:
        specs = [fw["spec"] for fw in lp.fireworks.find({}, {"spec": 1})]
    stores = {json.dumps(s["_tasks"][0]["store"], sort_keys=True) for s in specs}
    assert len(stores) == 1
    store = json.loads(stores.pop())
    expected = str((tmp_path / "proj" / "store.sqlite").absolute())
    assert store["docs_store"]["@class"] == "SqliteStore"
    assert store["docs_store"]["path"] == expected
    assert store["additional_stores"]["data"]["path"] == expected


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--partition", 'x"; touch PWNED; echo "'),
        ("--account", "$(touch PWNED)"),
        ("--job-name", "arsc\ntouch PWNED"),
        ("--walltime", "1:00:00; touch PWNED"),
    ],
)
def test_hostile_queue_value_refused_in_one_line_before_anything_is_submitted_mongomock_launchpad(
    tmp_path, mongomock_lp, fake, capsys, option, value
):
    capsys.readouterr()
    code = main(["submit", SITE, *FAKE, *HER_TOP1, "--launchpad", str(mongomock_lp), option, value])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "\n" not in err
    assert err.startswith("arsc: error: bad queue setting ")
    assert repr(value) in err
    with open_launchpad(mongomock_lp) as lp:
        assert lp.workflows.count_documents({}) == 0
    assert not list(tmp_path.rglob("PWNED*"))


def test_hostile_path_in_a_qadapter_file_is_refused_mongomock_launchpad(
    tmp_path, mongomock_lp, fake, capsys
):
    q = tmp_path / "q.yaml"
    q.write_text('venv: "/opt/env\\ntouch /tmp/PWNED"\n')
    capsys.readouterr()
    code = main(["submit", SITE, *FAKE, "--launchpad", str(mongomock_lp), "--qadapter", str(q)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == (
        f"arsc: error: bad queue setting venv = '/opt/env\\ntouch /tmp/PWNED' in queue settings "
        f"file {str(q)!r}: must be non-empty and free of control characters (newline, tab, NUL)"
    )


def test_missing_launchpad_and_unknown_site_are_one_line_errors(tmp_path, fake, capsys):
    capsys.readouterr()
    assert main(["submit", SITE, *FAKE, "--launchpad", "nope.yaml"]) == 2
    assert "LaunchPad file 'nope.yaml' not found" in capsys.readouterr().err
    assert main(["status", "--launchpad", "nope.yaml"]) == 2
    (tmp_path / "lp.yaml").write_text("host: localhost\n")
    assert main(["submit", "Xx-Co_qv-n6_graphene", *FAKE, "--launchpad", "lp.yaml"]) == 2
    assert "Xx" in capsys.readouterr().err


def test_status_default_lost_after_is_the_executor_constant():
    import inspect

    from workflows.cli.submit import resume, status

    for verb in (status, resume):
        assert inspect.signature(verb).parameters["lost_after"].default == LOST_AFTER_SECONDS


def test_worker_process_runs_the_flow_into_the_store_and_status_says_completed_mongomock_launchpad(
    tmp_path, mongomock_lp, fake, capsys
):
    """The worker SLURM would start, as a plain process: drains the LaunchPad, fills the store."""
    submit_fake(capsys, mongomock_lp, "--project", "proj")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "workflows.executors.fw_worker", "--launchpad", str(mongomock_lp)]
    run = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    status = cli_json(capsys, "status", "--launchpad", str(mongomock_lp))
    assert status["counts"] == {"COMPLETED": len(status["jobs"])}
    assert status["sites"][0]["state"] == "COMPLETED"
    # gas H2, bare, H top1: pre-relax/relax/static each, replacements included, plus the summary
    assert f"ran {len(status['jobs'])} fireworks" in run.stdout
    store = make_store(ArscSettings(project=tmp_path / "proj"))
    store.connect()
    site = store.query_one({"metadata.arsc_doc": "site"}, ["output"])
    assert site["output"]["site_id"] == SITE
    assert store.count({"output.fingerprint": {"$exists": True}}) > 0
    again = submit_fake(capsys, mongomock_lp, "--project", "proj")
    assert again["added"] == [] and again["unfinished"] == 0


# --- the slurm tier: real SLURM, real MLIP jobs ----------------------------------------

SLURM_SITE = ["--dft-engine", "mlip", "--preset", "chgnet", "--no-prerelax", *HER_TOP1]


class Arsc:
    """``arsc`` as a real subprocess with the test's environment."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.cwd, self.env = tmp_path, env

    def __call__(self, *args: str) -> dict:
        cmd = [str(Path(sys.executable).with_name("arsc")), *args, "--json"]
        run = subprocess.run(
            cmd, cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=300
        )
        assert run.returncode == 0, run.stderr[-3000:]
        return json.loads(run.stdout)

    def sacct(self, job_ids: list[str]) -> dict[str, str]:
        """SLURM's own records (jobcomp file): job id -> state."""
        out = subprocess.run(
            ["sacct", "-c", "-P", "-n", "--format=JobID,JobName,State", "-j", ",".join(job_ids)],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return {line.split("|")[0]: line.split("|")[2] for line in out.splitlines() if line}

    def wait_queue_empty(self, name: str, timeout: float = 400) -> None:
        end = time.time() + timeout
        while time.time() < end:
            out = subprocess.run(
                ["squeue", "-h", "-n", name], env=self.env, capture_output=True, text=True
            ).stdout
            if not out.strip():
                return
            time.sleep(1)
        raise AssertionError(f"SLURM jobs named {name} did not finish in {timeout} s")


def computations(project: Path) -> dict[str, int]:
    """Fingerprint -> how many times it was computed (a reused document repeats its wall time)."""
    store = make_store(ArscSettings(project=project))
    store.connect()
    runs: dict[str, set[float]] = {}
    for doc in store.query({"output.fingerprint": {"$exists": True}}, ["output"]):
        out = doc["output"]
        runs.setdefault(out["fingerprint"], set()).add(out["wall_time"])
    return {fp: len(times) for fp, times in runs.items()}


@pytest.mark.slurm
def test_submit_through_slurm_scancel_lost_resume_completed_nothing_recomputed_mongomock_launchpad(
    tmp_path, mongomock_lp, slurm
):
    """The issue's scenario on a real SLURM with real CHGNet jobs (one site, HER, top1).

    submit -> sbatch (SLURM's records) -> scancel while a site relaxation runs
    -> status LOST -> resume -> status COMPLETED, results in the store; SLURM
    ran exactly two worker jobs, every calculation was computed once and the
    jobs finished before the cancel ran once; submitting again adds nothing;
    a new request with the same structures and settings recomputes nothing.
    """
    pytest.importorskip("chgnet", reason="the MLIP extra (scripts/install.sh installs it)")
    name = f"arsc-t{os.getpid()}"
    q = tmp_path / "q.yaml"
    q.write_text(f"partition: debug\ncpus_per_task: 1\njob_name: {name}\nping_seconds: 1\n")
    env = {**os.environ, "SLURM_CONF": slurm, "OMP_NUM_THREADS": "1"}
    arsc = Arsc(tmp_path, env)
    common = ["--launchpad", str(mongomock_lp), "--qadapter", str(q), "--project", "proj"]
    project = tmp_path / "proj"

    sub = arsc("submit", SITE, "--engine", "fireworks", *SLURM_SITE, "--min-image", "9.5", *common)
    assert len(sub["added"]) == 1 and len(sub["queue_jobs"]) == 1 and sub["sequential"]
    first_job = sub["queue_jobs"][0]

    def running_site_relax() -> dict | None:
        jobs = arsc("status", "--launchpad", str(mongomock_lp))["jobs"]
        site_relax = [j for j in jobs if j["name"].startswith(SITE) and j["name"].endswith("relax")]
        return next((j for j in site_relax if j["state"] == "RUNNING"), None)

    deadline, victim = time.time() + 300, None
    while victim is None and time.time() < deadline:
        victim = running_site_relax()
        time.sleep(1)
    assert victim is not None, "no site relaxation started"
    subprocess.run(["scancel", first_job], env=env, check=True)  # the allocation dies
    arsc.wait_queue_empty(name)
    time.sleep(3)  # no ping for longer than --lost-after below
    lost = arsc("status", "--launchpad", str(mongomock_lp), "--lost-after", "2")
    states = {j["fw_id"]: j["state"] for j in lost["jobs"]}
    # the job running when the allocation died is LOST: the site relaxation seen
    # above, or, if that one finished in the moment before the cancel, its successor
    lost_ids = [i for i, s in states.items() if s == "LOST"]
    assert len(lost_ids) == 1
    victim = next(j for j in lost["jobs"] if j["fw_id"] == lost_ids[0])
    assert victim["name"].startswith(SITE)
    assert lost["sites"][0]["state"] == "LOST"
    finished = [i for i, s in states.items() if s == "COMPLETED"]

    res = arsc("resume", "--launchpad", str(mongomock_lp), "--lost-after", "2", "--project", "proj")
    assert res["rerun"] == [victim["fw_id"]] and len(res["queue_jobs"]) == 1
    arsc.wait_queue_empty(name)
    done = arsc("status", "--launchpad", str(mongomock_lp))
    assert done["counts"] == {"COMPLETED": len(done["jobs"])}
    assert done["sites"][0]["state"] == "COMPLETED"
    by_id = {j["fw_id"]: j for j in done["jobs"]}
    assert all(by_id[i]["launches"] == 1 for i in finished)  # finished before the cancel: ran once
    assert by_id[victim["fw_id"]]["launches"] == 2
    assert by_id[victim["fw_id"]]["worker"] == f"slurm-{res['queue_jobs'][0]}"
    # SLURM's own records: the cancelled worker and the resumed one, nothing else
    assert arsc.sacct([first_job, res["queue_jobs"][0]]) == {
        first_job: "CANCELLED",
        res["queue_jobs"][0]: "COMPLETED",
    }
    # results in the store: 3 structures (H2, bare, H top1) x relax + static, each computed once
    counts = computations(project)
    assert len(counts) == 6 and set(counts.values()) == {1}
    store = make_store(ArscSettings(project=project))
    store.connect()
    site = store.query_one({"metadata.arsc_doc": "site"}, ["output"])["output"]
    assert site["site_id"] == SITE and site["engine"] == "mlip"

    again = arsc("submit", SITE, *SLURM_SITE, "--min-image", "9.5", *common)
    assert again["added"] == [] and again["queue_jobs"] == []
    # a new request (another --min-image) building the same 48-atom cells: all reused
    other = arsc("submit", SITE, *SLURM_SITE, "--min-image", "9", *common)
    assert len(other["added"]) == 1 and len(other["queue_jobs"]) == 1
    arsc.wait_queue_empty(name)
    assert arsc.sacct(other["queue_jobs"]) == {other["queue_jobs"][0]: "COMPLETED"}
    final = arsc("status", "--launchpad", str(mongomock_lp))
    assert final["counts"] == {"COMPLETED": len(final["jobs"])}
    assert computations(project) == counts  # nothing computed again
