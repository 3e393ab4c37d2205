"""Benchmark acquisition strategies by offline replay on the two tables of tests/data/replay.

Runs ``arsc campaign replay`` (20 seeds, greedy/ucb/ei/thompson vs random)
on the sac-hoer ORR table and the synthetic DAC table for each surrogate
(default: arsc and gp), and prints each table with its wall and CPU time.
``--quick`` runs 3 seeds.

Usage::

    .venv/bin/python scripts/bench_replay.py [--quick] [--surrogates arsc,gp,forest] [--only sac]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from workflows.cli.main import main as arsc

DATA = Path(__file__).parents[1] / "tests" / "data" / "replay"
#: (table, init, batch): the sac-hoer table has 57 rows, so it is also run with a small start.
RUNS: tuple[tuple[str, int, int], ...] = (
    ("sac_hoer_orr.csv", 20, 10),
    ("sac_hoer_orr.csv", 5, 3),
    ("synthetic_orr.csv", 20, 10),
)


def main() -> None:
    """Run every configuration and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 seeds instead of 20")
    parser.add_argument("--surrogates", default="arsc,gp", help="comma-separated surrogate names")
    parser.add_argument("--only", default=None, help="run only tables whose name contains this")
    args = parser.parse_args()
    seeds = 3 if args.quick else 20
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
