"""Benchmark PFESS on the authors' demo pairs: wall time, feature counts, peak memory.

Usage::

    .venv/bin/python scripts/bench_pfess.py                 # 1-D, spaces full and authors
    .venv/bin/python scripts/bench_pfess.py --dim 3 --space full
    .venv/bin/python scripts/bench_pfess.py --mode authors --space authors --n-estimators 50
    .venv/bin/python scripts/bench_pfess.py --synthetic-rows 2000 --space authors

Peak memory is given twice: the largest traced allocation total during the
run (tracemalloc; numpy reports its arrays to it) and the process's maximum
resident set size (getrusage, includes the interpreter and imports).
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from arsc.elements import AUTHORS_METALS
from arsc.pfess import AuthorsSettings, run_pfess

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "tests" / "data" / "pfess-demo" / "pairs.csv"

#: The authors' counts on the demo (their feature.py lists the 18 unary
#: columns twice, so compare with these minus 18 before deduplication).
AUTHORS_COUNTS = {"candidates after their any-zero drop": 163_659, "after inf/NaN/dups": 156_788}


def synthetic(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "metal1": rng.choice(AUTHORS_METALS, rows),
            "metal2": rng.choice(AUTHORS_METALS, rows),
            "target": rng.normal(size=rows),
        }
    )


def bench(data: pd.DataFrame, space: str, args: argparse.Namespace) -> None:
    settings = AuthorsSettings(
        n_estimators=args.n_estimators, n_jobs=args.jobs, time_limit_s=args.time_limit
    )
    tracemalloc.start()
    t0 = time.perf_counter()
    result = run_pfess(
        data,
        args.target,
        elements=args.elements,
        dim=args.dim,
        top=args.top,
        mode=args.mode,
        groups=args.groups,
        space=space,
        authors=settings,
    )
    wall = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"== space {space!r}, mode {args.mode}, dim {args.dim}, {os.cpu_count()} CPUs")
    print(f"wall time: {wall:.1f} s")
    print("features: " + ", ".join(f"{k} {v}" for k, v in result.cleaning.items()))
    print(f"peak traced memory: {peak / 1024**2:.0f} MiB; max RSS so far: {rss:.0f} MiB")
    for d in result.results:
        print(
            f"  {d.dim}-D R^2 {d.r2:.5f}  RMSE {d.rmse:.4f}  CV RMSE ({d.groups}) "
            f"{d.cv_rmse:.4f}  {' ; '.join(d.formulas)}"
        )
    if result.interrupted:
        print("  (authors' subset search stopped at the time limit)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(DEMO))
    parser.add_argument("--target", default="property")
    parser.add_argument("--elements", default="authors")
    parser.add_argument("--space", action="append", help="full, authors (default: both)")
    parser.add_argument("--dim", type=int, default=1)
    parser.add_argument("--top", type=int, default=1)
    parser.add_argument("--mode", default="fast")
    parser.add_argument("--groups", default="pair")
    parser.add_argument("--n-estimators", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--time-limit", type=float, default=None)
    parser.add_argument(
        "--synthetic-rows",
        type=int,
        default=0,
        help="instead of the data, N random pairs of the authors' metals with a random "
        "target (shows that memory stays bounded for long tables)",
    )
    args = parser.parse_args()
    data = synthetic(args.synthetic_rows) if args.synthetic_rows else pd.read_csv(args.data)
    if args.synthetic_rows:
        args.target = "target"
    print(
        "authors' feature.py on the demo: "
        + ", ".join(f"{k} {v}" for k, v in AUTHORS_COUNTS.items())
    )
    for space in args.space or ["full", "authors"]:
        bench(data, space, args)


if __name__ == "__main__":
    main()
