"""Kill -9 in the middle of a campaign round, then ``arsc campaign resume``.

Real processes and a real SIGKILL. The fast test uses the replay backend with
a delay per site (every answer is logged, so a site asked twice would show);
the slow one uses the local executor with the real MLIP engine (CHGNet) and
the embedded job store (a recomputed calculation would show as a second,
different document of its fingerprint).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.paths import ROOT
from tests.workflows.campaign_helpers import ranking, write_campaign
from workflows.campaign.definition import read_definition
from workflows.campaign.loop import run_campaign, start_campaign
from workflows.sqlite_store import SqliteStore

ROOT = ROOT


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "workflows.cli.main", *args]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARSC_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _kill_when(cmd: list[str], ready, timeout: float, log: Path) -> None:
    """Start ``cmd``, SIGKILL it as soon as ``ready()`` holds."""
    with log.open("w") as err:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + timeout
            while not ready():
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, f"not ready within {timeout} s"
                time.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == -signal.SIGKILL


def _state(folder: Path) -> dict:
    try:
        return json.loads((folder / "state.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def test_kill_9_mid_round_then_resume_asks_no_site_twice_and_ranks_as_uninterrupted(tmp_path):
    path = write_campaign(
        tmp_path / "files",
        dft={"replay": {"table": str(tmp_path / "files" / "replay.csv"), "delay_seconds": 0.3}},
        budget={"dft_calculations": 24},
    )
    folder, ledger = tmp_path / "killed", tmp_path / "killed" / "replay-calls.jsonl"

    def mid_round_1() -> bool:  # round 1's first site answered, its second not yet
        rounds = _state(folder).get("rounds", [])
        lines = ledger.read_text().splitlines() if ledger.exists() else []
        return len(rounds) == 2 and len(lines) == 3

    run = _cli("campaign", "run", str(path), "--dir", str(folder), "--no-progress")
    _kill_when(run, mid_round_1, 120, tmp_path / "killed.log")
    killed = _state(folder)
    assert killed["status"] == "running" and killed["rounds"][1]["step"] == "select"

    resumed = subprocess.run(
        _cli("campaign", "resume", str(folder), "--no-progress", "--json"),
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    out = json.loads(resumed.stdout)
    assert out["status"] == "finished"
    asked = Counter(json.loads(x)["site"] for x in ledger.read_text().splitlines())
    assert len(asked) == 6 and set(asked.values()) == {1}  # no site computed twice
    whole = tmp_path / "whole"  # the uninterrupted run (in this process: quicker)
    run_campaign(start_campaign(read_definition(path), whole, show_progress=False))
    assert ranking(folder / "state.json") == ranking(whole / "state.json")
    assert _state(folder)["accounting"]["dft_calculations"] == 24


def _fingerprint_docs(store_path: Path) -> dict[str, list[tuple]]:
    store = SqliteStore(str(store_path), "jobs", key="uuid")
    store.connect()
    try:
        out: dict[str, list[tuple]] = {}
        for d in store.query({"output.fingerprint": {"$exists": True}}, ["output"]):
            o = d["output"]
            out.setdefault(o["fingerprint"], []).append((o.get("wall_time"), o.get("energy")))
        return out
    finally:
        store.close()


@pytest.mark.slow
def test_kill_9_during_real_mlip_dft_then_resume_recomputes_nothing_finished(tmp_path):
    pytest.importorskip("chgnet")
    path = tmp_path / "mlip.yaml"
    path.write_text(
        "name: mlip-kill\n"
        "space: {metals: [Fe, Co, Ni], motifs: [qv-n6]}\n"
        "objective: {reaction: bifunctional}\n"
        "dft: {executor: local, engine: mlip, relax: mlip, modes: [top1], min_image: 9.5}\n"
        "acquisition: {strategy: ucb, batch: 1}\n"
        "budget: {dft_calculations: 10}\n"
    )
    folder = tmp_path / "killed"
    store_path = folder / "store.sqlite"

    def mid_round_1() -> bool:
        rounds = _state(folder).get("rounds", [])
        if len(rounds) != 2 or rounds[1]["step"] != "select" or not store_path.exists():
            return False
        return sum(1 for d in _fingerprint_docs(store_path).values()) >= 14  # round 0 + 2

    run = _cli("campaign", "run", str(path), "--dir", str(folder), "--no-progress")
    _kill_when(run, mid_round_1, 1800, tmp_path / "killed.log")
    before = _fingerprint_docs(store_path)
    resumed = subprocess.run(
        _cli("campaign", "resume", str(folder), "--no-progress", "--json"),
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "finished"
    after = _fingerprint_docs(store_path)
    for fp, docs in after.items():  # every copy of a fingerprint is the one computation
        assert len(set(docs)) == 1, fp
    assert set(before) <= set(after) and len(after) > len(before)
    whole = tmp_path / "whole"
    subprocess.run(
        _cli("campaign", "run", str(path), "--dir", str(whole), "--no-progress"),
        cwd=ROOT,
        env=_env(),
        check=True,
        capture_output=True,
        timeout=1800,
    )
    mine, theirs = ranking(folder / "state.json"), ranking(whole / "state.json")
    assert [r[:2] for r in mine] == [r[:2] for r in theirs]
    assert [r[2] for r in mine] == pytest.approx([r[2] for r in theirs], abs=1e-6)
