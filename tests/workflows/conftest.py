"""Fixtures shared by the workflow tests: the FAKE test engine, FireWorks and SLURM.

The FAKE engine (tests/workflows/fake_engine.py) is an orchestration seam, not
DFT. No MongoDB server can run here, so the LaunchPad is FireWorks' mongomock
backend (a JSON file), as the tests' names say; SLURM is real.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from workflows.executors.fireworks import open_launchpad

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake_engine_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register the FAKE engine as ``fake``, with none of its test switches set."""
    from tests.workflows import fake_engine

    monkeypatch.setitem(fake_engine.base.ENGINE_MODULES, "fake", fake_engine.__name__)
    monkeypatch.setitem(fake_engine.base._REGISTRY, "fake", fake_engine.ENGINE)
    for name in ("FAKE_ENGINE_SLEEP", "FAKE_ENGINE_COUNTER", "FAKE_ENGINE_FAIL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_cli_project(
    fake_engine_registered: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The FAKE engine for CLI runs: no user settings, calculations counted, cwd a temp folder.

    ``tmp_path/count`` lists every calculation the engine ran (one line each).
    """
    for name in ("ARSC_CONFIG_FILE", "ARSC_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FAKE_ENGINE_COUNTER", str(tmp_path / "count"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def slurm_cluster() -> str:
    """Start the project's single-node SLURM (scripts/slurm.sh), as CI does; return SLURM_CONF.

    The path is also exported to this process's environment, so in-process
    sbatch/squeue calls reach the same cluster.
    """
    if os.geteuid() != 0:
        pytest.skip("the local SLURM needs root (apt, munge); CI runs as root")
    script = str(ROOT / "scripts/slurm.sh")
    subprocess.run(["bash", script, "start"], check=True, timeout=600)
    conf = subprocess.run(["bash", script, "conf"], capture_output=True, text=True, check=True)
    os.environ["SLURM_CONF"] = conf.stdout.strip()
    return conf.stdout.strip()


@pytest.fixture
def slurm(slurm_cluster: str) -> Iterator[str]:
    """The local SLURM for one test; jobs the test leaves behind are cancelled after it.

    A test that fails midway (e.g. before its own scancel) would otherwise leave
    a sleeping worker in the queue, and the next test's wait for an empty queue
    would fail for a reason that is not its own.
    """
    yield slurm_cluster
    subprocess.run(["scancel", "--user", str(os.geteuid())], check=False)
    deadline = time.time() + 60
    while time.time() < deadline:
        out = subprocess.run(["squeue", "-h"], capture_output=True, text=True, check=False)
        if not out.stdout.strip():
            return
        time.sleep(0.5)


@pytest.fixture
def mongomock_lp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A LaunchPad file on the mongomock backend (tests only), reset and empty."""
    db = tmp_path / "launchpad-db.json"
    db.write_text("{}")
    monkeypatch.setenv("MONGOMOCK_SERVERSTORE_FILE", str(db))
    lp_file = tmp_path / "launchpad.yaml"
    lp_file.write_text("host: localhost\nname: arsc_test\n")
    with open_launchpad(lp_file, write=True) as lp:
        lp.reset("", require_password=False)
    return lp_file
