"""Least-squares fits: exhaustive l0 over small feature sets and grouped cross-validation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations, islice
from typing import Any

import numpy as np
from sklearn.base import RegressorMixin, clone
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut, cross_val_predict

#: Ridge added to the standardised Gram matrix when ranking subsets: keeps
#: near-collinear subsets solvable; the reported fits are refitted without it.
_RIDGE = 1e-10

#: Subsets solved per batch in :func:`best_subsets` (bounds memory).
_BATCH = 200_000


@dataclass(frozen=True)
class Fit:
    """A least-squares fit target ~ intercept + coefficients . features."""

    coefficients: np.ndarray
    intercept: float
    r2: float
    rmse: float


def ols(x: np.ndarray, y: np.ndarray) -> Fit:
    """Ordinary least squares with an intercept (training R^2 and RMSE)."""
    design = np.column_stack([np.ones(len(y)), x])
    sol, *_ = np.linalg.lstsq(design, y, rcond=None)
    return _fit(sol[1:], float(sol[0]), design @ sol, y)


def fit_model(model: RegressorMixin, x: np.ndarray, y: np.ndarray) -> Fit:
    """Fit a scikit-learn linear model and report its training R^2 and RMSE."""
    m: Any = clone(model).fit(x, y)
    return _fit(np.asarray(m.coef_, dtype=float), float(m.intercept_), m.predict(x), y)


def _fit(coef: np.ndarray, intercept: float, pred: np.ndarray, y: np.ndarray) -> Fit:
    res = y - pred
    tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(res @ res) / tot if tot > 0 else float("nan")
    return Fit(coef, intercept, r2, float(np.sqrt(np.mean(res**2))))


def cv_rmse(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    model: RegressorMixin | None = None,
    folds: int | None = None,
) -> float:
    """Cross-validate by groups: rows of one group are never in train and test at once.

    Parameters
    ----------
    x, y
        Features (rows x k) and target.
    groups
        Group label per row.
    model
        scikit-learn regressor (default: ordinary least squares).
    folds
        None: leave one group out; an integer: ``GroupKFold(folds)``.

    Returns
    -------
    float
        Root mean squared error of the held-out predictions, in the target's unit.
    """
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        return float("nan")
    splitter = LeaveOneGroupOut() if folds is None else GroupKFold(min(folds, n_groups))
    est = LinearRegression() if model is None else model
    pred = cross_val_predict(est, x, y, groups=groups, cv=splitter)
    return float(np.sqrt(np.mean((y - pred) ** 2)))


def _combos(m: int, k: int) -> Iterator[np.ndarray]:
    it = combinations(range(m), k)
    while True:
        chunk = np.fromiter(
            (i for c in islice(it, _BATCH) for i in c), dtype=np.int64, count=-1
        ).reshape(-1, k)
        if not len(chunk):
            return
        yield chunk


def best_subsets(
    x: np.ndarray, y: np.ndarray, k: int, top: int
) -> list[tuple[tuple[int, ...], float]]:
    """Exhaustive l0: the ``top`` k-column subsets of ``x`` with the smallest residual.

    Every subset of ``k`` columns is fitted by least squares with an intercept
    (batched normal equations on standardised columns).

    Returns
    -------
    list of (tuple of int, float)
        Column indices and residual sum of squares, best first.
    """
    mean, std = x.mean(axis=0), x.std(axis=0)
    z = (x - mean) / np.where(std > 0, std, 1.0)
    yc = y - y.mean()
    gram, proj, yy = z.T @ z, z.T @ yc, float(yc @ yc)
    ridge = _RIDGE * len(y) * np.eye(k)
    best_rss = np.empty(0)
    best_sets = np.empty((0, k), dtype=np.int64)
    for sets in _combos(x.shape[1], k):
        g = gram[sets[:, :, None], sets[:, None, :]] + ridge
        b = proj[sets]
        sol = np.linalg.solve(g, b[..., None])[..., 0]
        rss = yy - np.einsum("ij,ij->i", b, sol)
        best_rss = np.concatenate([best_rss, rss])
        best_sets = np.concatenate([best_sets, sets])
        order = np.argsort(best_rss, kind="stable")[:top]
        best_rss, best_sets = best_rss[order], best_sets[order]
    return [(tuple(int(i) for i in s), float(r)) for s, r in zip(best_sets, best_rss, strict=True)]
