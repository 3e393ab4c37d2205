"""The end of a campaign: totals, the ranking, what it may claim, and the summary.

The CLI prints, and the report shows, three things from here:

- the **ranking** (:func:`ranking`): every candidate in one order, by the
  value that matters for it: the computed value of a computed site, the
  final ARSC model's predicted mean of the others (:func:`ranking_note` says
  so in one sentence);
- the **resolution** (:func:`resolution`): whether the best computed site is
  confirmed as the optimum by the stopping rule's own test (no uncomputed
  candidate's optimistic bound, score - kappa std, reaches it), and which
  candidates remain unresolved;
- the **claim** (:func:`claim_text`): a saving against an exhaustive screen
  is claimed only for a confirmed optimum; otherwise the stop reason and
  what is unresolved, and no saving. Every computed value names the
  protocol that produced it and that protocol's measured success rate
  (:func:`campaign_protocol`, :func:`~workflows.protocols.protocol_success_rate` from the
  protocol table of :mod:`workflows.protocols`, :func:`protocol_line`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from arsc.model import ArscModel
from arsc.select import Objective
from arsc.thermo.quantities import quantity_unit
from workflows.campaign.definition import DftSpec
from workflows.campaign.scoring import predict_candidates
from workflows.campaign.state import Accounting, CampaignState, Predictions, RankedCandidate
from workflows.protocols import (
    default_statement,
    protocol_line,
    protocol_states,
    protocol_success_rate,
)

if TYPE_CHECKING:  # the campaign (back-ends, jobflow) loads only where a campaign runs
    from workflows.campaign.setup import Campaign

#: Protocol named for values replayed from a table (whatever produced the table).
REPLAY_PROTOCOL = "replayed table"


# ---- totals -------------------------------------------------------------------------


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


# ---- protocol -----------------------------------------------------------------------


def campaign_protocol(dft: DftSpec) -> str:
    """Return the protocol that produced the campaign's computed values.

    The DFT section's protocol (``DftSpec.protocol_name``: ``protocol``,
    else the one of ``relax``, :mod:`workflows.protocols`); values replayed
    from a table are :data:`REPLAY_PROTOCOL`.
    """
    if dft.executor == "replay":
        return REPLAY_PROTOCOL
    return dft.protocol_name


def state_protocol_line(state: CampaignState) -> str:
    """Return :func:`protocol_line` of a campaign's protocol.

    A campaign whose rounds did not all run it as given (a tuned protocol:
    its untuned twin before the first refit, other weights every round)
    names what each round ran (``Round.protocol``).
    """
    name = campaign_protocol(state.definition.dft)
    line = protocol_line(name, protocol_success_rate(name), protocol_states(name))
    ran = [(r.index, r.protocol) for r in state.rounds if r.protocol is not None]
    if any(p.tuning is not None or p.name != p.requested for _, p in ran):
        line += " (" + "; ".join(f"round {i}: {p.line}" for i, p in ran) + ")"
    return line


def state_protocol_note(state: CampaignState) -> str:
    """Return whether the campaign's protocol is the one the benchmark supports.

    :func:`workflows.protocols.default_statement` (the cheapest protocol measured at
    >= 90 % success, issue 19); empty for values replayed from a table.
    """
    name = campaign_protocol(state.definition.dft)
    return "" if name == REPLAY_PROTOCOL else default_statement(name)


# ---- ranking ------------------------------------------------------------------------


def final_model(c: Campaign) -> ArscModel | None:
    """Return the model after the last round (its refit, else the model it scored with)."""
    rnd = c.state.current
    if rnd is None:
        return c.prior()
    return c.model(rnd.refit.model if rnd.refit else rnd.model)


def _key(score: float | None) -> float:
    return math.inf if score is None or not math.isfinite(score) else score


def ranking(c: Campaign) -> list[RankedCandidate]:
    """Rank every candidate in one order: its objective score at the value that matters.

    A computed site is ranked by its computed value, every other site by the
    final model's predicted mean value (``score`` of both: the objective's
    lower-is-better score of that value, :meth:`arsc.select.Objective.score`).
    On equal scores a computed site comes first, then by site id; sites with
    no value come last. The final model's predictions are kept in
    ``state.final_predictions`` (their std says how sure each predicted rank is).
    """
    objective = Objective.parse(c.definition.objective.goal)
    rows = [
        RankedCandidate(
            rank=0,
            site=res.site,
            source="dft",
            value=res.value,
            value_std=0.0,
            score=res.score,
            round=i,
        )
        for i, res in c.state.results()
        if res.score is not None
    ]
    done = {x.site for x in rows}
    model = final_model(c)
    if model is not None:
        pred = predict_candidates(
            model,
            c.candidates,
            c.definition.objective,
            c.definition.model.samples,
            c.seed(len(c.state.rounds), 0),
        )
        c.state.final_predictions = pred
        for i, site in enumerate(pred.sites):
            if site in done:
                continue
            value = pred.value[i]
            score = None if value is None else float(objective.score(np.array([value]))[0])
            rows.append(
                RankedCandidate(
                    rank=0,
                    site=site,
                    source="arsc",
                    value=value,
                    value_std=pred.value_std[i],
                    score=score,
                )
            )
    rows.sort(key=lambda r: (_key(r.score), r.source != "dft", r.site))
    for n, row in enumerate(rows, start=1):
        row.rank = n
    return rows


def direction(goal: str) -> str:
    """Return what is better for an objective goal: ``lower is better`` and so on."""
    obj = Objective.parse(goal)
    if obj.kind == "closest":
        return f"closest to {obj.target:g} is better"
    return "lower is better" if obj.kind == "min" else "higher is better"


def ranking_note(state: CampaignState) -> str:
    """Return the sentence that explains the ranking's order (printed under the table)."""
    spec = state.definition.objective
    res = resolution(state)
    open_ = (
        f"{len(res.unresolved)} of them could still beat the best computed site "
        f"(optimistic bound, score - {res.kappa:g} std)"
        if res.best_site is not None
        else "no site has a computed value yet"
    )
    return (
        f"Ranked by {spec.quantity} ({direction(spec.goal)}), one order for all: the computed "
        f"value ({state.definition.dft.source}, {state_protocol_line(state)}) for computed "
        f"sites, the final ARSC model's predicted mean for the others (std: 1 sigma of that "
        f"prediction); a predicted rank is not a result: {open_}."
    )


