"""PFESS end to end: generate, clean, select, fit, cross-validate (:func:`run_pfess`)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pydantic
from sklearn.base import RegressorMixin

from arsc.elements import load_elements
from arsc.errors import ArscInputError, unknown
from arsc.io import plain
from arsc.pfess import authors as au
from arsc.pfess.data import GROUPINGS, PairData, prepare
from arsc.pfess.fit import Fit, best_subsets, cv_rmse, fit_model, ols
from arsc.pfess.scan import Scan, extend_sets, scan_features, screen, top_indices
from arsc.pfess.space import FeatureGenerator, FeatureSpace, load_space

#: Descriptor dimensions PFESS searches.
DIMS = (1, 2, 3)

#: Largest clean feature matrix (rows x features x 8 bytes, twice: raw and
#: standardised) the authors' mode may hold, bytes.
MAX_MATRIX_BYTES = 2 * 1024**3


class Descriptor(pydantic.BaseModel):
    """One fitted descriptor: target ~ intercept + sum_i coefficient_i * formula_i."""

    model_config = pydantic.ConfigDict(extra="forbid")

    dim: int = pydantic.Field(description="Number of features (1-3).")
    formulas: list[str] = pydantic.Field(
        description="Feature formulas over nx..Ry (arsc.features grammar)."
    )
    coefficients: list[float] = pydantic.Field(
        description="One per formula, target unit per feature unit (eV per feature unit "
        "for free-energy targets)."
    )
    intercept: float = pydantic.Field(description="Target unit (eV for free-energy targets).")
    r2: float = pydantic.Field(description="Training R^2, dimensionless.")
    rmse: float = pydantic.Field(description="Training RMSE, target unit (eV).")
    cv_rmse: float = pydantic.Field(
        description="Grouped cross-validated RMSE of the same model with the same "
        "features, target unit (eV); the feature selection itself is not repeated per fold."
    )
    groups: str = pydantic.Field(description="Cross-validation grouping: pair or metal1.")
    model: str = pydantic.Field(description="Fitting model: ols or lasso_cv.")


class PfessResult(pydantic.BaseModel):
    """Outcome of :func:`run_pfess`."""

    model_config = pydantic.ConfigDict(extra="forbid")

    target: str = pydantic.Field(description="Target column (eV for free energies).")
    n_rows: int = pydantic.Field(description="Metal pairs fitted.")
    elements: str = pydantic.Field(description="Element table.")
    space: str = pydantic.Field(description="Feature-space preset.")
    mode: str = pydantic.Field(description="Selection mode: fast or authors.")
    groups: str = pydantic.Field(description="Cross-validation grouping: pair or metal1.")
    cv: str = pydantic.Field(description="Cross-validation splitter.")
    n_features_generated: int = pydantic.Field(description="Candidate features before cleaning.")
    n_features_clean: int = pydantic.Field(description="Features after cleaning.")
    cleaning: dict[str, int] = pydantic.Field(description="Features left after each step.")
    results: list[Descriptor] = pydantic.Field(description="Best descriptors per dimension.")
    elapsed_s: float = pydantic.Field(description="Wall time, s.")
    interrupted: bool = pydantic.Field(
        False, description="True if the authors' subset search stopped early."
    )


@dataclass
class _Job:
    """Everything a selection mode needs."""

    data: PairData
    gen: FeatureGenerator
    scan: Scan
    dim: int
    top: int
    groups: np.ndarray
    group_kind: str
    folds: int | None
    sis: int
    beam: int
    settings: au.AuthorsSettings
    interrupted: bool = False
    found: list[Descriptor] = field(default_factory=list)

    def describe(
        self, indices: list[int], x: np.ndarray, fit: Fit, model: RegressorMixin | None
    ) -> Descriptor:
        y = self.data.target
        return Descriptor(
            dim=len(indices),
            formulas=self.gen.formulas(indices),
            coefficients=[float(c) for c in fit.coefficients],
            intercept=fit.intercept,
            r2=fit.r2,
            rmse=fit.rmse,
            cv_rmse=cv_rmse(x, y, self.groups, model, self.folds),
            groups=self.group_kind,
            model="ols" if model is None else "lasso_cv",
        )

    def add_ols(self, indices: list[int]) -> Descriptor:
        x = self.gen.values(indices)
        return self.describe(indices, x, ols(x, self.data.target), None)

    def residual(self, indices: list[int]) -> np.ndarray:
        x = self.gen.values(indices)
        fit = ols(x, self.data.target)
        return np.asarray(self.data.target - fit.intercept - x @ fit.coefficients)


Ranked = list[tuple[tuple[int, ...], float]]


def _merge(*lists: Ranked, width: int) -> Ranked:
    best: dict[tuple[int, ...], float] = {}
    for ranked in lists:
        for subset, rss in ranked:
            key = tuple(sorted(subset))
            best[key] = min(best.get(key, np.inf), rss)
    return sorted(best.items(), key=lambda item: item[1])[:width]


def _fast(job: _Job) -> None:
    """Exhaustive 1-D; for 2-D and 3-D, SIS + exhaustive l0 merged with a partner scan.

    Dimension k ranks (a) every k-subset of the SIS pool (top ``sis`` features
    by correlation with the target, plus ``sis`` more per dimension by
    correlation with the residual of the best (k-1)-D fit) and (b) the best
    ``beam`` (k-1)-D sets, each extended by every clean feature.
    """
    y = job.data.target
    yy = float(((y - y.mean()) ** 2).sum())
    width = max(job.top, job.beam)
    first = top_indices(job.scan.r2, max(width, job.sis))
    ranked: Ranked = [((int(i),), (1 - float(job.scan.r2[i])) * yy) for i in first]
    pool = [int(i) for i in first[: job.sis]]
    for k in range(1, job.dim + 1):
        if k > 1:
            residual = job.residual(list(ranked[0][0]))
            extra = screen(job.gen, job.scan.keep, residual, job.sis)
            pool = list(dict.fromkeys(pool + [int(i) for i in extra]))
            sis = [
                (tuple(pool[i] for i in subset), rss)
                for subset, rss in best_subsets(job.gen.values(pool), y, k, width)
            ]
            beam: Ranked = []
            if job.beam:
                bases = [subset for subset, _ in ranked[: job.beam]]
                beam = extend_sets(job.gen, job.scan.keep, y, bases, width)
            ranked = _merge(sis, beam, width=width)
            if not ranked:  # fewer clean features than k
                return
        fitted = [(job.add_ols(list(subset)), subset) for subset, _ in ranked[: 2 * job.top]]
        fitted.sort(key=lambda item: -round(item[0].r2, 10))
        job.found.extend(desc for desc, _ in fitted[: job.top])


def _authors(job: _Job) -> None:
    """Run the authors' random-forest screen and LassoCV over k-subsets."""
    kept = np.flatnonzero(job.scan.keep)
    need = 2 * 8 * job.gen.n_rows * len(kept)
    if need > MAX_MATRIX_BYTES:
        raise ArscInputError(
            f"authors mode would hold {need / 1024**2:.0f} MiB of features "
            f"(limit {MAX_MATRIX_BYTES / 1024**2:.0f} MiB); use --space authors or --mode fast"
        )
    x = np.empty((job.gen.n_rows, len(kept)))
    step = job.gen.block_size
    for lo in range(0, len(kept), step):
        x[:, lo : lo + step] = job.gen.values(kept[lo : lo + step])
    y, settings = job.data.target, job.settings
    z, yc = au.standardise(x), y - y.mean()
    alphas = np.logspace(0, -5, 5) * au.lambda_max(z, yc)
    pool = au.rf_screen(z, yc, settings)
    del z
    start = time.monotonic()
    deadline = None if settings.time_limit_s is None else start + settings.time_limit_s
    model = au.lasso_model(alphas, settings)
    for k in range(1, job.dim + 1):
        search = au.lasso_subsets(x, y, pool, k, job.top, alphas, settings, deadline)
        for subset, _ in search.subsets:
            cols = x[:, list(subset)]
            fit = fit_model(model, cols, y)
            job.found.append(job.describe([int(kept[i]) for i in subset], cols, fit, model))
        if search.interrupted:
            job.interrupted = True
            break


