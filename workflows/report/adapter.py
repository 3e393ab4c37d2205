"""From a campaign's persisted state (:mod:`workflows.campaign.state`) to :class:`ReportData`.

What is taken from where:

- predictions: those of the final model of a finished campaign
  (``state.final_predictions``, the ones its ranking used), else the latest
  round scored by a model (``Round.predictions``): ``value`` and
  ``value_std`` are mu and sigma, ``phi`` of the volcano's intermediate;
  pruned: the ``pruned`` list of the latest round scored by a model;
- DFT: every ``SiteResult`` with status ``ok`` (``value``, ``dg``), with the
  prediction of the round that computed it (made before its batch);
- funnel: enumerated = ``space.sites``; pruned as above; computed = sites with
  a DFT value; confirmed = computed sites whose DFT value is no worse than the
  prediction's pessimistic bound (:func:`workflows.report.data.confirmed_mask`);
- accounting: ``state.accounting`` (calculations, core-hours, wall time, the
  exhaustive count of the campaign's own flow) plus
  :func:`arsc.space.count_space` of the enumerated sites over every
  intermediate and binding mode; whether the optimum is confirmed, what the
  campaign claims and the protocol line (:mod:`workflows.campaign.outcome`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from arsc.elements import load_elements
from arsc.select import Objective as Goal
from arsc.space import Site, count_space, get_motif
from arsc.thermo.quantities import quantity_label, quantity_unit
from workflows.campaign.definition import ObjectiveSpec
from workflows.campaign.outcome import (
    resolution,
    state_claim,
    state_protocol_line,
    state_protocol_note,
)
from workflows.campaign.state import CampaignState, Predictions, load_state
from workflows.report.data import (
    DFT_COLUMNS,
    DG_COLUMNS,
    PREDICTION_COLUMNS,
    Accounting,
    Funnel,
    Objective,
    ReportData,
    confirmed_mask,
)

#: Conventional descriptor intermediates (ORR/OER, HER, NRR, CRR): the first predicted one
#: is the volcano's x axis; otherwise the objective's dG intermediate or the first predicted.
DESCRIPTOR_INTERMEDIATES: tuple[str, ...] = ("OH", "H", "N2H", "COOH")


def objective_of(spec: ObjectiveSpec) -> Objective:
    """Return the report's :class:`Objective` for a campaign's objective."""
    goal = Goal.parse(spec.goal)
    sense = {"min": "min", "max": "max"}.get(goal.kind, "closest")
    return Objective(
        label=quantity_label(spec),  # axis label and unit: the registry of arsc.thermo
        unit=quantity_unit(spec.quantity),
        sense=sense,  # type: ignore[arg-type]
        target=goal.target,
        reaction=spec.reaction,
    )


def latest_predictions(state: CampaignState) -> tuple[int, Predictions] | None:
    """(round index, predictions) of the latest model; None if no model scored.

    The predictions are the final model's when the campaign finished with one
    (``state.final_predictions``), else the last scored round's; the index is
    that of the last round scored by a model (whose pruned list applies), or
    the last round.
    """
    scored = [
        r for r in state.rounds if r.predictions is not None and not r.predictions.space_filling
    ]
    if state.final_predictions is not None and state.rounds:
        index = scored[-1].index if scored else state.rounds[-1].index
        return index, state.final_predictions
    if scored:
        return scored[-1].index, scored[-1].predictions  # type: ignore[return-value]
    return None


def descriptor_intermediate(state: CampaignState, preds: Predictions) -> str | None:
    """Intermediate whose phi is the volcano's x axis (None: no phi predicted)."""
    if not preds.phi:
        return None
    spec = state.definition.objective
    if spec.quantity == "dg" and spec.intermediate in preds.phi:
        return spec.intermediate
    return next((z for z in DESCRIPTOR_INTERMEDIATES if z in preds.phi), next(iter(preds.phi)))


