"""The model file: a versioned JSON document, and loading it with one-line errors.

Examples
--------
>>> from arsc.model.io import SCHEMA_VERSION
>>> SCHEMA_VERSION
2
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from arsc.jsonio import load_json, save_json
from arsc.model.terms import Descriptor

#: Version of the model file layout; a file of another version is refused.
SCHEMA_VERSION: Literal[2] = 2


class Metrics(BaseModel):
    """Errors of predictions against the target."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(description="rows evaluated, count")
    mae: float = Field(description="mean absolute error, eV")
    rmse: float = Field(description="root-mean-square error, eV")
    r2: float | None = Field(
        description="coefficient of determination, dimensionless; None if the target is constant"
    )
    coverage_1sigma: float | None = Field(
        None,
        description="fraction of held-out rows with |error| <= the predictive std, dimensionless "
        "(about 0.68 when the std is calibrated and errors are Gaussian); None without ensemble",
    )
    mean_std: float | None = Field(
        None, description="mean predictive std over the held-out rows, eV; None without ensemble"
    )
    mean_std_ensemble: float | None = Field(
        None,
        description="mean ensemble (parameter) part of that std, eV; None without ensemble",
    )


def metrics(
    y: np.ndarray,
    pred: np.ndarray,
    std: np.ndarray | None = None,
    std_ensemble: np.ndarray | None = None,
) -> Metrics:
    """MAE, RMSE, R^2 (eV) and, given the predictive std, its calibration."""
    err = pred - y
    sst = float(np.sum((y - y.mean()) ** 2))
    cover = mean_std = mean_ens = None
    if std is not None and np.all(np.isfinite(std)):
        cover = float(np.mean(np.abs(err) <= std))
        mean_std = float(np.mean(std))
    if std_ensemble is not None and np.all(np.isfinite(std_ensemble)):
        mean_ens = float(np.mean(std_ensemble))
    return Metrics(
        n=len(y),
        mae=float(np.mean(np.abs(err))),
        rmse=float(np.sqrt(np.mean(err**2))),
        r2=None if sst == 0 else 1.0 - float(err @ err) / sst,
        coverage_1sigma=cover,
        mean_std=mean_std,
        mean_std_ensemble=mean_ens,
    )


class HierState(BaseModel):
    """The fitted Gaussian process of the hierarchical variant for one intermediate."""

    model_config = ConfigDict(extra="forbid")

    hyper: dict[str, float] = Field(
        description="hyperparameters: beta (dimensionless), noise and sd_* part scales (eV), "
        "length_<property> kernel length scales (standardised units)"
    )
    i1: list[int] = Field(description="training rows: binding metal, index into layout.metals")
    i2: list[int] = Field(description="training rows: partner metal, index into layout.metals")
    env1: list[list[float]] = Field(description="training rows: own first-shell counts minus ref")
    env2: list[list[float]] = Field(description="training rows: partner's counts minus ref")
    motif: list[int] = Field(description="training rows: motif code, index into layout.motifs")
    y: list[float] = Field(description="training targets, eV")
    alpha: list[float] = Field(description="GP weights C^-1 y, 1/eV")


class Interval(BaseModel):
    """Conformal calibration of the predictive std from grouped-CV residuals."""

    model_config = ConfigDict(extra="forbid")

    scale: dict[str, float] = Field(
        description="per nominal coverage ('0.68', '0.90', '0.95'): the factor q with which "
        "|error| <= q * std held for that fraction of held-out rows, dimensionless"
    )
    group_coverage: dict[str, float] = Field(
        description="per nominal coverage: the mean over held-out groups (each weighted "
        "equally) of the group's coverage after calibration, dimensionless"
    )
    per_group: dict[str, float] = Field(
        default_factory=dict,
        description="coverage of the calibrated 68 % interval in each held-out group, "
        "dimensionless",
    )
    n: int = Field(description="held-out residuals used, count")


class IntermediateFit(BaseModel):
    """The fit for one intermediate z."""

    model_config = ConfigDict(extra="forbid")

    n_rows: int = Field(description="training rows of this intermediate, count")
    n_groups: int = Field(description="distinct groups (metal pairs or first metals), count")
    params: dict[str, float] = Field(
        description="named parameters of the full-data fit: a, b, p in eV; beta, gamma, "
        "kappa, shift and the coordination exponents c_<El> dimensionless"
    )
    fitted: list[str] = Field(description="names of the parameters the data determined")
    stages: list[str] = Field(description="the fitting stages run, one line each")
    ensemble: list[dict[str, float]] = Field(
        description="parameters of each bootstrap member (units as in params)"
    )
    noise_std: float = Field(
        description="residual standard deviation of the full-data fit, sqrt(SSE / (n - k)), eV; "
        "added in quadrature to the ensemble std to give the predictive uncertainty"
    )
    train: Metrics = Field(description="errors on the training rows (not a validation)")
    cv: Metrics | None = Field(description="grouped cross-validated errors; None if not run")
    reaction: str | None = Field(description="reaction whose ideal dG defines phi_opt")
    dg_opt: float | None = Field(description="ideal dG of this intermediate, eV")
    phi_opt: float | None = Field(
        description="phi where a + b (phi**beta - 1)/beta = dg_opt, dimensionless; None if no "
        "solution"
    )
    at_bounds: list[str] = Field(
        default_factory=list, description="parameters that ended at a bound of their range"
    )
    hier: HierState | None = Field(None, description="posterior of the hierarchical variant")
    interval: Interval | None = Field(
        None, description="conformal calibration of the uncertainty; None without CV"
    )


