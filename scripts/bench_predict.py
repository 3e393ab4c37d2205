"""Benchmark ARSC scoring: candidate-intermediate predictions per second, ensemble std included.

Fits a model with one parameter set per intermediate (18 by default, from
synthetic data) and a bootstrap ensemble, builds a table of ``--rows`` rows
by tiling the default candidate space of ``arsc space``, and times

- ``score`` with de-duplication (equal metals and first-shell counts scored once),
- ``score`` dense (every row evaluated; the worst case, all rows distinct),
- ``predict`` (the wide output table built as well).

Each figure is the best of ``--repeat`` runs. Run:

    .venv/bin/python scripts/bench_predict.py            # 10^6 rows x 18 intermediates
    .venv/bin/python scripts/bench_predict.py --rows 100000 --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from arsc.adsorbates import adsorbates
from arsc.model import SYNTHETIC_PARAMS, fit_model, make_synthetic_table, predict, score
from arsc.space import enumerate_sites
from arsc.structures import space_table


def _params(names: list[str], seed: int) -> dict[str, dict[str, float]]:
    rng = np.random.default_rng(seed)
    base = SYNTHETIC_PARAMS["OH"]
    return {z: {k: v * rng.uniform(0.7, 1.3) for k, v in base.items()} for z in names}


def _best(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best wall time and best CPU time of this process (s) over ``repeat`` runs."""
    wall, cpu = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return min(wall), min(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--intermediates", type=int, default=18)
    parser.add_argument("--ensemble", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    names = list(adsorbates())[: args.intermediates]
    train = make_synthetic_table(params=_params(names, 0), sites=150, seed=0)
    start = time.perf_counter()
    model = fit_model(train, "dG", ensemble=args.ensemble, cv_folds=0)
    fit_s = time.perf_counter() - start

    space = space_table(enumerate_sites())
    table = pd.concat([space] * (args.rows // len(space) + 1), ignore_index=True)
    table = table.iloc[: args.rows].reset_index(drop=True)
    n = args.rows * len(names)

    runs = {
        "score, de-duplicated": _best(lambda: score(model, table, dedup=True), args.repeat),
        "score, dense": _best(lambda: score(model, table, dedup=False), args.repeat),
        "predict (wide table)": _best(lambda: predict(model, table), 1),
    }
    result = {
        "rows": args.rows,
        "distinct_sites": len(space),
        "intermediates": len(names),
        "ensemble": args.ensemble,
        "predictions": n,
        "fit_s": round(fit_s, 2),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cores": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "runs": {
            name: {
                "wall_s": round(w, 3),
                "cpu_s": round(c, 3),
                "per_wall_s": round(n / w),
                "per_cpu_s": round(n / c),
            }
            for name, (w, c) in runs.items()
        },
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"{args.rows} rows ({len(space)} distinct sites tiled) x {len(names)} intermediates, "
        f"ensemble {args.ensemble} (fit {fit_s:.1f} s); {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'':22s}{'wall s':>9s}{'predictions/s':>16s}{'CPU s':>9s}{'per CPU s':>16s}")
    for name, (w, c) in runs.items():
        print(f"{name:22s}{w:9.3f}{n / w:16,.0f}{c:9.3f}{n / c:16,.0f}")


if __name__ == "__main__":
    main()
