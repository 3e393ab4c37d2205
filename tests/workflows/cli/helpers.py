"""Run the real ``arsc`` command in a subprocess, as a user's shell would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def arsc(*args: str, cwd: str | Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m workflows.cli.main ARGS`` (wide terminal, empty PATH); capture output."""
    return subprocess.run(
        [sys.executable, "-m", "workflows.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"COLUMNS": "200", "PATH": ""},
    )


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """Run ``arsc ARGS`` in this process; return (exit code, stdout, stderr)."""
    from workflows.cli.main import main

    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err
