"""Reference models fed the same inputs as ARSC, scored on the same grouped folds.

A model is judged beside simple baselines, never on its training fit alone.
Every reference model is fitted per intermediate, like ARSC, on features
built from exactly what ARSC reads of a row: the two metals (as indicators
and through their intrinsic properties n, S, d, IE, X, R), the first-shell
counts and the motif.

``mean``
    The training mean of the fold.
``ridge``
    Ridge regression (scikit-learn ``RidgeCV``, strength by internal CV) on
    per-metal indicators of both metals, motif indicators, the first-shell
    counts, binding metal x own count, and the intrinsic properties.
``gbm``
    Gradient boosting (scikit-learn defaults) on the intrinsic properties of
    both metals, the first-shell counts and the motif indicators.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from arsc.elements import load_elements
from arsc.model.io import ReferenceScore, metrics

if TYPE_CHECKING:
    from arsc.model.terms import Design


class Prepared(Protocol):
    """What the reference models read of a prepared table (:class:`arsc.model.fit.Prepared`)."""

    @property
    def table(self) -> pd.DataFrame: ...  # noqa: D102
    @property
    def y(self) -> np.ndarray: ...  # noqa: D102
    @property
    def design(self) -> Design: ...  # noqa: D102
    @property
    def intermediates(self) -> np.ndarray: ...  # noqa: D102
    @property
    def elements(self) -> str | pd.DataFrame: ...  # noqa: D102


PROPERTIES: tuple[str, ...] = ("n", "S", "d", "IE", "X", "R")


def _onehot(values: np.ndarray) -> np.ndarray:
    codes, uniq = pd.factorize(values)
    out = np.zeros((len(values), len(uniq)))
    out[np.arange(len(values)), codes] = 1.0
    return out


def features(prep: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """Return (ridge features, tree features) for every row of a prepared table."""
    table = load_elements(prep.elements) if isinstance(prep.elements, str) else prep.elements
    m1 = prep.table["metal1"].to_numpy(str)
    m2 = prep.table["metal2"].to_numpy(str)
    p1 = table.loc[list(m1), list(PROPERTIES)].to_numpy(float)
    p2 = table.loc[list(m2), list(PROPERTIES)].to_numpy(float)
    counts = np.concatenate([prep.design.env1, prep.design.env2], axis=1)
    motif = (
        _onehot(prep.table["motif"].astype(str).to_numpy())
        if "motif" in prep.table.columns
        else np.zeros((len(m1), 0))
    )
    one1, one2 = _onehot(m1), _onehot(m2)
    cross = np.concatenate(
        [one1 * prep.design.env1[:, [j]] for j in range(counts.shape[1] // 2)]
        or [np.zeros((len(m1), 0))],
        axis=1,
    )
    props = np.concatenate([p1, p2], axis=1)
    sd = props.std(axis=0)
    props = (props - props.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    linear = np.concatenate([one1, one2, motif, counts, cross, props], axis=1)
    trees = np.concatenate([p1, p2, counts, motif], axis=1)
    return linear, trees


def _mean(x: np.ndarray, y: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    return np.full(len(x_test), float(np.mean(y)))


def _ridge(x: np.ndarray, y: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    from sklearn.linear_model import RidgeCV

    return RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(x, y).predict(x_test)


def _gbm(x: np.ndarray, y: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    from sklearn.ensemble import GradientBoostingRegressor

    return GradientBoostingRegressor(random_state=0).fit(x, y).predict(x_test)


#: name -> (description, which features, fit-and-predict)
REFERENCES: dict[str, tuple[str, int, Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]]]
REFERENCES = {
    "mean": ("training mean of the fold", 0, _mean),
    "ridge": (
        "ridge on metal, partner and motif indicators, counts, metal x own count, properties",
        0,
        _ridge,
    ),
    "gbm": ("gradient boosting on both metals' properties, counts and motif", 1, _gbm),
}


def reference_predictions(prep: Prepared, labels: np.ndarray, folds: int) -> dict[str, np.ndarray]:
    """Held-out predictions (eV) of every reference model, per intermediate, on grouped folds."""
    feats = features(prep)
    out = {name: np.full(len(prep.y), np.nan) for name in REFERENCES}
    for z in sorted(set(prep.intermediates)):
        rows = np.flatnonzero(prep.intermediates == z)
        lab = labels[rows]
        n_groups = len(np.unique(lab))
        if n_groups < 2:
            continue
        for train, test in GroupKFold(n_splits=min(folds, n_groups)).split(rows, groups=lab):
            tr, te = rows[train], rows[test]
            for name, (_, which, fn) in REFERENCES.items():
                x = feats[which]
                with warnings.catch_warnings(), np.errstate(all="ignore"):
                    warnings.simplefilter("ignore")  # RidgeCV's GCV on a few rows divides by 0
                    out[name][te] = fn(x[tr], prep.y[tr], x[te])
    return out


def reference_scores(
    prep: Prepared, labels: np.ndarray, folds: int, seed: int = 0
) -> list[ReferenceScore]:
    """Pooled grouped-CV MAE, RMSE and R^2 of every reference model (same folds as ARSC)."""
    del seed  # GroupKFold is deterministic; kept for a uniform signature
    preds = reference_predictions(prep, labels, folds)
    out = []
    for name, pred in preds.items():
        ok = np.isfinite(pred)
        if not ok.any():
            continue
        m = metrics(prep.y[ok], pred[ok])
        r2s = []
        for z in sorted(set(prep.intermediates[ok])):
            rows = ok & (prep.intermediates == z)
            r2 = metrics(prep.y[rows], pred[rows]).r2
            if r2 is not None:
                r2s.append(r2)
        out.append(
            ReferenceScore(
                model=name,
                description=REFERENCES[name][0],
                cv_mae=m.mae,
                cv_rmse=m.rmse,
                cv_r2=float(np.mean(r2s)) if r2s else None,
            )
        )
    return out
