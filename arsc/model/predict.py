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
from threadpoolctl import threadpool_limits

from arsc.errors import ArscInputError, unknown
from arsc.model.ideal import ideal_dg, reactions
from arsc.model.io import ArscModel, IntermediateFit
from arsc.model.table import (
    INTERMEDIATE_COLUMN,
    SHARED,
    coord_columns,
    coord_counts,
    read_table,
)
from arsc.model.terms import (
    Design,
    basis,
    boxcox,
    get_variant,
    log_phi_coefficients,
    param_arrays,
    phi_opt,
)

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


class _Evaluator:
    """dG and ln phi of a row chunk for every parameter set (shape (rows, P))."""

    def __init__(self, model: ArscModel, params: dict[str, np.ndarray]) -> None:
        self.params = params
        self.coords = tuple(model.coord_elements)
        self.lxx = model.descriptor.log_phi_xx(params["shift"])
        self.linear = not model.descriptor.shifted and not np.any(params["kappa"])
        if self.linear:  # ln phi = X @ W: one small matrix product per chunk
            self.weights = log_phi_coefficients(params, self.coords)
            self.pair = bool(np.any(params["p"]))

    def __call__(self, d: Design) -> tuple[np.ndarray, np.ndarray]:
        p = self.params
        if not self.linear:
            g, q, log_phi = basis(d, self.lxx, p, self.coords)
            return p["a"] + p["b"] * g + p["p"] * q, log_phi
        l1, l2 = self.lxx[d.i1, 0], self.lxx[d.i2, 0]
        x = np.column_stack([l1, l2 - l1, d.env1, d.env2])
        log_phi = x @ self.weights
        val = boxcox(log_phi, p["beta"])
        val *= p["b"]
        val += p["a"]
        if self.pair:
            val += np.multiply.outer(np.abs(l1 - l2), p["p"])
        return val, log_phi


