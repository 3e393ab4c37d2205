"""Fitting the ARSC model: per intermediate, bootstrap ensemble, grouped cross-validation.

Examples
--------
>>> from arsc.model import fit_model, make_synthetic_table
>>> table = make_synthetic_table(seed=0)
>>> model = fit_model(table, "dG", ensemble=2, cv_folds=0)
>>> sorted(model.intermediates)
['O', 'OH', 'OOH']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from arsc import __version__
from arsc.errors import ArscInputError
from arsc.model import hier, hierfit
from arsc.model.ideal import default_reaction, ideal_dg
from arsc.model.io import (
    SCHEMA_VERSION,
    ArscModel,
    IntermediateFit,
    Metrics,
    VariantScore,
    metrics,
)
from arsc.model.reference import reference_scores
from arsc.model.solve import Problem, Solution, Structure, fit_intermediate, refit
from arsc.model.table import (
    INTERMEDIATE_COLUMN,
    check_motif_shells,
    coord_columns,
    coord_counts,
    data_sha256,
    groups,
    read_table,
    target_values,
)
from arsc.model.terms import (
    BOUNDS,
    DEFAULT_FORMULA,
    DEFAULT_VARIANT,
    VARIANTS,
    Descriptor,
    Design,
    get_variant,
    param_arrays,
    phi_opt,
    predict_dg,
)

#: A simpler variant wins unless a more complex one lowers the pooled CV RMSE by more than this.
VARIANT_TOLERANCE = 0.05


@dataclass(frozen=True)
class FitSettings:
    """Knobs of :func:`fit_model` (see there)."""

    variant: str = "base"
    ensemble: int = 20
    groups: str = "pair"
    cv_folds: int = 5
    cv_ensemble: int = 5
    seed: int = 0


def noise_std(sol: Solution, structure: Structure, n: int) -> float:
    """Residual standard deviation sqrt(SSE / (n - k)), eV (k: free parameters)."""
    return float(np.sqrt(sol.sse / max(n - len(structure.fitted), 1)))


def _predict(problem: Problem, sets: Sequence[dict[str, float]]) -> np.ndarray:
    arrays = param_arrays(sets, problem.coord_elements)
    return predict_dg(problem.design, problem.descriptor, arrays, problem.coord_elements)[0]


def bootstrap(
    problem: Problem,
    structure: Structure,
    start: dict[str, float],
    labels: np.ndarray,
    members: int,
    rng: np.random.Generator,
) -> list[dict[str, float]]:
    """Refit on ``members`` resamples of whole groups (drawn with replacement)."""
    uniq, inverse = np.unique(labels, return_inverse=True)
    rows_of = [np.flatnonzero(inverse == k) for k in range(len(uniq))]
    out = []
    for _ in range(members):
        pick = rng.integers(0, len(uniq), size=len(uniq))
        rows = np.concatenate([rows_of[k] for k in pick])
        out.append(refit(problem.take(rows), structure, start).params)
    return out


def cross_validate(
    problem: Problem,
    labels: np.ndarray,
    folds: int,
    cv_ensemble: int,
    rng: np.random.Generator,
) -> Metrics | None:
    """Cross-validate by grouped K-fold; each fold refits from scratch without its groups.

    Returns None when there are fewer than two groups or ``folds`` < 2.
    """
    n_groups = len(np.unique(labels))
    if folds < 2 or n_groups < 2:
        return None
    pred = np.empty(len(problem.y))
    std = np.full(len(problem.y), np.nan) if cv_ensemble > 1 else None
    ens = np.full(len(problem.y), np.nan) if cv_ensemble > 1 else None
    for train, test in GroupKFold(n_splits=min(folds, n_groups)).split(problem.y, groups=labels):
        sub = problem.take(train)
        structure = Structure.of(sub)
        sol = fit_intermediate(sub, structure)
        held = problem.take(test)
        pred[test] = _predict(held, [sol.params])[:, 0]
        if std is not None and ens is not None:
            members = bootstrap(sub, structure, sol.params, labels[train], cv_ensemble, rng)
            ens[test] = _predict(held, members).std(axis=1, ddof=1)
            std[test] = np.hypot(ens[test], noise_std(sol, structure, len(train)))
    return metrics(problem.y, pred, std, ens)


def _reference(counts: np.ndarray) -> np.ndarray:
    """Most common first-shell composition of metal 1 (ties: the smallest, lexically)."""
    if counts.shape[1] == 0:
        return np.zeros(0)
    uniq, n = np.unique(counts, axis=0, return_counts=True)
    return np.asarray(uniq[int(np.argmax(n))], dtype=float)


@dataclass(frozen=True)
class Prepared:
    """A training table turned into model inputs."""

    table: pd.DataFrame
    y: np.ndarray
    descriptor: Descriptor
    coord_elements: tuple[str, ...]
    reference: np.ndarray
    design: Design
    intermediates: np.ndarray
    elements: str | pd.DataFrame = "default"

    def layout(self) -> hier.Layout:
        """Return the inputs of the hierarchical variant for this table."""
        return hierfit.make_layout(
            self.descriptor, self.elements, self.coord_elements, self.reference, self.table
        )


def prepare(
    table: pd.DataFrame | str | Path,
    target: str,
    elements: str | pd.DataFrame = "default",
    formula: str = DEFAULT_FORMULA,
    intermediate: str | None = None,
) -> Prepared:
    """Validate a training table and build the A lookup, C reference and design.

    Raises
    ------
    ArscInputError
        For a table without rows, a missing column, non-numeric values, an
        unknown metal, or a metal for which the formula is undefined.
    """
    if intermediate is not None and not intermediate.strip():
        raise ArscInputError(
            "the intermediate name is empty; name it (e.g. OH) or leave it out to use the target's"
        )
    data = read_table(table)
    if data.empty:
        where = "the training table" if isinstance(table, pd.DataFrame) else repr(str(table))
        raise ArscInputError(f"training table {where} has no rows; nothing to fit")
    y = target_values(data, target)
    check_motif_shells(data, "training table")
    descriptor = Descriptor.from_formula(formula, elements)
    i1 = descriptor.index(data["metal1"].to_numpy(str), "training table")
    i2 = descriptor.index(data["metal2"].to_numpy(str), "training table")
    bad = ~np.isfinite(descriptor.raw[np.concatenate([i1, i2])])
    if bad.any():
        sym = descriptor.symbols[int(np.concatenate([i1, i2])[np.argmax(bad)])]
        raise ArscInputError(f"formula {formula!r} is undefined for metal {sym!r}")
    coords = tuple(coord_columns(data))
    c1, c2 = coord_counts(data, coords)
    ref = _reference(c1)
    design = Design.from_counts(i1, i2, c1, c2, ref)
    if INTERMEDIATE_COLUMN in data.columns:
        zs = data[INTERMEDIATE_COLUMN].to_numpy(str)
    else:
        zs = np.full(len(data), intermediate or target)
    return Prepared(data, y, descriptor, coords, ref, design, zs, elements)


def _intermediate_fit(
    name: str,
    problem: Problem,
    labels: np.ndarray,
    settings: FitSettings,
    rng: np.random.Generator,
) -> IntermediateFit:
    structure = Structure.of(problem)
    sol = fit_intermediate(problem, structure)
    members = bootstrap(problem, structure, sol.params, labels, settings.ensemble, rng)
    cv = cross_validate(problem, labels, settings.cv_folds, settings.cv_ensemble, rng)
    train_pred = _predict(problem, [sol.params])[:, 0]
    reaction = default_reaction(name)
    dg_opt = ideal_dg(name) if reaction else None
    return IntermediateFit(
        n_rows=len(problem.y),
        n_groups=len(np.unique(labels)),
        params=sol.params,
        fitted=list(structure.fitted),
        stages=sol.stages,
        ensemble=members,
        noise_std=noise_std(sol, structure, len(problem.y)),
        train=metrics(problem.y, train_pred),
        cv=cv,
        reaction=reaction,
        dg_opt=dg_opt,
        phi_opt=phi_opt(sol.params, dg_opt),
        at_bounds=at_bounds(sol.params, structure),
        hier=None,
        interval=None,
    )


def at_bounds(params: dict[str, float], structure: Structure) -> list[str]:
    """Free non-linear parameters that ended within 0.1 % of the range of a bound."""
    out = []
    for name in structure.nonlinear:
        lo, hi = BOUNDS["c"] if name.startswith("c_") else BOUNDS[name]
        value = params[name]
        if name == "gamma":  # searched as w = gamma / (1 + gamma) in [0, 0.99]
            lo, hi, value = 0.0, 0.99, value / (1.0 + value)
        tol = 1e-3 * (hi - lo)
        if value <= lo + tol or value >= hi - tol:
            out.append(name)
    return out


def fit_model(
    table: pd.DataFrame | str | Path,
    target: str,
    *,
    elements: str = "default",
    formula: str = DEFAULT_FORMULA,
    variant: str = DEFAULT_VARIANT,
    ensemble: int = 20,
    groups_by: str = "pair",
    cv_folds: int = 5,
    cv_ensemble: int = 5,
    seed: int = 0,
    intermediate: str | None = None,
    progress: Callable[[str], None] | None = None,
    references: bool = True,
    workers: int | None = None,
) -> ArscModel:
    """Fit the ARSC model, one independent parameter set per intermediate.

    Parameters
    ----------
    table
        Training table or CSV path (see :mod:`arsc.model.table`).
    target
        Column holding dG (eV).
    elements
        Element table name for the A formula.
    formula
        A-term formula (default: the PFESS demo's best 1-D formula).
    variant
        A name of :data:`arsc.model.terms.VARIANTS`, or ``"auto"``: run
        :func:`compare_variants` and keep the simplest good-enough variant.
    ensemble
        Bootstrap members per intermediate (0: no uncertainty).
    groups_by
        ``"pair"`` (unordered metal pair) or ``"metal1"``: rows that share a
        group are held out and resampled together.
    cv_folds
        Grouped K-fold CV folds (0: skip CV; capped at the number of groups).
    cv_ensemble
        Bootstrap members per CV fold for the calibration figures (0: none).
    seed
        Seed of the bootstrap.
    intermediate
        Name of the intermediate when the table has no ``intermediate``
        column (default: the target's name).
    progress
        Called with a short message before each intermediate.
    references
        Also score the reference models (mean, ridge, gradient boosting) on
        the same CV folds (:mod:`arsc.model.reference`); needs ``cv_folds`` >= 2.
    workers
        Processes for the hierarchical variant's fit and CV folds of an
        intermediate (default: every core from
        :data:`arsc.model.hierfit.PARALLEL_ROWS` rows, else 1); the result
        does not depend on it.

    Returns
    -------
    ArscModel
        The fitted model; write it with :func:`arsc.model.save_model`.

    Raises
    ------
    ArscInputError
        For a bad table (see :func:`prepare`), or an intermediate with too few
        rows for the variant (see :func:`check_rows`); checked before fitting.
    """
    if workers is not None and workers < 1:
        raise ArscInputError(f"--workers {workers} must be >= 1")
    prep = prepare(table, target, elements, formula, intermediate)
    check_rows(prep, list(VARIANTS) if variant == "auto" else [variant])
    scores: list[VariantScore] = []
    if variant == "auto":
        scores = compare_variants(prep, groups_by=groups_by, cv_folds=max(cv_folds, 2), seed=seed)
        variant = next(s.variant for s in scores if s.chosen)
    settings = FitSettings(variant, ensemble, groups_by, cv_folds, cv_ensemble, seed)
    get_variant(variant)
    rng = np.random.default_rng(seed)
    labels_all = groups(prep.table, groups_by)
    fits = {}
    layout = prep.layout()
    for name in sorted(set(prep.intermediates)):
        if progress:
            progress(name)
        rows = np.flatnonzero(prep.intermediates == name)
        if get_variant(variant).hierarchical:
            record = hierfit.fit_intermediate(
                layout,
                hierfit.rows_of(layout, prep.table.iloc[rows], "training table"),
                prep.y[rows],
                labels_all[rows],
                cv_folds,
                workers,
            )
            fits[name] = _with_phi_opt(name, record)
        else:
            problem = _problem(prep, rows, variant)
            fits[name] = _intermediate_fit(name, problem, labels_all[rows], settings, rng)
    baselines = (
        reference_scores(prep, labels_all, cv_folds, seed) if references and cv_folds >= 2 else []
    )
    raw = {
        s: (None if not np.isfinite(v) else float(v))
        for s, v in zip(prep.descriptor.symbols, prep.descriptor.raw, strict=True)
    }
    return ArscModel(
        schema_version=SCHEMA_VERSION,
        arsc_version=__version__,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        target=target,
        data_sha256=data_sha256(prep.table, target),
        n_rows=len(prep.y),
        element_table=elements,
        formula=formula,
        phi_xx_raw=raw,
        phi_scale=prep.descriptor.scale,
        phi_low=prep.descriptor.low,
        phi_shifted=prep.descriptor.shifted,
        coord_elements=list(prep.coord_elements),
        coord_reference=dict(zip(prep.coord_elements, map(float, prep.reference), strict=True)),
        variant=variant,
        groups=groups_by,
        cv_folds=cv_folds,
        ensemble_size=ensemble,
        seed=seed,
        intermediates=fits,
        variants=scores,
        references=baselines,
        layout=hierfit.layout_doc(layout) if get_variant(variant).hierarchical else None,
    )


#: Coefficients of the hierarchical variant that the data must determine: the R term's
#: intercept and slope (a, b). Its other coefficients and the learned terms have priors.
HIER_FREE: tuple[str, ...] = ("a", "b")


def free_parameters(prep: Prepared, rows: np.ndarray, variant: str) -> int:
    """Free coefficients a variant fits for some rows of a prepared table.

    The power-law variants are plain least squares: every linear and
    non-linear parameter the rows can identify counts (:class:`Structure`).
    The hierarchical variant puts a prior on everything but the R term's
    intercept and slope (:data:`HIER_FREE`), so only those count.
    """
    if get_variant(variant).hierarchical:
        return len(HIER_FREE)
    return len(Structure.of(_problem(prep, rows, variant)).fitted)


def check_rows(prep: Prepared, variants: Sequence[str]) -> None:
    """Refuse an intermediate with no more rows than the model's free parameters.

    Each intermediate needs at least one row more than the free parameters of
    every variant that will be fitted (:func:`free_parameters`), so that a
    residual, and with it a noise level, exists.

    Raises
    ------
    ArscInputError
        Naming the intermediate, its row count and the minimum.
    """
    for name in sorted(set(prep.intermediates)):
        rows = np.flatnonzero(prep.intermediates == name)
        k, which = max((free_parameters(prep, rows, v), v) for v in variants)
        if len(rows) <= k:
            n = len(rows)
            raise ArscInputError(
                f"intermediate {str(name)!r} has {n} row{'' if n == 1 else 's'}; fitting it "
                f"needs at least {k + 1} "
                f"(one more than the {k} free parameters of variant {which!r}): add rows for it "
                "or remove its rows from the table"
            )


def _with_phi_opt(name: str, record: IntermediateFit) -> IntermediateFit:
    reaction = default_reaction(name)
    dg_opt = ideal_dg(name) if reaction else None
    return record.model_copy(
        update={
            "reaction": reaction,
            "dg_opt": dg_opt,
            "phi_opt": hierfit.phi_opt_of(record.params, dg_opt),
        }
    )


def _problem(prep: Prepared, rows: np.ndarray, variant: str) -> Problem:
    variant_ = get_variant(variant)
    return Problem(
        prep.design.take(rows), prep.y[rows], prep.descriptor, prep.coord_elements, variant_
    )


def _hier_cv(
    layout: hier.Layout, prep: Prepared, rows: np.ndarray, labels: np.ndarray, folds: int
) -> Metrics | None:
    hrows = hierfit.rows_of(layout, prep.table.iloc[rows], "training table")
    held = hierfit.cross_validate(layout, hrows, prep.y[rows], labels, folds)
    return None if held is None else metrics(prep.y[rows], held[0], held[1])


def compare_variants(
    table: Prepared | pd.DataFrame | str | Path,
    target: str | None = None,
    variants: Sequence[str] | None = None,
    *,
    elements: str = "default",
    formula: str = DEFAULT_FORMULA,
    groups_by: str = "pair",
    cv_folds: int = 5,
    seed: int = 0,
    intermediate: str | None = None,
    tolerance: float = VARIANT_TOLERANCE,
) -> list[VariantScore]:
    """Grouped-CV error of each variant, side by side; marks the one to use.

    The chosen variant is the one with the fewest extension terms whose
    pooled CV RMSE is within ``tolerance`` (relative) of the best; ties go
    to the lower RMSE.

    Parameters
    ----------
    table
        Training table, CSV path, or the output of :func:`prepare`.
    target
        Target column (needed unless ``table`` is prepared).
    variants
        Names to compare (default: all of :data:`arsc.model.terms.VARIANTS`).
    elements, formula, groups_by, cv_folds, seed, intermediate
        As in :func:`fit_model`.
    tolerance
        Relative RMSE margin a more complex variant must beat.

    Returns
    -------
    list of VariantScore
        One per variant, in the order asked; exactly one has ``chosen``.
    """
    if isinstance(table, Prepared):
        prep = table
    else:
        if target is None:
            raise ArscInputError("compare_variants needs the target column name")
        prep = prepare(table, target, elements, formula, intermediate)
    names = list(variants or VARIANTS)
    for name in names:
        get_variant(name)
    labels_all = groups(prep.table, groups_by)
    layout = prep.layout()
    rows_by_z = {
        z: np.flatnonzero(prep.intermediates == z) for z in sorted(set(prep.intermediates))
    }
    raw = []
    for name in names:
        per_z, sq, ab, n, k = {}, 0.0, 0.0, 0, 0
        for z, rows in rows_by_z.items():
            problem = _problem(prep, rows, name)
            labels = labels_all[rows]
            if get_variant(name).hierarchical:
                cv = _hier_cv(layout, prep, rows, labels, cv_folds)
                k += len(layout.fixed_names())
            else:
                cv = cross_validate(problem, labels, cv_folds, 0, np.random.default_rng(seed))
                k += len(Structure.of(problem).fitted)
            if cv is None:
                raise ArscInputError(
                    f"intermediate {str(z)!r} has fewer than two {groups_by} groups; "
                    "cannot compare variants by held-out error"
                )
            per_z[z] = cv.rmse
            sq += cv.rmse**2 * cv.n
            ab += cv.mae * cv.n
            n += cv.n
        raw.append((name, k, ab / n, float(np.sqrt(sq / n)), per_z))
    best = min(r[3] for r in raw)
    ok = [r for r in raw if r[3] <= best * (1 + tolerance)]
    chosen = min(ok, key=lambda r: (get_variant(r[0]).extra_terms, r[3]))[0]
    return [
        VariantScore(
            variant=name,
            n_params=k,
            cv_mae=mae,
            cv_rmse=rmse,
            per_intermediate=per_z,
            chosen=name == chosen,
        )
        for name, k, mae, rmse, per_z in raw
    ]
