"""Learning from the campaign's DFT: the model the next round scores with.

The cold-start prior (``arsc/data/models/prior-sac-hoer.json``,
``scripts/fit_prior.py``) is fitted on single-atom VASP data; the campaign's
DFT is on dual-atom sites, at another level of theory. Two ways to learn
(``model.refit`` of the definition):

``offset``
    keep the prior's shape and add, per intermediate, the mean residual
    dG_DFT - dG_prior over the computed sites to its intercept a_z (full
    fit and every ensemble member): the systematic shift between the prior's
    data and the campaign's DFT. dG_prior is the prior's prediction as the
    campaign scores it (:func:`arsc.transfer.score_pairs`: the lower binding
    mode, and for a single-atom prior the partner-mixed value), so the
    shift corrects what the campaign actually predicted. The residual std
    (noise_std) becomes the pooled std of the prior's (weighted as
    :data:`PRIOR_ROWS` rows) and of the residuals left after the shift.
    The computed sites are then held-out data for the shifted model: each
    site's residual is predicted from the shift of the *other* sites
    (leave one out) and, where those errors exceed the shifted model's std,
    the std is widened (:func:`held_out_scale`, never narrowed). Needs one
    DFT row per intermediate (two for the widening).
``full``
    :func:`arsc.model.fit_model` on the campaign's DFT rows alone (one row
    per computed site and intermediate), with the prior's A-term formula.
``auto``
    ``offset`` until every intermediate has ``full_refit_rows`` DFT rows,
    then ``full``; without a prior, ``full`` as soon as a fit succeeds.

A full fit that fails (too few rows for its parameters) keeps the previous
model and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from arsc.errors import ArscInputError
from arsc.model import DEFAULT_FORMULA, ArscModel, fit_model
from arsc.model.io import Interval
from arsc.model.predict import fit_phi_opt
from arsc.model.table import read_table
from arsc.surrogates import calibrate
from arsc.transfer import score_pairs
from workflows.campaign.definition import ModelSpec
from workflows.campaign.state import RefitInfo

#: Grouped-CV folds of a full refit (fewer when the campaign has fewer metal pairs).
REFIT_CV_FOLDS = 5
#: Weight of the prior's residual std, in DFT rows, when the offset refit pools it.
PRIOR_ROWS = 4


@dataclass
class Learned:
    """A refit's outcome: the model (None: no model) and its record for the state."""

    model: ArscModel | None
    info: RefitInfo


def training_table(
    candidates: pd.DataFrame, dg: dict[str, dict[str, float | None]]
) -> pd.DataFrame:
    """Rows for :func:`arsc.model.fit_model`: the candidate's columns, intermediate, dG (eV).

    Parameters
    ----------
    candidates
        The candidate table (``id`` column and the model's columns).
    dg
        Site id -> intermediate -> DFT dG (None when unknown).
    """
    by_id = candidates.set_index("id", drop=False)
    rows = []
    for site, values in sorted(dg.items()):
        for z, v in sorted(values.items()):
            if v is not None and np.isfinite(v):
                rows.append({**by_id.loc[site].to_dict(), "intermediate": z, "dG": float(v)})
    return pd.DataFrame(rows)


def _widened(interval: Interval | None, factor: float) -> Interval | None:
    """Return the conformal interval with every scale times ``factor`` (>= 1)."""
    if factor == 1.0:
        return interval
    if interval is None:
        return Interval(scale={"0.68": factor}, group_coverage={}, n=0)
    return interval.model_copy(update={"scale": {k: v * factor for k, v in interval.scale.items()}})


def shifted(
    model: ArscModel,
    offsets: dict[str, float],
    noise: dict[str, float] | None = None,
    widen: dict[str, float] | None = None,
) -> ArscModel:
    """Return a copy with a_z += offset_z (fit and members), new noise_std (eV), wider std.

    ``widen`` maps an intermediate to a factor >= 1 on its predictive std: the
    conformal scale of a hierarchical fit; for a power-law fit only its
    residual std (noise_std) is widened, so the factor there is a lower bound.
    """
    fits = {}
    for z, fit in model.intermediates.items():
        d = offsets.get(z, 0.0)
        factor = (widen or {}).get(z, 1.0)
        sigma = noise[z] if noise and z in noise else fit.noise_std
        interval = fit.interval
        if fit.hier is not None:
            interval = _widened(fit.interval, factor)  # the scale on the calibrated std
        else:
            sigma *= factor  # a power-law fit: its residual std only
        params = {**fit.params, "a": fit.params["a"] + d}
        members = [{**m, "a": m["a"] + d} for m in fit.ensemble]
        opt = fit_phi_opt(fit.model_copy(update={"params": params}), fit.dg_opt)
        update = {
            "params": params,
            "ensemble": members,
            "phi_opt": opt,
            "noise_std": sigma,
            "interval": interval,
        }
        fits[z] = fit.model_copy(update=update)
    return model.model_copy(update={"intermediates": fits})