def _site_columns(sites: list[str]) -> pd.DataFrame:
    """metal1, metal2, motif, support, symmetric parsed from canonical site ids."""
    rows = []
    for sid in sites:
        pair, motif, support = sid.split("_")
        m1, m2 = pair.split("-")
        rows.append((sid, m1, m2, motif, support, get_motif(motif).symmetric))
    return pd.DataFrame(rows, columns=["site", "metal1", "metal2", "motif", "support", "symmetric"])


def _candidate_ids(state: CampaignState, folder: Path | None) -> list[str]:
    latest = latest_predictions(state)
    if latest is not None:
        return list(latest[1].sites)
    for rnd in reversed(state.rounds):
        if rnd.predictions is not None:
            return list(rnd.predictions.sites)
    if folder is not None and state.space is not None:
        path = folder / state.space.candidates_file
        if path.is_file():
            return pd.read_csv(path)["id"].astype(str).tolist()
    return []


def predictions_frame(state: CampaignState, folder: Path | None = None) -> pd.DataFrame:
    """One row per candidate with the latest prediction (columns of ReportData.predictions)."""
    frame = _site_columns(_candidate_ids(state, folder))
    latest = latest_predictions(state)
    nan = np.full(len(frame), np.nan)
    mu, sigma, phi, pruned = nan, nan, nan, np.zeros(len(frame), dtype=bool)
    if latest is not None:
        index, preds = latest
        mu = np.array(preds.value, dtype=float)
        sigma = np.array(preds.value_std, dtype=float)
        z = descriptor_intermediate(state, preds)
        if z is not None:
            phi = np.array(preds.phi[z], dtype=float)
        dropped = {p.site for p in state.rounds[index].pruned}
        pruned = frame["site"].isin(dropped).to_numpy()
    frame = frame.assign(mu=mu, sigma=sigma, phi=phi, pruned=pruned)
    return frame[list(PREDICTION_COLUMNS)]


def dft_frame(state: CampaignState, phi: pd.Series) -> pd.DataFrame:
    """One row per site with a DFT value (columns of ReportData.dft).

    ``phi`` maps site -> descriptor (the latest, so DFT points sit above their
    predicted point in the volcano).
    """
    rows = []
    for rnd in state.rounds:
        lookup: dict[str, tuple[float, float]] = {}
        if rnd.predictions is not None:
            p = rnd.predictions
            lookup = {
                s: (np.nan if v is None else v, np.nan if e is None else e)
                for s, v, e in zip(p.sites, p.value, p.value_std, strict=True)
            }
        for res in rnd.results:
            if res.status != "ok" or res.value is None:
                continue
            mu, sigma = lookup.get(res.site, (np.nan, np.nan))
            rows.append((res.site, rnd.index, res.value, mu, sigma, phi.get(res.site, np.nan)))
    return pd.DataFrame(rows, columns=list(DFT_COLUMNS)).astype(
        {"round": int, "objective": float, "pred_mu": float, "pred_sigma": float, "phi": float}
    )


def dg_frame(state: CampaignState) -> pd.DataFrame:
    """DFT adsorption free energies of the computed sites (columns of ReportData.dft_dg)."""
    rows = [
        (res.site, z, float(v))
        for _, res in state.results()
        if res.status == "ok"
        for z, v in res.dg.items()
        if v is not None
    ]
    return pd.DataFrame(rows, columns=list(DG_COLUMNS))


def accounting_of(state: CampaignState, sites: list[str]) -> Accounting:
    """Return the accounting, with the count over every intermediate and mode (arsc.space).

    What it claims comes from :mod:`workflows.campaign.outcome`: a saving only
    for an optimum the stopping rule's test confirmed, and the protocol that
    produced the computed values with its measured success rate.
    """
    acc = state.accounting
    exhaustive = acc.exhaustive_calculations
    if not exhaustive and state.space is not None:
        exhaustive = state.space.exhaustive_calculations
    objs = [Site(*sid.split("_")[0].split("-"), *sid.split("_")[1:]) for sid in sites]
    return Accounting(
        calculations=acc.dft_calculations,
        core_hours=acc.core_hours,
        exhaustive_calculations=exhaustive,
        wall_time_s=acc.wall_time_s,
        exhaustive_all=count_space(objs).dft_calculations if objs else None,
        confirmed=resolution(state).confirmed,
        claim=state_claim(state),
        protocol=state_protocol_line(state),
        protocol_note=state_protocol_note(state),
    )


