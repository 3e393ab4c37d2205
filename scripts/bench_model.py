"""Held-out accuracy of the ARSC variants beside reference models on the shipped real data.

For each shipped data set and each split (leave one metal out, leave one
pair out, leave one coordination out) this prints the grouped-CV MAE and R^2
of the ARSC variants and of the reference models fed the same inputs
(training mean, ridge, gradient boosting; arsc.model.reference), on the
same folds, and the held-out coverage of the model's 1-sigma interval
(calibrated by conformal scaling for the hierarchical variant, so that
figure is cross-conformal and close to 0.68 by construction; the base
variant's is its raw ensemble + residual std).

Data:
- sac-hoer: arsc/data/models/prior-sac-hoer.csv (He, Wang, Ouyang, Chem.
  Mater. 2023; made from ../shared/data/sac-hoer by `arsc ingest` + the CHE
  free energies, scripts/fit_prior.py): 19 metals x k = 0, 1, 2 first-shell
  N, dG of *H, *O, *OH, *OOH.
- pfess-demo: tests/data/model/pfess_demo.csv (the authors' 56 heteronuclear
  pairs, one target), with the authors' element table.

A split whose folds are the same as an earlier split's of the same data set
(on sac-hoer every site is homonuclear, so leaving one pair out is leaving
one metal out) is not fitted again; its line names the split it equals.

Usage::

    .venv/bin/python scripts/bench_model.py [--variants base,hier] [--json]

About 1 minute on 2 shared cores (2026-12-03).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from arsc.model import fit_model
from arsc.model.table import groups

ROOT = Path(__file__).resolve().parents[1]
SETS = {
    "sac-hoer": (ROOT / "arsc/data/models/prior-sac-hoer.csv", "dG", "default"),
    "pfess-demo": (ROOT / "tests/data/model/pfess_demo.csv", "property", "authors"),
}
#: split name -> grouping of arsc fit (coordination: the first-shell counts)
SPLITS = {"metal": "metal1", "pair": "pair", "coordination": "coord"}


def _table(name: str, split: str) -> pd.DataFrame | None:
    path, _, _ = SETS[name]
    table = pd.read_csv(path)
    if split == "coordination" and not any(c.startswith("coord_") for c in table.columns):
        return None
    return table


def _pooled(model: object) -> tuple[float, float, float, float]:
    """MAE (row-weighted), mean R^2, raw 1-sigma coverage, mean group coverage after calibration."""
    fits = list(model.intermediates.values())  # type: ignore[attr-defined]
    n = sum(f.cv.n for f in fits)
    mae = sum(f.cv.mae * f.cv.n for f in fits) / n
    r2 = float(np.mean([f.cv.r2 for f in fits if f.cv.r2 is not None]))
    raw = [f.cv.coverage_1sigma for f in fits if f.cv.coverage_1sigma is not None]
    groups_ = [f.interval.group_coverage["0.68"] for f in fits if f.interval is not None]
    return (
        mae,
        r2,
        float(np.mean(raw)) if raw else float("nan"),
        float(np.mean(groups_)) if groups_ else float("nan"),
    )


def _partition(labels: np.ndarray) -> tuple[int, ...]:
    """Fold labels as codes in order of first appearance: equal for equal partitions."""
    return tuple(int(c) for c in pd.factorize(labels)[0])


def run(variants: list[str]) -> list[dict[str, object]]:
    """Every (data set, split, model) row."""
    rows: list[dict[str, object]] = []
    for name, (_, target, elements) in SETS.items():
        seen: dict[tuple[int, ...], str] = {}
        for split, grouping in SPLITS.items():
            table = _table(name, split)
            if table is None:
                continue
            labels = groups(table, grouping)
            n_groups = len(np.unique(labels))
            if n_groups < 3:
                continue
            label = f"leave one {split} out ({n_groups})"
            key = _partition(labels)
            if key in seen:
                rows.append({"data": name, "split": label, "same_as": seen[key]})
                continue
            seen[key] = label
            refs_done = False
            for variant in variants:
                start = time.perf_counter()
                model = fit_model(
                    table,
                    target,
                    elements=elements,
                    variant=variant,
                    ensemble=0 if variant == "hier" else 5,
                    groups_by=grouping,
                    cv_folds=n_groups,
                    cv_ensemble=0 if variant == "hier" else 5,
                )
                mae, r2, cover, by_group = _pooled(model)
                rows.append(
                    {
                        "data": name,
                        "split": label,
                        "model": f"ARSC {variant}",
                        "mae": mae,
                        "r2": r2,
                        "coverage": cover,
                        "group_coverage": by_group,
                        "seconds": time.perf_counter() - start,
                    }
                )
                if not refs_done:
                    for ref in model.references:
                        rows.append(
                            {
                                "data": name,
                                "split": label,
                                "model": ref.model,
                                "mae": ref.cv_mae,
                                "r2": ref.cv_r2,
                                "coverage": float("nan"),
                                "group_coverage": float("nan"),
                                "seconds": float("nan"),
                            }
                        )
                    refs_done = True
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="base,hier")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = run(args.variants.split(","))
    if args.json:
        print(json.dumps(rows))
        return 0
    print(
        f"{'data':<11} {'split':<32} {'model':<10} {'MAE eV':>7} {'R2':>6} {'in 1sd':>6} "
        f"{'groups':>6} {'s':>6}"
    )
    for r in rows:
        if "same_as" in r:
            print(f"{r['data']:<11} {r['split']:<32} same folds as {r['same_as']}")
            continue
        print(
            f"{r['data']:<11} {r['split']:<32} {r['model']:<10} {r['mae']:7.3f} "
            f"{r['r2']:6.3f} {r['coverage']:6.2f} {r['group_coverage']:6.2f} {r['seconds']:6.1f}"
        )
    print(
        "MAE, R2: grouped CV (R2 the mean over intermediates); in 1sd: fraction of held-out "
        "rows within the raw predictive std; groups: coverage of the conformally calibrated "
        "68 % interval averaged over held-out groups, each weighted equally (hier)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
