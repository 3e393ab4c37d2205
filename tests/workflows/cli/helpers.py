"""Run the real ``arsc`` command in a subprocess, as a user's shell would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def arsc(*args: str, cwd: str | Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m workflows.cli.main ARGS`` (wide terminal, empty PATH); capture output."""
    return subprocess.run(
        [sys.executable, "-m", "workflows.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"COLUMNS": "200", "PATH": ""},
    )