# ---- resolution and claim -----------------------------------------------------------


@dataclass(frozen=True)
class Resolution:
    """Whether the campaign's optimum is confirmed, and what is left unresolved.

    Attributes
    ----------
    confirmed
        True when a computed site is the optimum by the stopping rule's test: no
        uncomputed candidate's optimistic bound (score - kappa score std, final
        model) reaches its score.
    sites, computed
        Candidates, and those with a computed value, counts.
    unresolved
        Candidates without a computed value (a site whose DFT failed included)
        that could still beat the best computed one, or have no prediction to
        rule it out; best predicted first.
    kappa
        Width of the optimistic bound (the stopping rule's), std units.
    best_site, best_value
        Best computed site and its value (objective's unit); None without one.
    challenger, challenger_value, challenger_std
        The best predicted of the unresolved, its predicted value and std; None without.
    """

    confirmed: bool
    sites: int
    computed: int
    unresolved: tuple[str, ...]
    kappa: float
    best_site: str | None = None
    best_value: float | None = None
    challenger: str | None = None
    challenger_value: float | None = None
    challenger_std: float | None = None


def _latest(state: CampaignState) -> Predictions | None:
    """Return the final model's predictions, else the last round's (space-filling too)."""
    if state.final_predictions is not None:
        return state.final_predictions
    scored = [r.predictions for r in state.rounds if r.predictions is not None]
    return scored[-1] if scored else None


def _open_sites(
    pred: Predictions, done: set[str], best: float | None, kappa: float
) -> list[tuple[float, str, int]]:
    """(predicted score, site, index) of uncomputed sites that could beat ``best``, best first."""
    out = []
    for i, site in enumerate(pred.sites):
        if site in done:
            continue
        mu, sd = pred.score[i], pred.score_std[i] or 0.0
        bound = math.nan if mu is None else mu - kappa * sd
        if best is None or not math.isfinite(bound) or bound <= best:
            out.append((_key(mu), site, i))
    return sorted(out)


