"""Fixtures shared by the FireWorks/SLURM tests.

No MongoDB server can run here, so the LaunchPad is FireWorks' mongomock
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