#: Selection modes.
MODES: dict[str, Callable[[_Job], None]] = {"fast": _fast, "authors": _authors}


def _check(dim: int, top: int, mode: str, groups: str, sis: int, beam: int) -> None:
    if dim not in DIMS:
        raise ArscInputError(f"descriptor dimension {dim} is outside 1..3")
    if top < 1:
        raise ArscInputError(f"top {top} must be at least 1")
    if sis < 1:
        raise ArscInputError(f"SIS size {sis} must be at least 1")
    if beam < 0:
        raise ArscInputError(f"beam {beam} must be at least 0")
    if mode not in MODES:
        raise unknown("PFESS mode", mode, MODES)
    if groups not in GROUPINGS:
        raise unknown("cross-validation grouping", groups, GROUPINGS)


def _check_cv(cv_folds: int | None, settings: au.AuthorsSettings | None) -> None:
    if cv_folds is not None and cv_folds < 2:
        raise ArscInputError(
            f"cv_folds {cv_folds} must be at least 2 (or None: leave one group out)"
        )
    if settings is None:
        return
    limit = settings.time_limit_s
    if limit is not None and not (math.isfinite(limit) and limit >= 0):
        raise ArscInputError(f"time limit {plain(limit)} s must be a number of seconds >= 0")
    if settings.n_estimators < 1:
        raise ArscInputError(f"n_estimators {settings.n_estimators} must be at least 1")
    if settings.n_jobs is not None and settings.n_jobs == 0:
        raise ArscInputError("n_jobs 0 is not allowed; use None (one job), >= 1, or -1 (all)")