def _dense(
    model: ArscModel, design: Design, names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    params, k = _stack(model, names)
    evaluate = _Evaluator(model, params)
    n, z = len(design), len(names)
    dg, std, phi = (np.empty((n, z)) for _ in range(3))
    with threadpool_limits(1):  # tiny matrix products: threads only add overhead
        for lo in range(0, n, CHUNK_ROWS):
            hi = min(lo + CHUNK_ROWS, n)
            rows = slice(lo, hi)
            val, log_phi = evaluate(design.take(np.arange(lo, hi)))
            val3 = val.reshape(len(val), z, k + 1)
            central = val3[:, :, 0]
            dg[rows] = central
            phi[rows] = np.exp(log_phi.reshape(len(val), z, k + 1)[:, :, 0])
            std[rows] = _member_std(val3[:, :, 1:], central) if k > 1 else np.nan
    return dg, std, phi


def _member_std(members: np.ndarray, central: np.ndarray) -> np.ndarray:
    """Sample std (ddof 1) along the last axis, from deviations from ``central`` (exact algebra)."""
    dev = members - central[:, :, None]
    k = dev.shape[2]
    s = dev.sum(axis=2)
    np.square(dev, out=dev)
    var = (dev.sum(axis=2) - s * s / k) / (k - 1)
    return np.sqrt(np.maximum(var, 0.0))


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
    if get_variant(model.variant).hierarchical:
        return _score_hier(model, table, names, dedup)
    descriptor = model.descriptor
    i1 = descriptor.index(table["metal1"].to_numpy())
    i2 = descriptor.index(table["metal2"].to_numpy())
    c1, c2 = coord_counts(table, tuple(model.coord_elements))
    ref = np.array([model.coord_reference[e] for e in model.coord_elements])
    keys = _keys(i1, i2, c1, c2) if dedup else None
    if keys is not None:
        codes, uniq = pd.factorize(keys)
        if len(uniq) <= len(keys) // 2:
            first = _first_rows(codes, len(uniq))
            design = Design.from_counts(i1[first], i2[first], c1[first], c2[first], ref)
            return _expand(_scores(model, names, design), codes)
    return _scores(model, names, Design.from_counts(i1, i2, c1, c2, ref))


def _first_rows(codes: np.ndarray, n_unique: int) -> np.ndarray:
    """Row index of the first occurrence of each distinct code."""
    first = np.empty(n_unique, dtype=np.intp)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    return first


def _expand(s: Scores, codes: np.ndarray) -> Scores:
    """Scores of distinct rows spread back to every row."""
    return Scores(s.intermediates, s.dg[codes], s.std[codes], s.phi[codes], s.std_ensemble[codes])


def _score_hier(
    model: ArscModel, table: pd.DataFrame, names: tuple[str, ...], dedup: bool
) -> Scores:
    """Scores of the hierarchical variant; equal rows (metals, counts, motif) scored once."""
    from arsc.model.hierfit import MOTIF_COLUMN, score_hier

    if dedup:
        cols = ["metal1", "metal2", *coord_columns_of(model, table)]
        if MOTIF_COLUMN in table.columns:
            cols.append(MOTIF_COLUMN)
        codes, uniq = pd.factorize(pd.MultiIndex.from_frame(table[cols].astype(str)))
        if len(uniq) <= len(table) // 2:
            s = _score_hier(model, table.iloc[_first_rows(codes, len(uniq))], names, False)
            return _expand(s, codes)
    dg, std, phi, ens = score_hier(model, table, names)
    return Scores(names, dg, std, phi, ens)


def coord_columns_of(model: ArscModel, table: pd.DataFrame) -> list[str]:
    """Return the table's coord_* columns of the model's first-shell elements."""
    cols = coord_columns(table)
    return [c for e in model.coord_elements if e in cols for c in cols[e] if c]


def _scores(model: ArscModel, names: tuple[str, ...], design: Design) -> Scores:
    dg, ens, phi = _dense(model, design, names)
    noise = np.array([model.intermediates[z].noise_std for z in names])
    return Scores(names, dg, np.sqrt(ens * ens + noise * noise), phi, ens)


def swapped(table: pd.DataFrame) -> pd.DataFrame:
    """Return the same sites with the two metals (and their coord_<El>1/2 counts) swapped."""
    out = table.copy()
    out["metal1"], out["metal2"] = table["metal2"].to_numpy(), table["metal1"].to_numpy()
    for first, second in coord_columns(table).values():
        if second is not None:
            out[first], out[second] = table[second].to_numpy(), table[first].to_numpy()
    return out


def score_lowest(
    model: ArscModel,
    table: pd.DataFrame,
    intermediates: Sequence[str] | None = None,
    dedup: bool = True,
) -> tuple[Scores, np.ndarray]:
    """Score with either metal binding and keep the lower dG per intermediate.

    The DFT side keeps its lowest-energy binding mode (top1 or top2) too.
    Without this the canonical order of a symmetric site (lower atomic number
    first) would silently decide which metal binds.

    Returns
    -------
    tuple
        The scores of the lower-dG mode per row and intermediate, and which metal binds
        there (1 or 2), shape (rows, intermediates).
    """
    one = score(model, table, intermediates, dedup)
    two = score(model, swapped(table), intermediates, dedup)
    second = two.dg < one.dg

    def pick(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.where(second, b, a)

    scores = Scores(
        one.intermediates,
        pick(one.dg, two.dg),
        pick(one.std, two.std),
        pick(one.phi, two.phi),
        pick(one.std_ensemble, two.std_ensemble),
    )
    return scores, np.where(second, 2, 1)


def check_intermediates(model: ArscModel, names: Sequence[str] | None) -> tuple[str, ...]:
    """Validate intermediate names against the model (default: all of them)."""
    if not names:
        return tuple(model.intermediates)
    for z in names:
        if z not in model.intermediates:
            raise unknown("intermediate (not in the model)", z, model.intermediates)
    return tuple(names)


def fit_phi_opt(fit: IntermediateFit, dg_opt: float | None) -> float | None:
    """phi_opt of one intermediate's fit for an ideal dG, on the scale of its phi column."""
    if fit.hier is not None:
        from arsc.model.hierfit import phi_opt_of

        return phi_opt_of(fit.params, dg_opt)
    return phi_opt(fit.params, dg_opt)


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
            value = fit_phi_opt(fit, ideal_dg(z, reaction))
        else:
            value = None
        out[z] = np.nan if value is None else value
    return out


def _ignored(model: ArscModel, table: pd.DataFrame) -> tuple[str, ...]:
    out = []
    for el, cols in coord_columns(table).items():
        if el in model.coord_elements or el.endswith(SHARED):
            continue  # a shared count is already in both metals' counts
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
    explain: bool = False,
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
    explain
        Add each prediction's additive contributions of the R, A, S and C terms
        (eV; hierarchical models): columns ``R_<z>``, ``A_<z>``, ... in the wide
        layout, ``R``, ``A``, ``S``, ``C`` for a table with an intermediate column.

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
    if explain:
        out = _explained(model, data, out, names)
    return Prediction(out, names, n, time.perf_counter() - start, ignored)


#: The ARSC terms whose contributions ``explain`` adds, in column order.
TERMS: tuple[str, ...] = ("R", "A", "S", "C")


def _explained(
    model: ArscModel, data: pd.DataFrame, out: pd.DataFrame, names: Sequence[str]
) -> pd.DataFrame:
    """Add the additive R, A, S, C contributions (eV) of every prediction."""
    from arsc.model.hierfit import contributions

    if not get_variant(model.variant).hierarchical:
        raise ArscInputError(
            f"explain needs a hierarchical model (variant 'hier'); this model is "
            f"{model.variant!r}, whose terms are not additive"
        )
    if INTERMEDIATE_COLUMN in data.columns:
        zs = out[INTERMEDIATE_COLUMN].to_numpy(str)
        for term in TERMS:
            out[term] = np.nan
        for z in names:
            rows = np.flatnonzero(zs == z)
            parts = contributions(model, out.iloc[rows], z)
            for term in TERMS:
                out.loc[rows, term] = parts[term]
        return out
    if len(out) != len(data):
        raise ArscInputError("explain works with the wide layout, or a table with intermediates")
    for z in names:
        parts = contributions(model, data, z)
        for term in TERMS:
            out[f"{term}_{z}"] = parts[term]
    return out


def _wide(data: pd.DataFrame, s: Scores, opts: dict[str, float]) -> pd.DataFrame:
    n, z = s.dg.shape
    block = np.empty((z, 4, n))  # column-major, as pandas stores a float block: no copy below
    block[:, 0], block[:, 1], block[:, 2] = s.dg.T, s.std.T, s.phi.T
    block[:, 3] = np.array([opts[name] for name in s.intermediates])[:, None]
    names = [f"{c}_{name}" for name in s.intermediates for c in ("dG", "dG", "phi", "phi_opt")]
    names[1::4] = [f"dG_{name}_std" for name in s.intermediates]
    added = pd.DataFrame(block.reshape(4 * z, n).T, columns=names, copy=False)
    out = pd.concat([data.reset_index(drop=True), added], axis=1)
    if z == 1:  # a single-target model: the plain columns arsc validate reads, too
        out["prediction"] = s.dg[:, 0]
        out["uncertainty"] = s.std[:, 0]
    return out


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
    data = data.reset_index(drop=True)  # rows are addressed by position below
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
