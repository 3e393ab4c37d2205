"""Small real jobflow jobs for the FireWorks/SLURM tests (importable by the SLURM workers)."""

from __future__ import annotations

import time
from pathlib import Path

from jobflow import job


@job
def add(a: float, b: float, log: str | None = None, sleep: float = 0.0) -> float:
    """Add two numbers after sleeping; append a line to ``log`` each time it runs."""
    time.sleep(sleep)
    if log:
        with Path(log).open("a") as fh:
            fh.write(f"add {a} {b}\n")
    return a + b
