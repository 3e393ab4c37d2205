"""Scoring candidates: the ARSC model's dG with uncertainty -> the objective's score.

For every candidate the model predicts dG and its predictive std per
intermediate with either metal binding, and keeps the lower dG
(:func:`arsc.transfer.score_pairs`), as the DFT side keeps its
lowest-energy binding mode. A model that saw single atoms only (the
packaged cold-start prior) knows no partner effect; ``score_pairs`` then
mixes the two metals' single-atom values with the ARSC synergy weight and
widens the std by the unknown weight (:func:`arsc.transfer.partner_mixed`),
so Fe-Co and Fe-Ni are no longer predicted alike. The objective quantity is computed
at the predicted dG (:func:`arsc.thermo.quantities.evaluate_quantity`) and its
std from Monte Carlo samples dG ~ N(mu, std^2), independent per intermediate,
with a seeded generator (so a resumed campaign scores exactly as before) and
common random numbers (candidates with equal predictions get equal stds).
:meth:`arsc.select.Objective.score_dist` turns the quantity into the score
(lower is better) that pruning and acquisition use.

Without a model (no prior fits the reaction, no DFT yet) the first batch is
space-filling: :func:`space_filling` picks candidates far apart in the
standardised space of the two metals' element properties and the first-shell
counts.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd

from arsc.elements import PRIMARY_PROPERTIES, load_elements
from arsc.errors import ArscInputError
from arsc.model import ArscModel, load_model
from arsc.model.predict import phi_opts
from arsc.model.table import read_table
from arsc.select import Objective
from arsc.thermo.quantities import evaluate_quantity, quantity_intermediates
from arsc.transfer import score_pairs
from workflows.campaign.definition import ObjectiveSpec
from workflows.campaign.state import Predictions, nums


def prior_names() -> tuple[str, ...]:
    """Return the names of the packaged prior models (``arsc/data/models/*.json``)."""
    folder = Path(str(files("arsc.data").joinpath("models")))
    return tuple(sorted(p.stem for p in folder.glob("*.json")))


def prior_path(name_or_path: str) -> Path:
    """Return the file of a packaged prior (by name) or a model file path.

    Raises
    ------
    ArscInputError
        Neither a file nor a packaged prior name.
    """
    p = Path(name_or_path)
    if p.is_file():
        return p
    packaged = Path(str(files("arsc.data").joinpath("models", f"{name_or_path}.json")))
    if packaged.is_file():
        return packaged
    raise ArscInputError(
        f"prior model {name_or_path!r} is neither a model file nor a packaged prior; "
        f"packaged: {', '.join(prior_names())}"
    )


def missing_intermediates(model: ArscModel, spec: ObjectiveSpec) -> list[str]:
    """Return the intermediates the objective needs that the model does not predict."""
    return [z for z in quantity_intermediates(spec) if z not in model.intermediates]


def load_prior(name_or_path: str | None, spec: ObjectiveSpec) -> tuple[ArscModel | None, str]:
    """Load the prior model if it fits the objective's reaction.

    Returns
    -------
    tuple
        (model or None, one-line message saying what was used and why).
    """
    if name_or_path is None:
        return None, "no prior model: the first batch is space-filling"
    model = load_model(prior_path(name_or_path))
    lacking = missing_intermediates(model, spec)
    if lacking:
        return None, (
            f"prior {name_or_path!r} does not predict {', '.join(lacking)} "
            f"(needed by {spec.reaction}): the first batch is space-filling"
        )
    return model, f"prior {name_or_path!r} ({model.n_rows} training rows)"


def predict_candidates(
    model: ArscModel, candidates: pd.DataFrame, spec: ObjectiveSpec, samples: int, seed: int
) -> Predictions:
    """Predict dG, the objective quantity and its score, with uncertainty, per candidate.

    Parameters
    ----------
    model
        A fitted ARSC model that predicts every intermediate of the objective.
    candidates
        The candidate table (:func:`arsc.structures.space_table`).
    spec
        The objective.
    samples
        Monte Carlo samples per candidate.
    seed
        Seed of the samples.
    """
    names = quantity_intermediates(spec)
    table = read_table(candidates)
    scores, _ = score_pairs(model, table, names)  # the lower of top1 and top2, as DFT
    std = np.where(np.isfinite(scores.std), scores.std, 0.0)
    mu = {z: scores.dg[:, j] for j, z in enumerate(names)}
    value = evaluate_quantity(spec, mu)
    eps = np.random.default_rng(seed).standard_normal((len(names), samples))  # common numbers
    drawn = {z: mu[z][:, None] + std[:, j, None] * eps[None, j, :] for j, z in enumerate(names)}
    with np.errstate(invalid="ignore"):
        draws = evaluate_quantity(spec, drawn)
        value_std = np.nanstd(draws, axis=1) if samples > 1 else np.zeros(len(table))
    value_std = np.where(np.isfinite(value), value_std, np.nan)
    score, score_std = Objective.parse(spec.goal).score_dist(value, value_std)
    opts = phi_opts(model, names)
    return Predictions(
        sites=[str(s) for s in candidates["id"]],
        intermediates=list(names),
        dg={z: nums(mu[z]) for z in names},
        dg_std={z: nums(std[:, j]) for j, z in enumerate(names)},
        phi={z: nums(scores.phi[:, j]) for j, z in enumerate(names)},
        phi_opt={z: (None if not np.isfinite(v) else float(v)) for z, v in opts.items()},
        value=nums(value),
        value_std=nums(value_std),
        score=nums(score),
        score_std=nums(score_std),
    )


def empty_predictions(candidates: pd.DataFrame, spec: ObjectiveSpec) -> Predictions:
    """Return predictions with no values (no model), flagged space-filling."""
    names = list(quantity_intermediates(spec))
    n = len(candidates)
    none: list[float | None] = [None] * n
    return Predictions(
        sites=[str(s) for s in candidates["id"]],
        intermediates=names,
        dg={z: list(none) for z in names},
        dg_std={z: list(none) for z in names},
        value=list(none),
        value_std=list(none),
        score=list(none),
        score_std=list(none),
        space_filling=True,
    )


def descriptor_matrix(candidates: pd.DataFrame, elements: str = "default") -> np.ndarray:
    """Standardised features per candidate: both metals' element properties, first-shell counts."""
    props = load_elements(elements)[list(PRIMARY_PROPERTIES)]
    parts = [
        props.loc[candidates["metal1"]].to_numpy(float),
        props.loc[candidates["metal2"]].to_numpy(float),
        candidates.filter(regex=r"^coord_").to_numpy(float),
    ]
    x = np.hstack(parts)
    sd = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def space_filling(
    candidates: pd.DataFrame, k: int, available: np.ndarray, elements: str = "default"
) -> list[int]:
    """Pick k available candidates far apart (greedy farthest-point, deterministic).

    The first is the available candidate closest to the centre of the
    space; each next one is the farthest from those already picked.
    """
    x = descriptor_matrix(candidates, elements)
    idx = np.flatnonzero(available)
    if idx.size == 0 or k < 1:
        return []
    centre = x.mean(axis=0)
    picked = [int(idx[np.argmin(np.linalg.norm(x[idx] - centre, axis=1))])]
    dist = np.linalg.norm(x[idx] - x[picked[0]], axis=1)
    while len(picked) < min(k, idx.size):
        dist[np.isin(idx, picked)] = -1.0
        nxt = int(idx[np.argmax(dist)])
        picked.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(x[idx] - x[nxt], axis=1))
    return picked