def _residuals(model: ArscModel, rows: pd.DataFrame, z: str) -> tuple[np.ndarray, np.ndarray]:
    """dG_DFT - dG_model of one intermediate's rows and the model's std there, eV."""
    pred, _ = score_pairs(model, read_table(rows), [z])
    return rows["dG"].to_numpy(float) - pred.dg[:, 0], pred.std[:, 0]


def offsets(prior: ArscModel, table: pd.DataFrame) -> tuple[dict[str, float], dict[str, float]]:
    """Return the mean residual dG_DFT - dG_prior per intermediate, and the pooled noise std, eV."""
    shift, noise = {}, {}
    for z, rows in table.groupby("intermediate", sort=True):
        if z not in prior.intermediates:
            continue
        res, _ = _residuals(prior, rows, str(z))
        shift[str(z)] = float(np.mean(res))
        left = float(np.sum((res - res.mean()) ** 2))
        prior_var = prior.intermediates[str(z)].noise_std ** 2
        noise[str(z)] = float(np.sqrt((PRIOR_ROWS * prior_var + left) / (PRIOR_ROWS + len(res))))
    return shift, noise


def held_out_scale(prior: ArscModel, model: ArscModel, table: pd.DataFrame) -> dict[str, float]:
    """Per intermediate, the factor (>= 1) that makes the shifted model's std cover its errors.

    Each computed site is held out in turn: its error is its residual against
    the prior minus the mean residual of the other sites (the shift a model
    without it would have used), and the std is the shifted model's std there.
    :func:`arsc.surrogates.calibrate` turns these into the smallest factor
    with which 68 % of the errors lie within 1 std and 95 % within 1.96 std
    (finite-sample safe); fewer than two sites give 1.
    """
    out = {}
    for z, rows in table.groupby("intermediate", sort=True):
        if z not in model.intermediates or len(rows) < 2:
            continue
        res, _ = _residuals(prior, rows, str(z))
        n = len(res)
        loo = res - (res.sum() - res) / (n - 1)
        _, std = _residuals(model, rows, str(z))
        out[str(z)] = float(calibrate(loo, std).scale)
    return out


def _full(spec: ModelSpec, prior: ArscModel | None, table: pd.DataFrame, seed: int) -> ArscModel:
    formula = spec.formula or (prior.formula if prior is not None else DEFAULT_FORMULA)
    return fit_model(
        table,
        "dG",
        formula=formula,
        variant=spec.variant,
        ensemble=spec.ensemble,
        groups_by="pair",
        cv_folds=REFIT_CV_FOLDS,  # grouped CV calibrates the hierarchical model's intervals
        cv_ensemble=0,
        references=False,
        seed=seed,
    )


def _kind(spec: ModelSpec, prior: ArscModel | None, table: pd.DataFrame) -> str:
    if spec.refit != "auto":
        return spec.refit
    counts = table.groupby("intermediate").size() if len(table) else pd.Series(dtype=int)
    enough = len(counts) > 0 and int(counts.min()) >= spec.full_refit_rows
    if prior is None:
        return "full"
    return "full" if enough else "offset"


def refit(
    spec: ModelSpec,
    prior: ArscModel | None,
    previous: ArscModel | None,
    table: pd.DataFrame,
    seed: int,
) -> Learned:
    """Make the next round's model from all DFT rows so far (see the module docstring).

    Parameters
    ----------
    spec
        The definition's model settings.
    prior
        The cold-start prior (None: none fitted the reaction).
    previous
        The model of the round that just finished (kept when a fit fails).
    table
        :func:`training_table` of every computed site.
    seed
        Seed of the bootstrap.
    """
    rows = len(table)
    if rows == 0 or spec.refit == "none":
        msg = "no DFT rows yet" if rows == 0 else "refit: none (definition)"
        info = RefitInfo(kind="none", model=None, rows=rows, message=msg)
        if prior is not None and previous is prior:
            info.kind = "prior"
        return Learned(previous, info)
    kind = _kind(spec, prior, table)
    if kind == "offset" and prior is not None:
        off, noise = offsets(prior, table)
        plain = shifted(prior, off, noise)
        widen = held_out_scale(prior, plain, table)
        text = ", ".join(
            f"{z} {v:+.2f} eV (noise {noise[z]:.2f}, std x{widen.get(z, 1.0):.2f})"
            for z, v in off.items()
        )
        info = RefitInfo(kind="offset", model=None, rows=rows, offsets=off, message=text)
        return Learned(shifted(prior, off, noise, widen), info)
    try:
        model = _full(spec, prior, table, seed)
    except (ArscInputError, ValueError, RuntimeError, np.linalg.LinAlgError) as exc:
        msg = f"full refit on {rows} rows failed ({' '.join(str(exc).split())}); kept the previous"
        return Learned(previous, RefitInfo(kind="failed", model=None, rows=rows, message=msg))
    return Learned(model, RefitInfo(kind="full", model=None, rows=rows, message=f"{rows} rows"))
