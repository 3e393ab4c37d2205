"""The model file: a versioned JSON document, and loading it with one-line errors.

Examples
--------
>>> from arsc.model.io import SCHEMA_VERSION
>>> SCHEMA_VERSION
1
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from arsc.errors import ArscInputError
from arsc.model.terms import Descriptor

#: Version of the model file layout; a file of another version is refused.
SCHEMA_VERSION: Literal[1] = 1


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
        description="phi where a + b phi**beta = dg_opt, dimensionless; None if no solution"
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


class ArscModel(BaseModel):
    """A fitted ARSC model, as written to and read from the model file."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = Field(description="model file layout version")
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

    @cached_property
    def descriptor(self) -> Descriptor:
        """The A term as stored (does not re-read the element table)."""
        symbols = tuple(self.phi_xx_raw)
        raw = np.array([np.nan if v is None else v for v in self.phi_xx_raw.values()])
        return Descriptor(
            self.formula, symbols, raw, self.phi_scale, self.phi_low, self.phi_shifted
        )


def save_model(model: ArscModel, path: str | Path) -> Path:
    """Write the model file (JSON, indented)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(model.model_dump_json(indent=1) + "\n")
    return p


def load_model(path: str | Path) -> ArscModel:
    """Read a model file.

    Raises
    ------
    ArscInputError
        One line naming the file and the problem: missing or unreadable,
        not JSON, another schema version, or a malformed field.
    """
    name = str(path)
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ArscInputError(f"model file {name!r} cannot be read: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8 text"
        raise ArscInputError(f"model file {name!r} is not valid JSON ({msg})") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise ArscInputError(f"model file {name!r} has no schema_version; not an arsc model file")
    if data["schema_version"] != SCHEMA_VERSION:
        raise ArscInputError(
            f"model file {name!r} has schema_version {data['schema_version']!r}; this arsc "
            f"reads schema_version {SCHEMA_VERSION}; refit it with `arsc fit`"
        )
    try:
        return ArscModel.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "top level"
        raise ArscInputError(f"model file {name!r} is malformed: {where}: {first['msg']}") from None
