"""Independent model fits in parallel processes, each with one BLAS thread.

Grouped cross-validation refits a model once per fold and a replay runs
many seeded campaigns: independent jobs of a few hundred milliseconds to a
minute each. They run in worker processes (``spawn``: no state is inherited,
so a worker computes what the parent would), and every job, in a worker or
in this process, runs with its BLAS limited to one thread: the matrices are
a few hundred rows, where threads buy little, and several processes that
each start a thread per core oversubscribe the machine (measured: an
800-row hierarchical fit took 31 s with the default threads beside other
work and 14 s with one). One thread also makes a job's floating point
independent of where it runs, so the parallel result equals the serial one.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any, TypeVar

from threadpoolctl import ThreadpoolController

T = TypeVar("T")
#: Warning when the worker processes could not start.
NO_WORKERS = (
    "worker processes could not start (run from a script without "
    "'if __name__ == \"__main__\":'?); running the jobs in this process"
)

_CONTROLLER: list[ThreadpoolController] = []


def default_workers() -> int:
    """Return the processes of a parallel run: the CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def one_thread() -> Any:
    """Context manager limiting BLAS to one thread (the controller is built once)."""
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())  # building it scans the loaded libraries
    return _CONTROLLER[0].limit(limits=1)


def _one_thread_call(fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    with one_thread():
        return fn(*args)


def process_map(fn: Callable[..., T], jobs: Sequence[tuple[Any, ...]], workers: int) -> list[T]:
    """Return ``[fn(*args) for args in jobs]``, in order, over at most ``workers`` processes.

    ``fn`` must be a module-level function (it is pickled to the workers). One
    worker, or one job, runs in this process. Each call runs with one BLAS
    thread. When the workers cannot start (a spawned worker re-imports the
    main module: a script that calls this at import time, without
    ``if __name__ == "__main__":``, breaks them) the jobs run here, with a
    warning.
    """
    n = min(workers, len(jobs))
    if n > 1:
        try:
            with ProcessPoolExecutor(n, mp_context=get_context("spawn")) as pool:
                return list(pool.map(_one_thread_call, [fn] * len(jobs), jobs))
        except BrokenProcessPool:
            warnings.warn(NO_WORKERS, RuntimeWarning, stacklevel=2)
    return [_one_thread_call(fn, args) for args in jobs]
