"""The authors' selection and sparsification (github linxy685/PFESS, ``feature.py``).

1. Standardise every clean feature; centre the target.
2. Random-forest importance screen: keep 80 % of the features, then halve the
   number kept while it is above ``stop`` (1000), refitting the forest on the
   survivors each round.
3. For k = 1..dim, fit ``LassoCV`` (alphas ``logspace(0, -5, 5) * lambda_max``,
   10-fold CV) on every k-subset of the survivors, keep subsets whose
   coefficients are all non-zero, and rank them by training RMSE.

Step 3 grows as C(n, k); it stops at ``time_limit_s`` or on Ctrl-C and
returns what it has ranked so far, marked as interrupted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LassoCV


@dataclass(frozen=True)
class AuthorsSettings:
    """Knobs of the authors' mode (their values in parentheses where they differ).

    Attributes
    ----------
    n_estimators
        Trees per random forest (authors: 2000; smaller here for speed).
    keep_fraction
        Fraction kept by the first screen (authors: 0.8).
    stop
        Halve the number kept while it is above this (authors: 1000).
    lasso_folds
        Folds of LassoCV (authors: 10).
    max_iter
        LassoCV iterations (authors: 100000).
    random_state
        Seed of the forests (authors: 42).
    n_jobs
        Parallel jobs of the forests (None: one).
    time_limit_s
        Stop the subset search after this many seconds (None: no limit).
    """

    n_estimators: int = 50
    keep_fraction: float = 0.8
    stop: int = 1000
    lasso_folds: int = 10
    max_iter: int = 100_000
    random_state: int = 42
    n_jobs: int | None = None
    time_limit_s: float | None = None


def standardise(x: np.ndarray) -> np.ndarray:
    """Columns scaled to zero mean and unit variance (as the authors' ``D_Total_s``)."""
    std = x.std(axis=0)
    return np.asarray((x - x.mean(axis=0)) / np.where(std > 0, std, 1.0))


def rf_screen(z: np.ndarray, yc: np.ndarray, settings: AuthorsSettings) -> np.ndarray:
    """Random-forest importance screen; returns the surviving column indices, best first."""
    keep = np.arange(z.shape[1])
    target = int(z.shape[1] * settings.keep_fraction)
    while target > settings.stop:
        if len(keep) > target:
            forest = RandomForestRegressor(
                n_estimators=settings.n_estimators,
                random_state=settings.random_state,
                n_jobs=settings.n_jobs,
            ).fit(z[:, keep], yc)
            order = np.argsort(forest.feature_importances_, kind="stable")[::-1]
            keep = keep[order[:target]]
        target //= 2
    return keep


def lasso_model(alphas: np.ndarray, settings: AuthorsSettings) -> LassoCV:
    """Build the authors' LassoCV estimator."""
    return LassoCV(alphas=list(alphas), cv=settings.lasso_folds, max_iter=settings.max_iter)


@dataclass(frozen=True)
class SubsetSearch:
    """Ranked subsets of one size: column indices and training RMSE, best first."""

    subsets: list[tuple[tuple[int, ...], float]]
    tried: int
    interrupted: bool


def lasso_subsets(
    x: np.ndarray,
    y: np.ndarray,
    pool: np.ndarray,
    k: int,
    top: int,
    alphas: np.ndarray,
    settings: AuthorsSettings,
    deadline: float | None = None,
) -> SubsetSearch:
    """Fit LassoCV on every k-subset of ``pool``; rank by training RMSE.

    Subsets whose LassoCV fit sets a coefficient to zero are skipped, as in the
    authors' code. Stops early at ``deadline`` (``time.monotonic()``) or on
    KeyboardInterrupt and returns what it has.
    """
    found: list[tuple[tuple[int, ...], float]] = []
    tried, interrupted = 0, False
    try:
        for subset in combinations(pool.tolist(), k):
            if deadline is not None and time.monotonic() > deadline:
                interrupted = True
                break
            cols = x[:, subset]
            model = lasso_model(alphas, settings).fit(cols, y)
            tried += 1
            if np.all(model.coef_ != 0):
                rmse = float(np.sqrt(np.mean((y - model.predict(cols)) ** 2)))
                found.append((tuple(int(i) for i in subset), rmse))
    except KeyboardInterrupt:
        interrupted = True
    found.sort(key=lambda item: item[1])
    return SubsetSearch(found[:top], tried, interrupted)


def lambda_max(z: np.ndarray, yc: np.ndarray) -> float:
    """Largest useful Lasso penalty on standardised features: max |z^T y| / n."""
    return float(np.max(np.abs(z.T @ yc)) / len(yc))