def resolution(state: CampaignState) -> Resolution:
    """Return what the campaign resolved (see :class:`Resolution`), from its state alone."""
    kappa = state.definition.stopping.kappa
    computed = {res.site: res for _, res in state.results() if res.score is not None}
    best = min(computed.values(), key=lambda r: (r.score, r.site)) if computed else None
    pred = _latest(state)
    n_sites = state.space.sites if state.space else (len(pred.sites) if pred else 0)
    if pred is None:  # nothing scored: nothing is resolved
        return Resolution(False, n_sites, len(computed), (), kappa)
    open_ = _open_sites(pred, set(computed), None if best is None else best.score, kappa)
    first = next((i for mu, _, i in open_ if math.isfinite(mu)), None)
    return Resolution(
        confirmed=best is not None and not open_,
        sites=n_sites,
        computed=len(computed),
        unresolved=tuple(s for _, s, _ in open_),
        kappa=kappa,
        best_site=None if best is None else best.site,
        best_value=None if best is None else best.value,
        challenger=None if first is None else pred.sites[first],
        challenger_value=None if first is None else pred.value[first],
        challenger_std=None if first is None else pred.value_std[first],
    )


def _v(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:.2f} {unit}"


def claim_text(res: Resolution, acc: Accounting, stop_reason: str, unit: str) -> str:
    """Return what the campaign may claim: the saving for a confirmed optimum, else no saving.

    Confirmed: ``optimum confirmed (SITE VALUE, no other candidate's bound at
    kappa K reaches it): saved 84 % (6.2x fewer)``. Otherwise: ``budget spent
    (10 of 10 DFT calculations) after 2 of 15 sites; 13 sites not resolved
    (best predicted SITE 3.79 +- 0.40 V could beat the best computed SITE
    3.92 V at kappa 2); no saving claimed``.
    """
    if res.confirmed and acc.saved_fraction is not None and acc.ratio is not None:
        return (
            f"optimum confirmed ({res.best_site} {_v(res.best_value, unit)}: no other "
            f"candidate's optimistic bound at kappa {res.kappa:g} reaches it): saved "
            f"{100 * acc.saved_fraction:.0f} % ({acc.ratio:.1f}x fewer)"
        )
    if res.confirmed:
        return f"optimum confirmed ({res.best_site} {_v(res.best_value, unit)})"
    head = f"{stop_reason or 'not finished'} after {res.computed} of {res.sites} sites"
    if res.best_site is None:
        return f"{head}; no computed value yet, so no optimum; no saving claimed"
    what = f"{len(res.unresolved)} sites not resolved"
    if res.challenger is not None:
        pm = f"{res.challenger_value:.2f} +- {res.challenger_std or 0.0:.2f} {unit}"
        what += (
            f" (best predicted {res.challenger} {pm} could beat the best computed "
            f"{res.best_site} {_v(res.best_value, unit)} at kappa {res.kappa:g})"
        )
    return f"{head}; {what}; no saving claimed"


def state_claim(state: CampaignState) -> str:
    """Return :func:`claim_text` of a campaign state."""
    unit = quantity_unit(state.definition.objective.quantity)
    return claim_text(resolution(state), state.accounting, state.stop_reason, unit)


def finish(c: Campaign, reason: str) -> None:
    """Close the campaign: ranking, totals, status finished."""
    c.state.ranking = ranking(c)
    c.state.accounting = totals(c.state)
    c.state.status = "finished"
    c.state.stop_reason = reason
    c.save()


def describe(state: CampaignState) -> dict[str, Any]:
    """Return a JSON-ready summary: status, rounds, top candidates, accounting, what it claims."""
    top = state.definition.report.top
    res = resolution(state)
    name = campaign_protocol(state.definition.dft)
    return {
        "campaign": state.definition.name,
        "status": state.status,
        "stop_reason": state.stop_reason,
        "rounds": len(state.rounds),
        "computed": sorted(state.computed_sites()),
        "top": [r.model_dump() for r in state.ranking[:top]],
        "ranking_note": ranking_note(state),
        "accounting": state.accounting.model_dump(),
        "resolution": {
            "optimum_confirmed": res.confirmed,
            "saving_claimed": res.confirmed,
            "unresolved": list(res.unresolved),
            "best_computed": res.best_site,
            "best_predicted_unresolved": res.challenger,
            "claim": state_claim(state),
        },
        "protocol": {"name": name, "success_rate": protocol_success_rate(name)},
    }