def _dft_line(state: CampaignState) -> str:
    """Return how DFT was done: the replay table, or the engine, preset and executor."""
    dft = state.definition.dft
    if dft.executor == "replay" and dft.replay is not None:
        return f"DFT replayed from {Path(dft.replay.table).name}"
    preset = f" ({dft.preset})" if dft.preset else ""
    return f"engine {dft.engine}{preset}, executor {dft.executor}"


#: First note of a campaign whose engine is not DFT (DftSpec.is_dft).
NOT_DFT_NOTE = (
    "Engine {engine}: every value this page labels DFT was computed with the universal "
    "potential ({preset}), not DFT; it tests the workflow, not the chemistry "
    "(docs/campaign.md)."
)


def _notes(state: CampaignState) -> tuple[str, ...]:
    notes = []
    dft = state.definition.dft
    if not dft.is_dft:
        notes.append(
            NOT_DFT_NOTE.format(engine=dft.engine, preset=dft.preset or "its default model")
        )
    if state.definition.description:
        notes.append(" ".join(state.definition.description.split()))
    notes.append(
        f"Status: {state.status}"
        + (f", {state.stop_reason}" if state.stop_reason else "")
        + f"; {len(state.rounds)} round(s); {_dft_line(state)}, "
        f"strategy {state.definition.acquisition.strategy}."
    )
    failed = [res.site for _, res in state.results() if res.status != "ok"]
    if failed:
        notes.append(f"DFT failed for {len(failed)} site(s): {', '.join(failed)}.")
    if state.error:
        notes.append(f"Last error: {state.error}")
    return tuple(notes)


def report_data(state: CampaignState, folder: Path | None = None) -> ReportData:
    """Everything the report shows, from a campaign state.

    Parameters
    ----------
    state
        The campaign state.
    folder
        The campaign folder (to read ``candidates.csv`` when no round was scored).
    """
    objective = objective_of(state.definition.objective)
    predictions = predictions_frame(state, folder)
    phi = pd.Series(predictions["phi"].to_numpy(), index=predictions["site"])
    dft = dft_frame(state, phi)
    latest = latest_predictions(state)
    z = descriptor_intermediate(state, latest[1]) if latest else None
    phi_opt = latest[1].phi_opt.get(z) if latest and z else None
    sites = predictions["site"].tolist()
    enumerated = state.space.sites if state.space is not None else len(sites)
    return ReportData(
        title=state.definition.name,
        objective=objective,
        predictions=predictions,
        dft=dft,
        dft_dg=dg_frame(state),
        funnel=Funnel(
            enumerated=enumerated,
            pruned=int(predictions["pruned"].sum()),
            computed=int(dft["site"].nunique()),
            confirmed=int(dft.loc[confirmed_mask(dft, objective), "site"].nunique()),
        ),
        accounting=accounting_of(state, sites),
        metals=_metal_order(predictions, state.definition.space.metals),
        descriptor=f"φ(*{z})" if z else "φ",
        phi_opt=math.nan if phi_opt is None else float(phi_opt),
        notes=_notes(state),
    )


def _metal_order(predictions: pd.DataFrame, given: list[str] | None) -> tuple[str, ...]:
    """Return the metals in the definition's order, else by atomic number."""
    found = set(predictions["metal1"]) | set(predictions["metal2"])
    if given:
        return tuple(m for m in given if m in found) or tuple(given)
    z = load_elements("default")["Z"].to_dict()
    return tuple(sorted(found, key=lambda m: (z.get(m, 999), m)))


def load_report_data(campaign_dir: Path) -> ReportData:
    """Read a campaign folder's state and turn it into report data.

    Raises
    ------
    ArscInputError
        No state file, or a malformed one (one line, from :func:`load_state`).
    """
    return report_data(load_state(campaign_dir), campaign_dir)
