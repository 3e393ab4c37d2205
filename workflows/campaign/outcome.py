"""The end of a campaign: totals, the ranking and the summary (the CLI writes the report)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from arsc.model import ArscModel
from workflows.campaign.scoring import predict_candidates
from workflows.campaign.setup import Campaign
from workflows.campaign.state import Accounting, CampaignState, RankedCandidate


def totals(state: CampaignState) -> Accounting:
    """Sum the rounds' accounting and compare with an exhaustive screen."""
    calcs = [x for r in state.rounds for x in r.accounting.calculations if x.new and x.dft]
    timed = [x.core_hours for x in calcs if x.core_hours is not None]
    per = float(np.mean(timed)) if timed else None
    n = len(calcs)
    exhaustive = state.space.exhaustive_calculations if state.space else 0
    return Accounting(
        dft_calculations=n,
        reused_calculations=sum(r.accounting.reused_calculations for r in state.rounds),
        core_hours=float(sum(timed)),
        wall_time_s=float(sum(r.accounting.wall_time_s for r in state.rounds)),
        core_hours_per_calculation=per,
        exhaustive_calculations=exhaustive,
        exhaustive_core_hours=None if per is None else exhaustive * per,
        saved_fraction=None if not exhaustive else 1.0 - n / exhaustive,
        ratio=None if not n else exhaustive / n,
    )


def final_model(c: Campaign) -> ArscModel | None:
    """Return the model after the last round (its refit, else the model it scored with)."""
    rnd = c.state.current
    if rnd is None:
        return c.prior()
    return c.model(rnd.refit.model if rnd.refit else rnd.model)


def ranking(c: Campaign) -> list[RankedCandidate]:
    """DFT-confirmed candidates by score, then the others by the final model's prediction."""
    dft = sorted(
        ((res.score, res.site, i, res) for i, res in c.state.results() if res.score is not None),
        key=lambda t: (t[0], t[1]),
    )
    out = [
        RankedCandidate(
            rank=0, site=s, source="dft", value=r.value, value_std=0.0, score=sc, round=i
        )
        for sc, s, i, r in dft
    ]
    model = final_model(c)
    done = {x.site for x in out}
    if model is not None:
        pred = predict_candidates(
            model,
            c.candidates,
            c.definition.objective,
            c.definition.model.samples,
            c.seed(len(c.state.rounds), 0),
        )
        c.state.final_predictions = pred
        rest = sorted(
            (
                (math.inf if pred.score[i] is None else pred.score[i], s, i)
                for i, s in enumerate(pred.sites)
                if s not in done
            ),
            key=lambda t: (t[0], t[1]),
        )
        out += [
            RankedCandidate(
                rank=0,
                site=s,
                source="arsc",
                value=pred.value[i],
                value_std=pred.value_std[i],
                score=pred.score[i],
            )
            for _, s, i in rest
        ]
    for n, row in enumerate(out, start=1):
        row.rank = n
    return out


def finish(c: Campaign, reason: str) -> None:
    """Close the campaign: ranking, totals, status finished."""
    c.state.ranking = ranking(c)
    c.state.accounting = totals(c.state)
    c.state.status = "finished"
    c.state.stop_reason = reason
    c.save()


def describe(state: CampaignState) -> dict[str, Any]:
    """Return a JSON-ready summary: status, rounds, top candidates, accounting."""
    top = state.definition.report.top
    return {
        "campaign": state.definition.name,
        "status": state.status,
        "stop_reason": state.stop_reason,
        "rounds": len(state.rounds),
        "computed": sorted(state.computed_sites()),
        "top": [r.model_dump() for r in state.ranking[:top]],
        "accounting": state.accounting.model_dump(),
    }