class VariantScore(BaseModel):
    """Held-out error of one model variant."""

    model_config = ConfigDict(extra="forbid")

    variant: str = Field(description="variant name")
    n_params: int = Field(description="free parameters summed over intermediates, count")
    cv_mae: float = Field(description="grouped-CV MAE pooled over intermediates, eV")
    cv_rmse: float = Field(description="grouped-CV RMSE pooled over intermediates, eV")
    per_intermediate: dict[str, float] = Field(description="grouped-CV RMSE per intermediate, eV")
    chosen: bool = Field(description="whether this variant was selected")


class HierLayoutDoc(BaseModel):
    """What the hierarchical variant reads of a table (arsc.model.hier.Layout)."""

    model_config = ConfigDict(extra="forbid")

    metals: list[str] = Field(description="metals with a random-effect coordinate")
    log_phi: list[float] = Field(description="ln phi_xx (intrinsic prior) per metal")
    props: list[list[float]] = Field(
        description="standardised intrinsic properties per metal (n, S, d, IE, X, R)"
    )
    motifs: list[str] = Field(description="motif categories of the training table (first: ref)")
    hetero: bool = Field(description="whether the partner (S) block is on")
    shell_length: float | None = Field(
        None,
        description="length of the exponential first-shell kernel, counts (None: a file "
        "written before 2026-12-03, squared-exponential kernel; refused if it has C terms)",
    )


class ReferenceScore(BaseModel):
    """Held-out error of a reference model fed the same inputs, on the same folds."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="reference model name")
    description: str = Field(description="what it is and what it reads")
    cv_mae: float = Field(description="grouped-CV MAE pooled over intermediates, eV")
    cv_rmse: float = Field(description="grouped-CV RMSE pooled over intermediates, eV")
    cv_r2: float | None = Field(
        description="grouped-CV R^2, mean over intermediates (each against its own mean)"
    )


class ArscModel(BaseModel):
    """A fitted ARSC model, as written to and read from the model file."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[2] = Field(description="model file layout version")
    arsc_version: str = Field(description="arsc version that wrote the file")
    created: str = Field(description="creation time, ISO 8601 UTC")
    target: str = Field(description="target column of the training table (eV)")
    data_sha256: str = Field(description="SHA-256 of the canonicalised training table")
    n_rows: int = Field(description="training rows, count")
    element_table: str = Field(description="element property table name")
    formula: str = Field(description="A-term formula f of phi_xx (arsc.features grammar)")
    phi_xx_raw: dict[str, float | None] = Field(
        description="formula value f per metal (units of the formula); None where undefined"
    )
    phi_scale: float = Field(description="fixed divisor s of f, units of the formula")
    phi_low: float = Field(description="subtracted from f before scaling, units of the formula")
    phi_shifted: bool = Field(description="whether phi_xx = (f - low)/s + shift (fitted shift)")
    coord_elements: list[str] = Field(description="first-shell elements with a C exponent")
    coord_reference: dict[str, float] = Field(
        description="reference first-shell counts per element (C = 1 there), count"
    )
    variant: str = Field(description="model variant (arsc.model.terms.VARIANTS)")
    groups: str = Field(description="grouping of rows for CV and bootstrap: pair or metal1")
    cv_folds: int = Field(description="requested grouped-CV folds, count (0: not run)")
    ensemble_size: int = Field(description="bootstrap members per intermediate, count")
    seed: int = Field(description="random seed of the bootstrap")
    intermediates: dict[str, IntermediateFit] = Field(description="fit per intermediate")
    variants: list[VariantScore] = Field(
        default_factory=list, description="held-out errors of the compared variants, if compared"
    )
    references: list[ReferenceScore] = Field(
        default_factory=list,
        description="held-out errors of reference models on the same folds, if CV was run",
    )
    layout: HierLayoutDoc | None = Field(None, description="inputs of the hierarchical variant")

    @cached_property
    def descriptor(self) -> Descriptor:
        """The A term as stored (does not re-read the element table)."""
        symbols = tuple(self.phi_xx_raw)
        raw = np.array([np.nan if v is None else v for v in self.phi_xx_raw.values()])
        return Descriptor(
            self.formula, symbols, raw, self.phi_scale, self.phi_low, self.phi_shifted
        )


def save_model(model: ArscModel, path: str | Path) -> Path:
    """Write the model file (JSON, indented), atomically."""
    return save_json(path, model)


def load_model(path: str | Path) -> ArscModel:
    """Read a model file.

    Raises
    ------
    ArscInputError
        One line naming the file and the problem: missing or unreadable,
        not JSON, no or another schema version, or malformed fields.
    """
    return load_json(path, ArscModel, what="model file", advice="refit it with `arsc fit`")
