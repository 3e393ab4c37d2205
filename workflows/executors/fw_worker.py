"""The process a queue job runs: pull one READY firework and run it (singleshot).

``python -m workflows.executors.fw_worker --launchpad FILE``. On the mongomock
test backend the worker persists the LaunchPad when it checks a firework out
and at every ping, so a killed worker leaves a RUNNING launch whose pings
stop, exactly what lost-run detection looks for on MongoDB.
"""

from __future__ import annotations

import argparse
from typing import Any

from workflows.executors.fireworks import PING_SECONDS, flush, open_launchpad


def _persisting(lp: Any, name: str) -> None:
    method = getattr(lp, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        out = method(*args, **kwargs)
        flush(lp)
        return out

    setattr(lp, name, wrapped)


def main(argv: list[str] | None = None) -> int:
    """Run one firework from the LaunchPad; return 0 (also when none was ready)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--launchpad", required=True)
    parser.add_argument("--ping", type=float, default=None, help="seconds between pings")
    args = parser.parse_args(argv)
    from fireworks.core import rocket
    from fireworks.core.fworker import FWorker
    from fireworks.core.rocket_launcher import launch_rocket

    rocket.PING_TIME_SECS = int(args.ping or PING_SECONDS)  # read by the rocket's ping thread
    with open_launchpad(args.launchpad, write=True) as lp:
        for name in ("checkout_fw", "ping_launch", "complete_launch"):
            _persisting(lp, name)
        launch_rocket(lp, FWorker())
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