def run_pfess(
    data: pd.DataFrame,
    target: str,
    elements: str = "authors",
    dim: int = 1,
    top: int = 5,
    mode: str = "fast",
    groups: str = "pair",
    space: str | FeatureSpace = "full",
    sis: int = 50,
    beam: int = 100,
    cv_folds: int | None = None,
    authors: au.AuthorsSettings | None = None,
    block_size: int = 10_000,
    source: str = "data",
) -> PfessResult:
    """Find descriptors of a target over intrinsic properties of metal pairs (PFESS).

    Parameters
    ----------
    data
        Pairs table: ``metal1, metal2`` or ``sample`` (e.g. ``WFe``) and the target.
    target
        Target column (eV for free energies).
    elements
        Element table: ``authors`` or ``default``.
    dim
        Largest descriptor dimension, 1-3; every dimension up to it is reported.
    top
        Descriptors reported per dimension.
    mode
        ``fast`` (exhaustive 1-D, SIS + exhaustive l0 for 2-D/3-D) or
        ``authors`` (random-forest screen + LassoCV over k-subsets).
    groups
        Cross-validation groups: ``pair`` (unordered metal pair) or ``metal1``.
    space
        Feature-space preset (``full`` or ``authors``; arsc/data/pfess_spaces.yaml)
        or a :class:`~arsc.pfess.space.FeatureSpace`.
    sis
        Fast mode: features kept per SIS screen (one screen per dimension).
    beam
        Fast mode: best (k-1)-D sets extended by every clean feature when
        searching k-D sets (0: SIS pool only).
    cv_folds
        None: leave one group out; an integer: GroupKFold with that many folds.
    authors
        Settings of the authors' mode.
    block_size
        Feature columns generated at a time.
    source
        Name of the data source, for messages.

    Returns
    -------
    PfessResult
        Feature counts, and the best ``top`` descriptors per dimension with
        training R^2/RMSE and grouped CV RMSE.

    Raises
    ------
    ArscInputError
        Bad data (see :func:`arsc.pfess.data.prepare`) or options.
    """
    t0 = time.perf_counter()
    _check(dim, top, mode, groups, sis, beam)
    _check_cv(cv_folds, authors)
    table = load_elements(elements)
    pairs = prepare(data, target, table.index, source)
    spc = load_space(space) if isinstance(space, str) else space
    gen = FeatureGenerator(table, pairs.metals_x, pairs.metals_y, spc, block_size)
    job = _Job(
        data=pairs,
        gen=gen,
        scan=scan_features(gen, pairs.target),
        dim=dim,
        top=top,
        groups=pairs.groups(groups),
        group_kind=groups,
        folds=cv_folds,
        sis=sis,
        beam=beam,
        settings=authors or au.AuthorsSettings(),
    )
    MODES[mode](job)
    return PfessResult(
        target=target,
        n_rows=len(pairs.target),
        elements=elements,
        space=spc.name,
        mode=mode,
        groups=groups,
        cv="leave one group out" if cv_folds is None else f"GroupKFold({cv_folds})",
        n_features_generated=gen.n_features,
        n_features_clean=job.scan.n_clean,
        cleaning=job.scan.counts,
        results=job.found,
        elapsed_s=time.perf_counter() - t0,
        interrupted=job.interrupted,
    )
