"""The process a queue job runs: pull READY fireworks from the LaunchPad and run them.

``python -m workflows.executors.fw_worker --launchpad FILE [--ping S] [--max-launches N]``

The worker runs fireworks one after another, each in its own
``launcher_<timestamp>`` folder, until none is ready (or ``--max-launches``),
so the steps a finished job adds (jobflow replacements: the static after a
relaxation) run in the same allocation. Its FireWorker is named after the
SLURM job (``slurm-<SLURM_JOB_ID>``), which ``arsc status`` shows per launch.

On the mongomock test backend the worker persists the LaunchPad when it
checks a firework out, at every ping and when it completes one, so a killed
worker leaves a RUNNING launch whose pings stop, as with MongoDB.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
from pathlib import Path
from typing import Any

from workflows.executors.fireworks import MOCK_LOCK, PING_SECONDS, flush, open_launchpad

#: LaunchPad methods after which the mongomock backend is persisted.
PERSIST_AFTER = ("checkout_fw", "ping_launch", "complete_launch")


def _persisting(lp: Any, name: str) -> None:
    """Make ``lp.<name>`` write and flush under :data:`MOCK_LOCK` (one thread at a time)."""
    method = getattr(lp, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with MOCK_LOCK:
            out = method(*args, **kwargs)
            flush(lp)
        return out

    setattr(lp, name, wrapped)


def worker_name() -> str:
    """Name of this worker: ``slurm-<job id>`` inside SLURM, else ``<host>-<pid>``."""
    job = os.environ.get("SLURM_JOB_ID")
    return f"slurm-{job}" if job else f"{socket.gethostname()}-{os.getpid()}"


def run_worker(launchpad: str, ping: float = PING_SECONDS, max_launches: int = 0) -> int:
    """Run ready fireworks until none is left (or ``max_launches``); return how many ran."""
    from fireworks.core import rocket
    from fireworks.core.fworker import FWorker
    from fireworks.core.rocket_launcher import launch_rocket
    from fireworks.utilities.fw_utilities import create_datestamp_dir, get_fw_logger

    rocket.PING_TIME_SECS = int(ping)  # read by the rocket's ping thread
    fworker = FWorker(name=worker_name())
    logger = get_fw_logger("arsc.worker", stream_level="CRITICAL")
    ran = 0
    with open_launchpad(launchpad, write=True) as lp:
        for name in PERSIST_AFTER:
            _persisting(lp, name)
        while not max_launches or ran < max_launches:
            if not lp.run_exists(fworker):
                break
            folder = create_datestamp_dir(str(Path.cwd()), logger, prefix="launcher_")
            with contextlib.chdir(folder):
                if not launch_rocket(lp, fworker):
                    break
            ran += 1
    return ran


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run the worker; return 0 (also when nothing was ready)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--launchpad", required=True, help="LaunchPad YAML file")
    parser.add_argument("--ping", type=float, default=PING_SECONDS, help="seconds between pings")
    parser.add_argument("--max-launches", type=int, default=0, help="0: until none is ready")
    args = parser.parse_args(argv)
    ran = run_worker(args.launchpad, args.ping, args.max_launches)
    print(f"arsc worker {worker_name()}: ran {ran} fireworks")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
