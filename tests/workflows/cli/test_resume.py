"""Kill -9 during ``arsc run``, then ``arsc run --resume``: real processes, real store.

The engine is the FAKE test engine (an orchestration seam, not a DFT stand-in)
with a sleep per computation, run through ``python -m tests.workflows.fake_cli``;
every computation (cache miss) appends its fingerprint to a counter file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.paths import ROOT
from workflows.sqlite_store import SqliteStore

ROOT = ROOT
SITE = "Fe-Co_qv-n6_graphene"
ARGS = ["--engine", "fake", "--prerelax-engine", "fake", "--min-image", "9.5", "--no-progress"]


def _env(counter: Path, sleep: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARSC_", "FAKE_ENGINE_"))}
    env.update(
        {
            "FAKE_ENGINE_COUNTER": str(counter),
            "FAKE_ENGINE_SLEEP": str(sleep),
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "tests.workflows.fake_cli", *args]


def _finished(store_path: Path) -> dict[str, set[str]]:
    """Job uuid+index of every stored calculation document, by fingerprint."""
    if not store_path.exists():
        return {}
    store = SqliteStore(str(store_path), "jobs", key="uuid")
    store.connect()
    try:
        out: dict[str, set[str]] = {}
        for d in store.query(
            {"output.fingerprint": {"$exists": True}}, ["uuid", "index", "output"]
        ):
            if d["output"]["status"] == "ok":
                out.setdefault(d["output"]["fingerprint"], set()).add(f"{d['uuid']}/{d['index']}")
        return out
    finally:
        store.close()


def test_kill_9_then_resume_recomputes_nothing_finished_and_loses_nothing(tmp_path) -> None:
    project, counter = tmp_path / "proj", tmp_path / "count"
    store_path = project / "store.sqlite"
    log = tmp_path / "first-run.log"
    err = log.open("w")
    proc = subprocess.Popen(
        _cli("run", SITE, "--project", str(project), *ARGS),
        cwd=ROOT,
        env=_env(counter, sleep=0.4),
        stdout=subprocess.DEVNULL,
        stderr=err,
    )
    try:
        deadline = time.monotonic() + 120
        while len(_finished(store_path)) < 4:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no calculation finished within 120 s"
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        err.close()
    assert proc.returncode == -signal.SIGKILL
    before = _finished(store_path)
    assert before, "nothing had finished before the kill"

    resumed = subprocess.run(
        _cli("run", "--resume", "--project", str(project), "--no-progress"),
        cwd=ROOT,
        env=_env(counter, sleep=0.0),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr

    per_fp = Counter(line.split()[0] for line in counter.read_text().splitlines())
    after = _finished(store_path)
    # no calculation finished before the kill was computed again
    assert all(per_fp[fp] == 1 for fp in before), {fp: per_fp[fp] for fp in before}
    # only the one in flight at the kill may have been computed twice
    assert sum(n > 1 for n in per_fp.values()) <= 1
    # nothing finished is lost: every document stored before the kill is still there
    assert all(jobs <= after[fp] for fp, jobs in before.items())
    # the final set is complete: bare + 9 adsorbed states and 2 molecules, relax + static
    assert len(after) == (1 + 9 + 2) * 2
    assert set(after) == set(per_fp)
    assert len(before) < len(after)  # the kill did interrupt the run
    store = SqliteStore(str(store_path), "jobs", key="uuid")
    store.connect()
    site = store.query_one({"metadata.arsc_doc": "site"}, ["output"])["output"]
    store.close()
    assert [s["status"] for s in site["states"]] == ["ok"] * 10
