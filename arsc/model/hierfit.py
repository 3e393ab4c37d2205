"""The hierarchical variant on model tables: layout, rows, per-intermediate fit, CV, scoring.

:mod:`arsc.model.hier` holds the equations and the Gaussian-process solve;
this module turns a model table (``metal1``, ``metal2``, ``coord_*``,
optional ``motif``) into its inputs, runs grouped cross-validation (every
fold refitted from scratch), calibrates the uncertainty on the held-out
residuals (conformal) and scores tables with a fitted model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from arsc.errors import ArscInputError
from arsc.model import hier
from arsc.model.io import (
    ArscModel,
    HierLayoutDoc,
    HierState,
    IntermediateFit,
    Interval,
    Metrics,
    metrics,
)
from arsc.model.table import SHARED, coord_columns, coord_counts
from arsc.model.terms import Descriptor
from arsc.parallel import default_workers, process_map

#: Optional categorical column naming the site's motif (first-shell arrangement).
MOTIF_COLUMN = "motif"
#: Nominal coverages of the calibrated intervals (keys of Interval.scale).
LEVELS: tuple[str, ...] = ("0.68", "0.90", "0.95")
#: Rows per intermediate from which its fit and CV folds run in parallel processes by
#: default (below, starting a process, about 2 s, costs more than the fits).
PARALLEL_ROWS = 400
#: ln phi_xx shift used when the A formula is <= 0 for some metal (phi_xx in [1, 2]).
_SHIFT = 1.0


def motifs_of(table: pd.DataFrame) -> tuple[str, ...]:
    """Motif categories of a table, most common first; empty without a column."""
    if MOTIF_COLUMN not in table.columns:
        return ()
    counts = table[MOTIF_COLUMN].astype(str).value_counts(sort=False)
    return tuple(sorted(counts.index, key=lambda m: (-int(counts[m]), m)))


def make_layout(
    descriptor: Descriptor,
    elements: str | pd.DataFrame,
    coord_elements: Sequence[str],
    reference: np.ndarray,
    table: pd.DataFrame,
) -> hier.Layout:
    """Layout of a training table (S block on when some row is heteronuclear).

    The first-shell size (the shell kernel's length, :func:`hier.shell_length`)
    is the largest total first-shell count of metal 1 over the table's
    ``coord_<El>1`` columns (shared counts are a subset of those, not more
    positions).
    """
    log_phi = descriptor.log_phi_xx(np.array([_SHIFT]))[:, 0]
    hetero = bool(np.any(table["metal1"].to_numpy(str) != table["metal2"].to_numpy(str)))
    every = tuple(k for k in coord_columns(table) if not k.endswith(SHARED))
    own, _ = coord_counts(table, every)
    return hier.make_layout(
        descriptor.symbols,
        log_phi,
        elements,
        coord_elements,
        reference,
        motifs_of(table),
        hetero,
        float(own.sum(axis=1).max()) if every and len(table) else 1.0,
    )


def layout_doc(layout: hier.Layout) -> HierLayoutDoc:
    """Return the layout as stored in the model file."""
    return HierLayoutDoc(
        metals=list(layout.metals),
        log_phi=[float(v) for v in layout.log_phi],
        props=[[float(v) for v in row] for row in layout.props],
        motifs=list(layout.motifs),
        hetero=layout.hetero,
        shell_length=layout.shell_length,
    )


def layout_of(model: ArscModel) -> hier.Layout:
    """Return the layout stored in a hierarchical model file."""
    doc = model.layout
    if doc is None:
        raise ArscInputError("model file has variant 'hier' but no layout; refit it")
    if model.coord_elements and doc.shell_length is None:
        raise ArscInputError(
            "model file was fitted with the squared-exponential first-shell kernel of "
            "versions before 2026-12-03 (no layout.shell_length); refit it with arsc fit"
        )
    return hier.Layout(
        tuple(doc.metals),
        np.array(doc.log_phi),
        np.array(doc.props),
        tuple(model.coord_elements),
        np.array([model.coord_reference[e] for e in model.coord_elements]),
        tuple(doc.motifs),
        doc.hetero,
        doc.shell_length or 1.0,
    )


def rows_of(layout: hier.Layout, table: pd.DataFrame, where: str = "table") -> hier.Rows:
    """Row inputs of a table for a layout.

    Raises
    ------
    ArscInputError
        For a metal without an intrinsic prior (not in the element table, or
        its A formula undefined), or missing coordination columns.
    """
    pos = {m: i for i, m in enumerate(layout.metals)}
    idx = []
    for col in ("metal1", "metal2"):
        codes, uniq = pd.factorize(table[col].to_numpy(str))
        lookup = np.empty(len(uniq), dtype=np.intp)
        for k, sym in enumerate(uniq.tolist()):
            if sym not in pos:
                raise ArscInputError(
                    f"metal {sym!r} in the {where} has no intrinsic prior (not in the element "
                    f"table, or its A formula is undefined); known: {', '.join(layout.metals)}"
                )
            lookup[k] = pos[sym]
        idx.append(lookup[codes])
    c1, c2 = coord_counts(table, layout.coord_elements)
    ref = layout.reference[None, :]
    if MOTIF_COLUMN in table.columns and layout.motifs:
        # a motif the model has not seen gets a code of its own: it shares no motif
        # term with any training row (predicted from its counts, with sd_motif)
        code = {m: i for i, m in enumerate(layout.motifs)}
        unseen = len(layout.motifs)
        motif = np.array([code.get(str(m), unseen) for m in table[MOTIF_COLUMN]], dtype=np.intp)
    else:
        motif = np.zeros(len(table), dtype=np.intp)
    return hier.Rows(idx[0], idx[1], c1 - ref, c2 - ref, motif)


def _predictive(
    layout: hier.Layout, rows: hier.Rows, fitted: hier.HierFit
) -> tuple[np.ndarray, np.ndarray]:
    mean, sd = hier.predict(layout, fitted, rows)
    return mean, np.hypot(sd, fitted.hyper.values["noise"])


def state_of(fitted: hier.HierFit) -> HierState:
    """Return the fitted GP as stored in the model file."""
    r = fitted.rows
    return HierState(
        hyper=fitted.hyper.to_dict(),
        i1=[int(v) for v in r.i1],
        i2=[int(v) for v in r.i2],
        env1=[[float(v) for v in row] for row in r.env1],
        env2=[[float(v) for v in row] for row in r.env2],
        motif=[int(v) for v in r.motif],
        y=[float(v) for v in fitted.y],
        alpha=[float(v) for v in fitted.alpha],
    )


def fitted_of(layout: hier.Layout, state: HierState) -> hier.HierFit:
    """Inverse of :func:`state_of`."""
    shape = (len(state.i1), len(layout.coord_elements))
    rows = hier.Rows(
        np.array(state.i1, dtype=np.intp),
        np.array(state.i2, dtype=np.intp),
        np.array(state.env1, dtype=float).reshape(shape),
        np.array(state.env2, dtype=float).reshape(shape),
        np.array(state.motif, dtype=np.intp),
    )
    values = {k: v for k, v in state.hyper.items() if k != "beta"}
    missing = [n for n in layout.hyper_names if n not in values]
    if missing:
        raise ArscInputError(
            f"model file lacks hyperparameter {missing[0]!r} (fitted by an earlier version "
            "of the hierarchical variant); refit it with arsc fit"
        )
    return hier.HierFit(
        hier.Hyper(state.hyper["beta"], values),
        rows,
        np.array(state.y),
        np.array(state.alpha),
        float("nan"),
        (),
    )


def calibrate(residual: np.ndarray, std: np.ndarray, labels: np.ndarray) -> Interval:
    """Conformal scale factors from held-out |residual| / std, and the coverage per group."""
    ratio = np.abs(residual) / np.maximum(std, 1e-12)
    n = len(ratio)
    ordered = np.sort(ratio)
    groups = np.unique(labels)
    scale, by_group, per_group = {}, {}, {}
    for level in LEVELS:
        rank = min(int(np.ceil((n + 1) * float(level))), n) - 1
        q = float(ordered[max(rank, 0)])
        scale[level] = q
        cover = {str(g): float(np.mean(ratio[labels == g] <= q)) for g in groups}
        by_group[level] = float(np.mean(list(cover.values())))
        if level == "0.68":
            per_group = cover
    return Interval(scale=scale, group_coverage=by_group, per_group=per_group, n=n)


def _splits(labels: np.ndarray, folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return grouped K-fold (train, test) positions; none for < 2 folds or groups."""
    n_groups = len(np.unique(labels))
    if folds < 2 or n_groups < 2:
        return []
    return list(GroupKFold(n_splits=min(folds, n_groups)).split(labels, groups=labels))


def _fit_job(layout: hier.Layout, rows: hier.Rows, y: np.ndarray) -> hier.HierFit:
    """One fit from scratch (module level: it runs in worker processes)."""
    return hier.fit(layout, rows, y)


def _fits(
    layout: hier.Layout, jobs: list[tuple[hier.Rows, np.ndarray]], workers: int | None
) -> list[hier.HierFit]:
    """Fit every (rows, y) from scratch, in processes when worth it (:func:`workers_for`)."""
    n = workers_for(max((len(y) for _, y in jobs), default=0), workers)
    return process_map(_fit_job, [(layout, r, y) for r, y in jobs], n)


def workers_for(n_rows: int, workers: int | None) -> int:
    """Return the processes for fits of ``n_rows`` rows.

    ``workers`` when given; by default every core from :data:`PARALLEL_ROWS`
    rows, and one below (where starting a process costs more than the fits).
    """
    if workers is not None:
        return workers
    return default_workers() if n_rows >= PARALLEL_ROWS else 1


def _held_out(
    layout: hier.Layout,
    rows: hier.Rows,
    splits: list[tuple[np.ndarray, np.ndarray]],
    fits: list[hier.HierFit],
    n: int,
) -> tuple[np.ndarray, np.ndarray]:
    pred, std = np.empty(n), np.empty(n)
    for (_, test), fitted in zip(splits, fits, strict=True):
        pred[test], std[test] = _predictive(layout, rows.take(test), fitted)
    return pred, std


def cross_validate(
    layout: hier.Layout,
    rows: hier.Rows,
    y: np.ndarray,
    labels: np.ndarray,
    folds: int,
    workers: int | None = None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Return grouped K-fold held-out predictions and predictive std.

    Every fold refits from scratch (hyperparameters included) on its training
    rows alone, so nothing of the held-out groups enters its prediction. The
    folds run in ``workers`` processes (default :func:`workers_for`); the
    result does not depend on it.
    """
    splits = _splits(labels, folds)
    if not splits:
        return None
    fits = _fits(layout, [(rows.take(train), y[train]) for train, _ in splits], workers)
    return _held_out(layout, rows, splits, fits, len(y))


def fit_intermediate(
    layout: hier.Layout,
    rows: hier.Rows,
    y: np.ndarray,
    labels: np.ndarray,
    folds: int,
    workers: int | None = None,
) -> IntermediateFit:
    """Fit one intermediate (grouped CV and interval calibration when ``folds`` >= 2).

    The fit and the CV folds are independent fits from scratch; they run in
    ``workers`` processes (default :func:`workers_for`), with the same result.
    """
    splits = _splits(labels, folds)
    jobs = [(rows, y)] + [(rows.take(train), y[train]) for train, _ in splits]
    fitted, *fold_fits = _fits(layout, jobs, workers)
    names = layout.fixed_names()
    params = {
        n: float(v) for n, v in zip(names, hier.fixed_coefficients(layout, fitted), strict=True)
    }
    params.update({f"m_{m}": v for m, v in hier.motif_effects(layout, fitted).items()})
    params.update(fitted.hyper.to_dict())
    train_pred, _ = _predictive(layout, rows, fitted)
    cv: Metrics | None = None
    interval = None
    if splits:
        cv_pred, cv_std = _held_out(layout, rows, splits, fold_fits, len(y))
        interval = calibrate(cv_pred - y, cv_std, labels)
        cv = metrics(y, cv_pred, cv_std)
    hyper = fitted.hyper.to_dict()
    return IntermediateFit(
        n_rows=len(y),
        n_groups=len(np.unique(labels)),
        params=params,
        fitted=names + list(hyper),
        stages=[
            f"MAP-II (marginal likelihood x noise prior) of {len(hyper) - 1} hyperparameters on "
            f"{min(len(y), hier.MAX_HYPER_ROWS)} rows, beta from {list(hier.BETA_GRID)}; "
            f"GP posterior on {len(y)} rows"
        ],
        ensemble=[],
        noise_std=fitted.hyper.values["noise"],
        train=metrics(y, train_pred),
        cv=cv,
        reaction=None,
        dg_opt=None,
        phi_opt=None,
        at_bounds=list(fitted.at_bounds),
        hier=state_of(fitted),
        interval=interval,
    )


def _fitted(model: ArscModel, z: str) -> tuple[hier.Layout, hier.HierFit, float]:
    """Layout, GP and the intercept offset of an offset refit (a moved, GP unchanged)."""
    layout = layout_of(model)
    fit = model.intermediates[z]
    if fit.hier is None:
        raise ArscInputError(f"model file: intermediate {z!r} has no hierarchical posterior")
    fitted = fitted_of(layout, fit.hier)
    a0 = float(hier.fixed_coefficients(layout, fitted)[0])
    return layout, fitted, fit.params["a"] - a0


def score_hier(
    model: ArscModel, table: pd.DataFrame, names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """dG, predictive std (calibrated), phi and parameter std per row and intermediate."""
    layout = layout_of(model)
    rows = rows_of(layout, table)
    n = len(table)
    dg, std, phi, ens = (np.empty((n, len(names))) for _ in range(4))
    for j, z in enumerate(names):
        fit = model.intermediates[z]
        _, fitted, offset = _fitted(model, z)
        value, sd = hier.predict(layout, fitted, rows)
        value = value + offset
        scale = fit.interval.scale["0.68"] if fit.interval else 1.0
        dg[:, j] = value
        ens[:, j] = sd
        std[:, j] = np.hypot(sd, fit.noise_std) * scale
        phi[:, j] = effective_phi(value, fit.params)
    return dg, std, phi, ens


def effective_phi(dg: np.ndarray, params: dict[str, float]) -> np.ndarray:
    """Return the site's phi read back through the R term at beta = 0: exp((dG - a) / b).

    Always positive and monotone in dG, so |phi - phi_opt| ranks like
    |dG - dG_opt|; the exponent is clipped to +-50.
    """
    b = params["b"]
    if not b:
        return np.full(np.shape(dg), np.nan)
    return np.exp(np.clip((np.asarray(dg, dtype=float) - params["a"]) / b, -50.0, 50.0))


def phi_opt_of(params: dict[str, float], dg_opt: float | None) -> float | None:
    """phi_opt on the same scale as :func:`effective_phi` (None without an ideal dG)."""
    if dg_opt is None or not params["b"]:
        return None
    return float(effective_phi(np.array(dg_opt), params))


def contributions(model: ArscModel, table: pd.DataFrame, z: str) -> dict[str, np.ndarray]:
    """Additive contributions (eV) of R, A, S and C to dG of intermediate z for every row."""
    layout, fitted, offset = _fitted(model, z)
    out = hier.contributions(layout, fitted, rows_of(layout, table))
    out["R"] = out["R"] + offset
    return out
