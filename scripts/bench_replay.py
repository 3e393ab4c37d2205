"""Benchmark acquisition strategies by offline replay on the two tables of tests/data/replay.

Runs ``arsc campaign replay`` (20 seeds, greedy/ucb/ei/thompson vs random)
on the sac-hoer ORR table and the synthetic DAC table for each surrogate
(default: hier and arsc), and prints each table with its wall and CPU time.
``--quick`` runs 3 seeds. ``--calibration`` instead prints, per table and
surrogate, held-out coverage of the predictive std and the bias of the
predictions for the true top-10 (10 random splits; the top-10 never in
training), which is what decides whether the pruning rule is safe.
``--large`` instead times ONE replay (5 strategies x ``--seeds``, default 20)
on a 3000-row synthetic table built like ``synthetic_orr.csv``
(``scripts/make_replay_tables.py``, written to a temporary folder) and
prints its wall and CPU time. ``--hetero`` does the same on a 4212-row
heteronuclear table that is *not* drawn from the ARSC model's own form
(:func:`hetero_table`: 27 metals, every unordered pair x 12 first-shell
motifs, one adsorption free energy; target ``dG``), the stress test for a
surrogate that only fits its own functional form.

Usage::

    .venv/bin/python scripts/bench_replay.py [--quick] [--surrogates arsc,gp,forest] [--only sac]
    .venv/bin/python scripts/bench_replay.py --large [--surrogates arsc]
    .venv/bin/python scripts/bench_replay.py --hetero [--surrogates hier,arsc,forest]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from arsc.elements import load_elements
from arsc.parallel import default_workers
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


#: Metals of the heteronuclear stress table (every unordered pair of them).
HETERO_METALS: tuple[str, ...] = (
    "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Y", "Zr", "Nb", "Mo",
    "Ru", "Rh", "Pd", "Ag", "Cd", "Hf", "Ta", "W", "Re", "Os", "Ir", "Pt", "Au",
)  # fmt: skip
#: First-shell motifs: N or C at the positions (shared 1, shared 2, outer a and b of metal 1,
#: outer a and b of metal 2); each metal binds both shared atoms and its own two outer ones.
HETERO_MOTIFS: tuple[str, ...] = (
    "NNNNNN", "NNNNCC", "NNCCNN", "NNNCNC", "CCNNNN", "NCNNNN",
    "NCNCNC", "CCCCNN", "NNCCCC", "CNNNNN", "NCCCNN", "CCNNCC",
)  # fmt: skip


def hetero_table(path: Path, seed: int = 0) -> None:
    """Write the heteronuclear stress table (arbitrary test values, not results).

    dG of the binding metal x (drawn at random from each pair) with partner y
    on motif k: a smooth function of x's standardised properties (d, X, IE),
    a random per-metal offset (0.45 eV), a random partner offset (0.25 eV)
    plus a partner electronegativity term, a metal-specific slope in x's own
    N count (through X plus 0.12 eV noise), shared-N terms (common and
    metal-specific), the partner's N count, a random partner x motif term
    (0.08 eV), an electronegativity-mismatch pair term, and 0.08 eV noise.
    None of it is the ARSC power law or its hierarchical form.
    """
    rng = np.random.default_rng(seed)
    metals = list(HETERO_METALS)
    props = load_elements("default").loc[metals, ["n", "S", "d", "IE", "X", "R"]].astype(float)
    z = (props - props.mean()) / props.std()
    g = 0.6 * z["d"] - 0.3 * z["X"] + 0.25 * z["d"] ** 2 + 0.2 * z["IE"]
    own_offset = pd.Series(rng.normal(0, 0.45, len(metals)), metals)
    partner_offset = pd.Series(rng.normal(0, 0.25, len(metals)), metals)
    slope = pd.Series(-0.15 + 0.12 * z["X"] + rng.normal(0, 0.12, len(metals)), metals)
    shared_slope = pd.Series(rng.normal(0, 0.1, len(metals)), metals)
    partner_motif = {(m, k): rng.normal(0, 0.08) for m in metals for k in HETERO_MOTIFS}
    rows = []
    for i, a in enumerate(metals):
        for b in metals[i + 1 :]:
            for k in HETERO_MOTIFS:
                x, y = (a, b) if rng.random() < 0.5 else (b, a)
                own = k[:4] if x == a else k[:2] + k[4:]
                other = k[:2] + k[4:] if x == a else k[:4]
                n_own, n_shared = own.count("N"), own[:2].count("N")
                mismatch = (z.loc[x, "X"] - z.loc[y, "X"]) ** 2 * (1.0 if n_shared == 2 else 0.5)
                dg = (
                    1.0 + g[x] + own_offset[x] + partner_offset[y] + 0.25 * z.loc[y, "X"]
                    + slope[x] * n_own + (shared_slope[x] - 0.12) * n_shared
                    + 0.05 * other.count("N") + partner_motif[(y, k)] + 0.15 * mismatch
                    + rng.normal(0, 0.08)
                )  # fmt: skip
                rows.append(
                    {"id": f"{x}-{y}_{k}", "metal1": x, "metal2": y, "motif": k,
                     "coord_N1": n_own, "coord_C1": 4 - n_own, "coord_N2": other.count("N"),
                     "coord_C2": 4 - other.count("N"), "dG": round(float(dg), 4)}
                )  # fmt: skip
    pd.DataFrame(rows).to_csv(path, index=False)


def time_replay(kind: str, surrogate: str, seeds: int) -> None:
    """One replay of 5 strategies x ``seeds`` on a generated table; print wall and CPU time.

    ``kind`` is ``large`` (the 3000-row synthetic table, target overpotential)
    or ``hetero`` (the heteronuclear stress table, target dG).
    """
    label, target, make = {
        "large": (f"{LARGE_ROWS}-row synthetic table", "overpotential", large_table),
        "hetero": ("heteronuclear stress table", "dG", hetero_table),
    }[kind]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{kind}.csv"
        make(path)
        wall, cpu = time.perf_counter(), _cpu_seconds()
        code = arsc(
            ["campaign", "replay", str(path), "--target", target, "--objective", "min",
             "--top", "10", "--init", "20", "--batch", "10", "--seeds", str(seeds),
             "--surrogate", surrogate]
        )  # fmt: skip
        wall, cpu = time.perf_counter() - wall, _cpu_seconds() - cpu
    print(f"{label}, 5 strategies x {seeds} seeds, surrogate {surrogate}: exit {code}, "
          f"replay wall {wall:.0f} s, CPU {cpu:.0f} s (all processes; "
          f"{default_workers()} workers)\n", flush=True)  # fmt: skip


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the replay's workers), s."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main() -> None:
    """Run every configuration and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 seeds instead of 20")
    parser.add_argument("--surrogates", default="hier,arsc", help="comma-separated surrogate names")
    parser.add_argument("--only", default=None, help="run only tables whose name contains this")
    parser.add_argument("--calibration", action="store_true", help="calibration check only")
    parser.add_argument("--large", action="store_true", help="time the 3000-row replay only")
    parser.add_argument(
        "--hetero", action="store_true", help="the heteronuclear stress-table replay only"
    )
    args = parser.parse_args()
    seeds = 3 if args.quick else 20
    if args.large or args.hetero:
        for surrogate in args.surrogates.split(","):
            time_replay("large" if args.large else "hetero", surrogate, seeds)
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
            wall, cpu = time.perf_counter(), _cpu_seconds()
            code = arsc(
                ["campaign", "replay", str(DATA / name), "--target", "overpotential",
                 "--objective", "min", "--top", "10", "--init", str(init), "--batch", str(batch),
                 "--seeds", str(seeds), "--surrogate", surrogate]
            )  # fmt: skip
            wall, cpu = time.perf_counter() - wall, _cpu_seconds() - cpu
            print(f"{name} init {init} batch {batch} surrogate {surrogate}: exit {code}, "
                  f"wall {wall:.0f} s, CPU {cpu:.0f} s\n", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
