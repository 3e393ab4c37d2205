"""Fast scoring with a fitted model: dG per intermediate with its ensemble std.

phi_xx is a lookup (the formula was evaluated once per metal when fitting);
a table is turned into index and count arrays once, and every intermediate
and ensemble member is evaluated together by numpy broadcasting in row
chunks. Rows that share metals and first-shell counts are scored once
(``dedup``), which is exact: the model reads nothing else.

Layouts of :func:`predict` when the table has no ``intermediate`` column:

``wide`` (default)
    one row per input row with columns ``dG_<z>``, ``dG_<z>_std``,
    ``phi_<z>`` and ``phi_opt_<z>`` per intermediate z;
``long``
    one row per (input row, intermediate) with columns ``intermediate``,
    ``prediction``, ``uncertainty``, ``phi``, ``phi_opt``.

A table with an ``intermediate`` column is scored row by row for that
intermediate and always comes back long.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from arsc.errors import unknown
from arsc.model.ideal import ideal_dg, reactions
from arsc.model.io import ArscModel
from arsc.model.table import INTERMEDIATE_COLUMN, coord_columns, coord_counts, read_table
from arsc.model.terms import Design, basis, param_arrays, phi_opt

#: Rows per chunk of the dense evaluation (bounds memory at about rows x sets x 8 B per array).
CHUNK_ROWS = 4096
#: Layouts of :func:`predict` for tables without an intermediate column.
LAYOUTS: tuple[str, ...] = ("wide", "long")


@dataclass(frozen=True)
class Scores:
    """Scores of N rows for Z intermediates (arrays of shape (N, Z)).

    Attributes
    ----------
    intermediates
        The Z intermediates, in column order.
    dg
        dG of the full-data fit, eV.
    std
        Predictive std: the ensemble std and the fit's residual std (noise_std)
        added in quadrature, eV (NaN without ensemble).
    phi
        The ARSC descriptor of the full-data fit, dimensionless.
    std_ensemble
        Standard deviation over the ensemble members alone, eV.
    """

    intermediates: tuple[str, ...]
    dg: np.ndarray
    std: np.ndarray
    phi: np.ndarray
    std_ensemble: np.ndarray


@dataclass(frozen=True)
class Prediction:
    """Result of :func:`predict`.

    Attributes
    ----------
    table
        The input rows with the prediction columns added.
    intermediates
        Intermediates scored.
    n_predictions
        Row-intermediate predictions made, count.
    seconds
        Wall time of the scoring, s.
    ignored_columns
        coord_* columns with non-zero counts of elements the model has no
        exponent for (their effect is assumed absent).
    """

    table: pd.DataFrame
    intermediates: tuple[str, ...]
    n_predictions: int
    seconds: float
    ignored_columns: tuple[str, ...]


def _stack(model: ArscModel, names: Sequence[str]) -> tuple[dict[str, np.ndarray], int]:
    """Parameter arrays of shape (Z * (K + 1),): per intermediate the fit, then its members."""
    k = min(len(model.intermediates[z].ensemble) for z in names)
    sets = []
    for z in names:
        fit = model.intermediates[z]
        sets += [fit.params, *fit.ensemble[:k]]
    return param_arrays(sets, model.coord_elements), k


def _dense(
    model: ArscModel, design: Design, names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    params, k = _stack(model, names)
    lxx = model.descriptor.log_phi_xx(params["shift"])
    n, z = len(design), len(names)
    dg, std, phi = (np.empty((n, z)) for _ in range(3))
    for lo in range(0, n, CHUNK_ROWS):
        rows = np.arange(lo, min(lo + CHUNK_ROWS, n))
        g, q, log_phi = basis(design.take(rows), lxx, params, model.coord_elements)
        val = (params["a"] + params["b"] * g + params["p"] * q).reshape(len(rows), z, k + 1)
        dg[rows] = val[:, :, 0]
        phi[rows] = np.exp(log_phi.reshape(len(rows), z, k + 1)[:, :, 0])
        std[rows] = val[:, :, 1:].std(axis=2, ddof=1) if k > 1 else np.nan
    return dg, std, phi


def _keys(i1: np.ndarray, i2: np.ndarray, c1: np.ndarray, c2: np.ndarray) -> np.ndarray | None:
    """One int64 per row encoding metals and counts, or None if counts are not small integers."""
    counts = np.concatenate([c1, c2], axis=1)
    bits = 4 * counts.shape[1] + 2 * 8
    if bits > 63 or np.any(counts != np.round(counts)) or np.any(counts > 15):
        return None
    key = i1.astype(np.int64) << 8 | i2.astype(np.int64)
    for j in range(counts.shape[1]):
        key = key << 4 | counts[:, j].astype(np.int64)
    return key


def score(
    model: ArscModel,
    table: pd.DataFrame,
    intermediates: Sequence[str] | None = None,
    dedup: bool = True,
) -> Scores:
    """Score every row of a table for several intermediates (vectorised core).

    Parameters
    ----------
    model
        A fitted model.
    table
        Rows with metal1, metal2 and the model's coord_* columns
        (as returned by :func:`arsc.model.table.read_table`).
    intermediates
        Intermediates to score (default: all of the model's).
    dedup
        Score rows with equal metals and counts once.

    Returns
    -------
    Scores
        dG, predictive and ensemble std, and phi per row and intermediate.
    """
    names = check_intermediates(model, intermediates)
    descriptor = model.descriptor
    i1 = descriptor.index(table["metal1"].to_numpy(str))
    i2 = descriptor.index(table["metal2"].to_numpy(str))
    c1, c2 = coord_counts(table, tuple(model.coord_elements))
    ref = np.array([model.coord_reference[e] for e in model.coord_elements])
    keys = _keys(i1, i2, c1, c2) if dedup else None
    if keys is not None:
        codes, uniq = pd.factorize(keys)
        if len(uniq) <= len(keys) // 2:
            first = np.empty(len(uniq), dtype=np.intp)
            first[codes[::-1]] = np.arange(len(codes))[::-1]
            design = Design.from_counts(i1[first], i2[first], c1[first], c2[first], ref)
            return _scores(model, names, *(a[codes] for a in _dense(model, design, names)))
    design = Design.from_counts(i1, i2, c1, c2, ref)
    return _scores(model, names, *_dense(model, design, names))


def _scores(
    model: ArscModel, names: tuple[str, ...], dg: np.ndarray, ens: np.ndarray, phi: np.ndarray
) -> Scores:
    noise = np.array([model.intermediates[z].noise_std for z in names])
    return Scores(names, dg, np.hypot(ens, noise), phi, ens)


def check_intermediates(model: ArscModel, names: Sequence[str] | None) -> tuple[str, ...]:
    """Validate intermediate names against the model (default: all of them)."""
    if not names:
        return tuple(model.intermediates)
    for z in names:
        if z not in model.intermediates:
            raise unknown("intermediate (not in the model)", z, model.intermediates)
    return tuple(names)


def phi_opts(
    model: ArscModel, names: Sequence[str], reaction: str | None = None
) -> dict[str, float]:
    """phi_opt per intermediate (NaN where undefined) for a reaction or the defaults."""
    if reaction is not None and reaction not in reactions():
        raise unknown("reaction", reaction, reactions())
    out = {}
    for z in names:
        fit = model.intermediates[z]
        if reaction is None:
            value = fit.phi_opt
        elif z in reactions()[reaction]["intermediates"]:
            value = phi_opt(fit.params, ideal_dg(z, reaction))
        else:
            value = None
        out[z] = np.nan if value is None else value
    return out


def _ignored(model: ArscModel, table: pd.DataFrame) -> tuple[str, ...]:
    out = []
    for el, cols in coord_columns(table).items():
        if el in model.coord_elements:
            continue
        for col in cols:
            if col and (pd.to_numeric(table[col], errors="coerce").fillna(0) != 0).any():
                out.append(col)
    return tuple(out)


def predict(
    model: ArscModel,
    table: pd.DataFrame | str | Path,
    intermediates: Sequence[str] | None = None,
    layout: str = "wide",
    reaction: str | None = None,
    dedup: bool = True,
) -> Prediction:
    """Add predictions (eV), their uncertainty (eV), phi and phi_opt to a table.

    The uncertainty is the predictive std: the bootstrap ensemble's std and
    the fit's residual std added in quadrature.

    Parameters
    ----------
    model
        A fitted model.
    table
        DataFrame or CSV path (see :mod:`arsc.model.table`).
    intermediates
        Intermediates to predict (default: all of the model's); with an
        ``intermediate`` column, keeps only rows of these.
    layout
        ``"wide"`` or ``"long"`` (see the module docstring).
    reaction
        Reaction whose ideal dG defines phi_opt (default: each
        intermediate's default reaction in ``ideal_dg.yaml``).
    dedup
        Score equal rows once (exact; see :func:`score`).

    Returns
    -------
    Prediction
        The output table and counts.
    """
    if layout not in LAYOUTS:
        raise unknown("layout", layout, LAYOUTS)
    data = read_table(table)
    ignored = _ignored(model, data)
    start = time.perf_counter()
    if INTERMEDIATE_COLUMN in data.columns:
        out, names = _per_row(model, data, intermediates, reaction, dedup)
        n = len(out)
    else:
        scores = score(model, data, intermediates, dedup)
        names = scores.intermediates
        opts = phi_opts(model, names, reaction)
        out = _wide(data, scores, opts) if layout == "wide" else _long(data, scores, opts)
        n = scores.dg.size
    return Prediction(out, names, n, time.perf_counter() - start, ignored)


def _wide(data: pd.DataFrame, s: Scores, opts: dict[str, float]) -> pd.DataFrame:
    cols: dict[str, np.ndarray] = {}
    for k, z in enumerate(s.intermediates):
        cols[f"dG_{z}"] = s.dg[:, k]
        cols[f"dG_{z}_std"] = s.std[:, k]
        cols[f"phi_{z}"] = s.phi[:, k]
        cols[f"phi_opt_{z}"] = np.full(len(data), opts[z])
    return pd.concat([data.reset_index(drop=True), pd.DataFrame(cols)], axis=1)


def _long(data: pd.DataFrame, s: Scores, opts: dict[str, float]) -> pd.DataFrame:
    z = len(s.intermediates)
    out = data.loc[data.index.repeat(z)].reset_index(drop=True)
    out[INTERMEDIATE_COLUMN] = np.tile(np.array(s.intermediates), len(data))
    out["prediction"] = s.dg.ravel()
    out["uncertainty"] = s.std.ravel()
    out["phi"] = s.phi.ravel()
    out["phi_opt"] = np.tile([opts[n] for n in s.intermediates], len(data))
    return out


def _per_row(
    model: ArscModel,
    data: pd.DataFrame,
    intermediates: Sequence[str] | None,
    reaction: str | None,
    dedup: bool,
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    zs = data[INTERMEDIATE_COLUMN].to_numpy(str)
    if intermediates:
        keep = np.isin(zs, list(check_intermediates(model, intermediates)))
        data, zs = data[keep].reset_index(drop=True), zs[keep]
    names = tuple(sorted(set(zs)))
    if names:
        check_intermediates(model, names)
    opts = phi_opts(model, names, reaction)
    out = data.copy()
    for col in ("prediction", "uncertainty", "phi", "phi_opt"):
        out[col] = np.nan
    for z in names:
        rows = np.flatnonzero(zs == z)
        s = score(model, data.iloc[rows], [z], dedup)
        out.loc[rows, "prediction"] = s.dg[:, 0]
        out.loc[rows, "uncertainty"] = s.std[:, 0]
        out.loc[rows, "phi"] = s.phi[:, 0]
        out.loc[rows, "phi_opt"] = opts[z]
    return out, names
