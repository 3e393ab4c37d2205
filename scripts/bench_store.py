"""Orchestration overhead per job on the embedded job store (goal: <= 20 ms/job for 500 jobs).

Runs a chain of N trivial jobs (each adds 1 to the previous job's output, so
every job resolves one reference and stores one document) through jobflow's
``run_locally`` on the project's embedded store (a fresh temporary project),
and prints the wall time per job. The store is then reopened, as a new
process would, to show that the documents persisted.

``--compare`` runs the same chain on maggma's MemoryStore (no persistence),
JSONStore (one file) and MontyStore (montydb, sqlite engine) too;
``--prefill K`` first puts K job documents the size of a 48-atom CalcDoc into
each store, to show how the overhead grows with the project.

Usage::

    python scripts/bench_store.py                 # embedded store, 500 jobs
    python scripts/bench_store.py --compare       # all backends
    python scripts/bench_store.py --compare --prefill 2000 --jobs 200
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jobflow import Flow, JobStore, job, run_locally
from maggma.stores import JSONStore, MemoryStore, MontyStore

from workflows.settings import ArscSettings
from workflows.store import make_store

GOAL_MS = 20.0


@job
def add_one(x: int) -> int:
    """Add one (a trivial job)."""
    return x + 1


def _embedded(folder: Path) -> JobStore:
    return make_store(ArscSettings(project=folder))


def _memory(folder: Path) -> JobStore:
    return JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})


def _json(folder: Path) -> JobStore:
    docs = JSONStore(str(folder / "docs.json"), read_only=False)
    return JobStore(
        docs, additional_stores={"data": JSONStore(str(folder / "data.json"), read_only=False)}
    )


def _monty(folder: Path) -> JobStore:
    return JobStore(
        MontyStore("docs", database_path=str(folder)),
        additional_stores={"data": MontyStore("data", database_path=str(folder))},
    )


BACKENDS: dict[str, Callable[[Path], JobStore]] = {
    "embedded (SqliteStore)": _embedded,
    "MemoryStore (not persistent)": _memory,
    "JSONStore (file)": _json,
    "MontyStore (montydb sqlite)": _monty,
}


def _calc_sized(i: int) -> dict[str, Any]:
    sites = [
        {"species": [{"element": "C", "occu": 1}], "abc": [0.1 * k, 0.2, 0.3]} for k in range(48)
    ]
    return {
        "uuid": f"prefill-{i}",
        "index": 1,
        "output": {"fingerprint": f"{i:064x}", "status": "ok", "structure": {"sites": sites}},
    }


def bench(make: Callable[[Path], JobStore], n: int, prefill: int) -> dict[str, Any]:
    """Run the chain on a fresh store; return ms/job and the documents found on reopening."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = make(folder)
        store.connect()
        if prefill:
            store.update([_calc_sized(i) for i in range(prefill)], key=["uuid", "index"])
        jobs = [add_one(0)]
        for _ in range(n - 1):
            jobs.append(add_one(jobs[-1].output))
        start = time.perf_counter()
        run_locally(Flow(jobs), store=store, log=False, root_dir=folder)
        per_job = 1000.0 * (time.perf_counter() - start) / n
        store.close()
        reopened = make(folder)
        reopened.connect()
        found = reopened.count({"uuid": {"$in": [j.uuid for j in jobs]}})
        reopened.close()
    return {"ms_per_job": per_job, "persisted": found}


def _line(name: str, result: dict[str, Any], jobs: int) -> str:
    mark = "meets" if result["ms_per_job"] <= GOAL_MS else "misses"
    return (
        f"  {name:30s} {result['ms_per_job']:7.1f} ms/job ({mark} the {GOAL_MS:g} ms goal); "
        f"{result['persisted']}/{jobs} documents found on reopening"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500, help="jobs in the chain (default 500)")
    parser.add_argument("--prefill", type=int, default=0, help="documents already in the store")
    parser.add_argument("--repeat", type=int, default=1, help="runs per backend; the best is kept")
    parser.add_argument("--compare", action="store_true", help="also maggma's stores")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    bench(_memory, 5, 0)  # warm-up: jobflow's lazy imports are not orchestration overhead
    names = list(BACKENDS) if args.compare else list(BACKENDS)[:1]
    if not args.json:
        print(
            f"orchestration overhead, {args.jobs} trivial jobs through run_locally "
            f"({args.prefill} documents already in the store; load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)",
            flush=True,
        )
    results = {}
    for name in names:
        runs = [bench(BACKENDS[name], args.jobs, args.prefill) for _ in range(args.repeat)]
        results[name] = min(runs, key=lambda r: r["ms_per_job"])
        if not args.json:
            print(_line(name, results[name], args.jobs), flush=True)
    if args.json:
        load = os.getloadavg()[0]
        payload = {"jobs": args.jobs, "prefill": args.prefill, "load": load, "results": results}
        print(json.dumps(payload))


if __name__ == "__main__":
    main()
