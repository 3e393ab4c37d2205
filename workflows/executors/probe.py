"""A trivial job to check a queue set-up end to end (and to time the path through it).

Examples
--------
>>> from jobflow import run_locally
>>> from jobflow import Flow
>>> flow = Flow([probe("hello")])
>>> out = run_locally(flow, log=False)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from jobflow import job


@job
def probe(tag: str) -> dict[str, Any]:
    """Return where and when the job ran (host, SLURM job id, Unix time in s)."""
    return {
        "tag": tag,
        "host": socket.gethostname(),
        "slurm_job": os.environ.get("SLURM_JOB_ID"),
        "finished_at": time.time(),
    }
