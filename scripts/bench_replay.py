"""Benchmark acquisition strategies by offline replay on the two tables of tests/data/replay.

Runs ``arsc campaign replay`` (20 seeds, greedy/ucb/ei/thompson vs random)
on the sac-hoer ORR table and the synthetic DAC table for each surrogate
(default: arsc and gp), and prints each table with its wall and CPU time.
``--quick`` runs 3 seeds. ``--calibration`` instead prints, per table and
surrogate, held-out coverage of the predictive std and the bias of the
predictions for the true top-10 (10 random splits; the top-10 never in
training), which is what decides whether the pruning rule is safe.
``--large`` instead times ONE replay (5 strategies x ``--seeds``, default 20)
on a 3000-row synthetic table built like ``synthetic_orr.csv``
(``scripts/make_replay_tables.py``, written to a temporary folder) and
prints its wall and CPU time.

Usage::

    .venv/bin/python scripts/bench_replay.py [--quick] [--surrogates arsc,gp,forest] [--only sac]
    .venv/bin/python scripts/bench_replay.py --large [--surrogates arsc]
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from pathlib import Path

import numpy as np

from arsc.replay import ReplayOracle
from arsc.surrogates import make_surrogate
from workflows.cli.main import main as arsc

DATA = Path(__file__).parents[1] / "tests" / "data" / "replay"
#: (table, init, batch): the sac-hoer table has 57 rows, so it is also run with a small start.
RUNS: tuple[tuple[str, int, int], ...] = (
    ("sac_hoer_orr.csv", 20, 10),
    ("sac_hoer_orr.csv", 5, 3),
    ("synthetic_orr.csv", 20, 10),
)


#: (table, training rows) of the calibration check.
CALIBRATION: tuple[tuple[str, int], ...] = (
    ("sac_hoer_orr.csv", 15),
    ("sac_hoer_orr.csv", 30),
    ("synthetic_orr.csv", 60),
)


def calibration(name: str, n_train: int, surrogate: str, splits: int = 10) -> None:
    """Held-out coverage within 1 and 2 sd, and z = (mu - y)/sd of the top-10 vs the rest."""
    oracle = ReplayOracle(DATA / name, "overpotential")
    y = oracle.query(np.arange(len(oracle)))
    top = np.argsort(y, kind="stable")[:10]
    z_all, z_top, z_rest = [], [], []
    for seed in range(splits):
        pool = np.setdiff1d(np.arange(len(y)), top)
        train = np.random.default_rng(seed).choice(pool, n_train, replace=False)
        test = np.setdiff1d(np.arange(len(y)), train)
        mu, sd = make_surrogate(surrogate, oracle.table)(train, y[train], test, seed)
        z = (mu - y[test]) / sd
        z_all += z.tolist()
        z_top += z[np.isin(test, top)].tolist()
        z_rest += z[~np.isin(test, top)].tolist()
    za, zt, zr = np.abs(z_all), np.array(z_top), np.array(z_rest)
    print(
        f"{name} {surrogate} train {n_train}: within 1 sd {np.mean(za <= 1):.2f}, "
        f"2 sd {np.mean(za <= 2):.2f} (calibrated: 0.68, 0.95); top-10 mean z {zt.mean():.2f}, "
        f"P(z > 2) {np.mean(zt > 2):.2f}; other rows mean z {zr.mean():.2f}",
        flush=True,
    )


#: Rows of the large timing table.
LARGE_ROWS = 3000


def large_table(path: Path, rows: int = LARGE_ROWS) -> None:
    """Write a ``rows``-row synthetic DAC table (scripts/make_replay_tables.py, seed 1)."""
    spec = importlib.util.spec_from_file_location(
        "make_replay_tables", Path(__file__).with_name("make_replay_tables.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sites = int(rows * 4 / 3)  # repeated sites are dropped: ~3280 unique of 4000 drawn
    table = module.synthetic_table(sites=sites, seed=1).head(rows)
    if len(table) < rows:
        raise SystemExit(f"only {len(table)} distinct sites drawn; raise sites")
    table.to_csv(path, index=False, float_format="%.4f")


def time_large(surrogate: str, seeds: int) -> None:
    """One replay of 5 strategies x ``seeds`` on the large table; print wall and CPU time."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"synthetic_{LARGE_ROWS}.csv"
        large_table(path)
        wall, cpu = time.perf_counter(), time.process_time()
        code = arsc(
            ["campaign", "replay", str(path), "--target", "overpotential", "--objective", "min",
             "--top", "10", "--init", "20", "--batch", "10", "--seeds", str(seeds),
             "--surrogate", surrogate]
        )  # fmt: skip
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{LARGE_ROWS}-row synthetic table, 5 strategies x {seeds} seeds, surrogate "
          f"{surrogate}: exit {code}, replay wall {wall:.0f} s, CPU {cpu:.0f} s\n",
          flush=True)  # fmt: skip


def main() -> None:
    """Run every configuration and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 seeds instead of 20")
    parser.add_argument("--surrogates", default="arsc,gp", help="comma-separated surrogate names")
    parser.add_argument("--only", default=None, help="run only tables whose name contains this")
    parser.add_argument("--calibration", action="store_true", help="calibration check only")
    parser.add_argument("--large", action="store_true", help="time the 3000-row replay only")
    args = parser.parse_args()
    seeds = 3 if args.quick else 20
    if args.large:
        for surrogate in args.surrogates.split(","):
            time_large(surrogate, seeds)
        return
    if args.calibration:
        for surrogate in args.surrogates.split(","):
            for name, n_train in CALIBRATION:
                if not args.only or args.only in name:
                    calibration(name, n_train, surrogate)
        return
    for surrogate in args.surrogates.split(","):
        for name, init, batch in RUNS:
            if args.only and args.only not in name:
                continue
            wall, cpu = time.perf_counter(), time.process_time()
            code = arsc(
                ["campaign", "replay", str(DATA / name), "--target", "overpotential",
                 "--objective", "min", "--top", "10", "--init", str(init), "--batch", str(batch),
                 "--seeds", str(seeds), "--surrogate", surrogate]
            )  # fmt: skip
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(f"{name} init {init} batch {batch} surrogate {surrogate}: exit {code}, "
                  f"wall {wall:.0f} s, CPU {cpu:.0f} s\n", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
