"""The campaign loop: rounds of score -> prune -> select -> compute -> ingest -> refit -> check.

Every step reads the state (and the campaign folder's files), does its work,
records the result in the state and the state is written atomically
(:func:`workflows.campaign.state.save_state`) before the next step starts.
Steps are idempotent: a step interrupted at any point (an exception, a
``kill -9``) is simply run again by :func:`resume_campaign`; finished steps
are never rerun, and a rerun compute step recomputes no finished DFT (the
DFT engines' fingerprint cache). Every random choice is seeded from the
definition's seed and the round number, so a resumed campaign makes exactly
the choices an uninterrupted one makes.

Steps (see :mod:`workflows.campaign.state` for what each records):

``score``
    ARSC predictions with uncertainty for every candidate, with the round's
    model (round 0: the prior; later: the previous round's refit), or
    nothing (no model: space-filling batch);
``prune``
    :func:`arsc.select.prune` against the best DFT score so far;
``select``
    :func:`arsc.select.select_batch` among the kept, uncomputed candidates,
    cut to what the DFT budget still pays for;
``compute``
    the batch back-end (local, FireWorks, replay) runs the DFT of the batch;
``ingest``
    DFT free energies -> the objective quantity and score per site;
    validation of the round's predictions against them;
``refit``
    the model the next round scores with (:mod:`workflows.campaign.learning`)
    and, under a tuned protocol (``sp-tuned``), the MLIP its states relax
    with: CHGNet refitted on every DFT frame so far (the backend's ``tune``);
    the next round's ``compute`` runs with those weights, or, before the
    first refit, as the untuned protocol (``sp``), and records which
    (``Round.protocol``);
``check``
    budget, round limit and the stopping rule; totals; the end of the
    campaign (ranking, accounting).

The report is not the loop's: ``arsc campaign run|resume`` and ``arsc
screen`` (:mod:`workflows.cli.campaign`) write it once the campaign has
finished, so the campaign package never imports :mod:`workflows.report`.
"""

from __future__ import annotations

from workflows.campaign.outcome import describe, finish, ranking, totals
from workflows.campaign.setup import PRIOR_FILE, Campaign, resume_campaign, start_campaign
from workflows.campaign.state import STEPS, CampaignState, Round, now
from workflows.campaign.steps import STEP_FUNCTIONS

__all__ = [
    "Campaign",
    "advance",
    "describe",
    "finish",
    "ranking",
    "resume_campaign",
    "run_campaign",
    "start_campaign",
    "totals",
]


def _next_round(c: Campaign) -> Round:
    prev = c.state.current
    if prev is None:
        has_prior = (c.folder / PRIOR_FILE).is_file()
        return Round(
            index=0,
            model=PRIOR_FILE if has_prior else None,
            model_kind="prior" if has_prior else "none",
        )
    model = prev.refit.model if prev.refit else prev.model
    kind = (
        prev.refit.kind if prev.refit and prev.refit.kind in ("offset", "full") else prev.model_kind
    )
    return Round(index=prev.index + 1, model=model, model_kind=kind)


def advance(c: Campaign) -> bool:
    """Run the next step and save the state; False when the campaign has finished."""
    state = c.state
    if state.status == "finished":
        return False
    rnd = state.current
    if rnd is not None and rnd.step == "check" and rnd.stop:
        finish(c, rnd.stop)
        return False
    if rnd is None or rnd.step == "check":
        rnd = _next_round(c)
        state.rounds.append(rnd)
    step = STEPS[0] if rnd.step == "start" else STEPS[STEPS.index(rnd.step) + 1]
    try:
        STEP_FUNCTIONS[step](c, rnd)
    except Exception as exc:
        state.error = f"round {rnd.index} step {step}: {' '.join(str(exc).split())}"
        c.save()
        raise
    rnd.step = step  # type: ignore[assignment]
    rnd.step_times[step] = now()
    state.error = ""
    c.save()
    return True


def run_campaign(c: Campaign, max_steps: int | None = None) -> CampaignState:
    """Run steps until the campaign finishes (or ``max_steps`` steps have run)."""
    steps = 0
    while (max_steps is None or steps < max_steps) and advance(c):
        steps += 1
    return c.state
