"""Small real jobflow jobs for the FireWorks/SLURM tests (importable by the SLURM workers)."""

from __future__ import annotations

import time
from pathlib import Path

from jobflow import Response, job


@job
def add(a: float, b: float, log: str | None = None, sleep: float = 0.0) -> float:
    """Add two numbers after sleeping; append a line to ``log`` each time it runs."""
    time.sleep(sleep)
    if log:
        with Path(log).open("a") as fh:
            fh.write(f"add {a} {b}\n")
    return a + b


@job
def add_then_replace(a: float, b: float, log: str | None = None) -> Response:
    """Add, then hand over to a new job adding 100 (a jobflow replacement, created at run time)."""
    with Path(log or "/dev/null").open("a") as fh:
        fh.write(f"add_then_replace {a} {b}\n")
    return Response(replace=add(a + b, 100, log=log))
