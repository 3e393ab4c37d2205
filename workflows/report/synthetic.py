"""A synthetic campaign state: a made-up campaign over a real candidate space.

For tests, the screenshot script and the timing benchmark only. Sites are
the real enumerated space (:func:`arsc.space.enumerate_sites`); every number
is drawn: a descriptor phi per site, ΔG(*OH) linear in phi, ΔG(*O) and
ΔG(*OOH) linear in ΔG(*OH) with scatter (scaling relations), the
bifunctional ORR + OER overpotential from those; each round a "model"
predicts the truth plus noise that shrinks round by round, pruning drops
what cannot beat the best DFT within 2σ, a batch is picked (random, then
lowest mu - 2σ), and "DFT" is the truth plus a little noise. Nothing here is
a physical result.

Examples
--------
>>> state = synthetic_state(metals=["Fe", "Co", "Ni"], motifs=["qv-n6"], rounds=2, batch=2)
>>> len(state.rounds), len(state.computed_sites())
(2, 4)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from arsc import __version__
from arsc.elements import AUTHORS_METALS
from arsc.space import count_space, enumerate_sites
from workflows.campaign.definition import CampaignDefinition, SpaceSpec
from workflows.campaign.state import (
    Accounting,
    CalcCost,
    CampaignState,
    Predictions,
    Pruned,
    Round,
    RoundAccounting,
    Selection,
    SiteResult,
    SpaceSummary,
    nums,
    save_state,
)

#: Synthetic scaling relations: ΔG(*X) = slope ΔG(*OH) + intercept (eV) + N(0, scatter).
SCALING: dict[str, tuple[float, float, float]] = {"O": (1.6, 0.9, 0.12), "OOH": (0.9, 3.25, 0.08)}
#: Synthetic ΔG(*OH) = OH_A + OH_B phi (eV).
OH_A, OH_B = 0.1, 0.55
#: ΔG(*OH) at the synthetic optimum (eV), and the matching phi_opt.
OH_OPT = 1.0
PHI_OPT = (OH_OPT - OH_A) / OH_B
U_EQ, G_O2 = 1.23, 4.92
INTERMEDIATES = ("OH", "O", "OOH")
#: Made-up wall time of one synthetic calculation, s (uniform range).
WALL_TIME_S = (80.0, 250.0)
#: Monte Carlo samples that propagate the predicted dG std to the objective.
SAMPLES = 16


def bifunctional(dg: dict[str, np.ndarray]) -> np.ndarray:
    """η_ORR + η_OER (V) of the 4 e- path for arrays of ΔG (the CHE rules of docs/thermo.md)."""
    oh, o, ooh = dg["OH"], dg["O"], dg["OOH"]
    steps = np.stack([ooh - G_O2, o - ooh, oh - o, -oh])  # ORR steps at U = 0
    eta_orr = U_EQ - np.min(-steps, axis=0)
    eta_oer = np.max(-steps[::-1], axis=0) - U_EQ
    return np.asarray(eta_orr + eta_oer)


def _truth(phi: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    oh = OH_A + OH_B * phi + rng.normal(0, 0.08, len(phi))
    out = {"OH": oh}
    for name, (slope, intercept, scatter) in SCALING.items():
        out[name] = slope * oh + intercept + rng.normal(0.0, scatter, len(phi))
    return out


def _predict(
    truth: dict[str, np.ndarray], phi: np.ndarray, noise: float, rng: np.random.Generator
) -> Predictions:
    n = len(phi)
    std = {z: rng.uniform(0.5, 1.5, n) * noise for z in INTERMEDIATES}
    dg = {z: truth[z] + rng.normal(0, 1, n) * std[z] for z in INTERMEDIATES}
    draws = {z: dg[z][:, None] + rng.normal(0, 1, (n, SAMPLES)) * std[z][:, None] for z in dg}
    value = bifunctional(dg)
    value_std = bifunctional(draws).std(axis=1)
    return Predictions(
        sites=[],
        intermediates=list(INTERMEDIATES),
        dg={z: nums(v) for z, v in dg.items()},
        dg_std={z: nums(v) for z, v in std.items()},
        phi={z: nums(phi) for z in INTERMEDIATES},
        phi_opt=dict.fromkeys(INTERMEDIATES, PHI_OPT),
        value=nums(value),
        value_std=nums(value_std),
        score=nums(value),
        score_std=nums(value_std),
    )


def _costs(site: str, rng: np.random.Generator, names: Sequence[str]) -> list[CalcCost]:
    out = []
    for name in names:
        wall = float(rng.uniform(*WALL_TIME_S))
        out.append(
            CalcCost(
                fingerprint=hashlib.sha256(f"{site}/{name}".encode()).hexdigest(),
                site=site,
                adsorbate=name,
                mode="" if name == "bare" or site == "gas" else "top1",
                engine="synthetic",
                task="static",
                status="ok",
                wall_time_s=wall,
                cores=1,
                core_hours=wall / 3600.0,
                new=True,
            )
        )
    return out


def synthetic_state(
    metals: Sequence[str] = AUTHORS_METALS,
    motifs: Sequence[str] | None = None,
    rounds: int = 4,
    batch: int = 8,
    seed: int = 0,
) -> CampaignState:
    """Make a finished synthetic campaign over the real enumerated space.

    Parameters
    ----------
    metals, motifs
        The space (default: the authors' 20 metals and every motif, 2270 sites).
    rounds
        Rounds; round 0 picks at random, later rounds the lowest mu - 2σ.
    batch
        Sites per round.
    seed
        Random seed.
    """
    rng = np.random.default_rng(seed)
    sites = enumerate_sites(list(metals), list(motifs) if motifs else None)
    ids = [s.id for s in sites]
    n = len(ids)
    per_metal = dict(zip(metals, rng.uniform(0.3, 2.6, len(metals)), strict=True))
    per_motif = {m: rng.uniform(0.8, 1.25) for m in sorted({s.motif for s in sites})}
    phi = np.array([per_metal[s.metal1] ** 0.7 * per_metal[s.metal2] ** 0.3 for s in sites])
    phi *= np.array([per_motif[s.motif] for s in sites])
    truth = _truth(phi, rng)
    definition = CampaignDefinition(
        name="synthetic campaign",
        description="Synthetic data: every number in this report is made up (tests only).",
        space=SpaceSpec(metals=list(metals), motifs=list(motifs) if motifs else None),
    )
    done: dict[int, int] = {}
    best = np.inf
    state_rounds = []
    for r in range(rounds):
        preds = _predict(truth, phi, 0.15 * (1.0 - 0.15 * r), rng).model_copy(update={"sites": ids})
        mu = np.array(preds.value, dtype=float)
        sd = np.array(preds.value_std, dtype=float)
        open_ = np.array([i not in done for i in range(n)])
        keep = open_ & ~(mu - 2 * sd > best)
        if r == 0:
            chosen = rng.choice(np.flatnonzero(open_), min(batch, int(open_.sum())), replace=False)
        else:
            order = np.argsort(np.where(keep, mu - 2 * sd, np.inf))
            chosen = order[: min(batch, int(keep.sum()))]
        results: list[SiteResult] = []
        costs = _costs("gas", rng, ["H2O", "H2"]) if r == 0 else []
        for i in chosen:
            dg = {z: float(truth[z][i] + rng.normal(0, 0.03)) for z in INTERMEDIATES}
            value = float(bifunctional({z: np.array([v]) for z, v in dg.items()})[0])
            results.append(
                SiteResult(site=ids[i], status="ok", dg=dict(dg), value=value, score=value)
            )
            costs += _costs(ids[i], rng, ["bare", *INTERMEDIATES])
            done[int(i)] = r
            best = min(best, value)
        state_rounds.append(
            Round(
                index=r,
                step="check",
                model_kind="prior" if r == 0 else "offset",
                predictions=preds,
                best_score=None if r == 0 else float(best),
                kept=int(keep.sum()),
                pruned=[
                    Pruned(site=ids[i], reason="mu - 2 sigma above the best DFT score")
                    for i in np.flatnonzero(open_ & ~keep)
                ],
                selection=Selection(
                    strategy="synthetic",
                    sites=[ids[i] for i in chosen],
                    predicted_score=nums(mu[chosen]),
                    predicted_score_std=nums(sd[chosen]),
                ),
                results=results,
                accounting=RoundAccounting(
                    calculations=costs,
                    dft_calculations=len(costs),
                    wall_time_s=float(sum(c.wall_time_s or 0.0 for c in costs)),
                    core_hours=float(sum(c.core_hours or 0.0 for c in costs)),
                ),
            )
        )
    counts = count_space(sites, list(INTERMEDIATES))
    per_site = [1 + len(INTERMEDIATES)] * n
    calcs = sum(r.accounting.dft_calculations for r in state_rounds)
    core_hours = sum(r.accounting.core_hours for r in state_rounds)
    exhaustive = sum(per_site) + 2
    return CampaignState(
        arsc_version=__version__,
        definition=definition,
        definition_sha256=definition.sha256(),
        status="finished",
        stop_reason="synthetic: rounds done",
        space=SpaceSummary(
            sites=n,
            structures=counts.structures,
            calculations_per_site=per_site,
            gas_calculations=2,
            exhaustive_calculations=exhaustive,
        ),
        rounds=state_rounds,
        accounting=Accounting(
            dft_calculations=calcs,
            core_hours=core_hours,
            wall_time_s=sum(r.accounting.wall_time_s for r in state_rounds),
            core_hours_per_calculation=core_hours / calcs,
            exhaustive_calculations=exhaustive,
            exhaustive_core_hours=exhaustive * core_hours / calcs,
            saved_fraction=1.0 - calcs / exhaustive,
            ratio=exhaustive / calcs,
        ),
    )


def write_synthetic_campaign(folder: Path, **kwargs: object) -> Path:
    """Write a synthetic campaign's ``state.json`` into ``folder``; return the folder.

    Keyword arguments go to :func:`synthetic_state`.
    """
    save_state(synthetic_state(**kwargs), folder)  # type: ignore[arg-type]
    return folder
