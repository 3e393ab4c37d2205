"""The steps of a round (see :mod:`workflows.campaign.loop` for the order and the contract).

Each step reads the state and the campaign folder, does its work and records
the result in the round; it never writes the state itself (the loop does,
atomically, after the step) and can be rerun after an interruption.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from arsc.model import save_model
from arsc.select import MODEL_FREE, Objective, prune, select_batch
from arsc.thermo.quantities import evaluate_quantity
from workflows.campaign.backends import BatchOutcome, round_protocol, runs_flows
from workflows.campaign.learning import refit, training_table
from workflows.campaign.outcome import totals
from workflows.campaign.scoring import empty_predictions, predict_candidates, space_filling
from workflows.campaign.setup import MODELS_DIR, Campaign, _none_to_nan
from workflows.campaign.state import (
    CampaignState,
    MlipTuning,
    Pruned,
    Round,
    RoundAccounting,
    Selection,
    SiteResult,
)
from workflows.campaign.validation import validate_round


def _best(state: CampaignState, before: int | None = None) -> tuple[float, str | None]:
    """Best (lowest) DFT score so far, and its site; inf and None when none."""
    best, site = math.inf, None
    for index, res in state.results():
        if before is not None and index >= before:
            continue
        if res.score is not None and (
            res.score < best or (res.score == best and res.site < str(site))
        ):
            best, site = res.score, res.site
    return best, site


def step_score(c: Campaign, rnd: Round) -> None:
    """Score every candidate with the round's model (or mark the round space-filling)."""
    model = c.model(rnd.model)
    spec = c.definition.objective
    if model is None:
        rnd.predictions = empty_predictions(c.candidates, spec)
        c.say(f"round {rnd.index}: no model yet, the batch will be space-filling")
    else:
        seed = c.seed(rnd.index, 0)
        rnd.predictions = predict_candidates(
            model, c.candidates, spec, c.definition.model.samples, seed
        )
        scores = _none_to_nan(rnd.predictions.score)
        i = int(np.nanargmin(scores)) if np.isfinite(scores).any() else 0
        c.say(
            f"round {rnd.index}: scored {len(scores)} candidates with the {rnd.model_kind} model; "
            f"best predicted {rnd.predictions.sites[i]} ({scores[i]:.2f})"
        )
    best, _ = _best(c.state, before=rnd.index)
    rnd.best_score = best if math.isfinite(best) else None


def step_prune(c: Campaign, rnd: Round) -> None:
    """Drop candidates whose optimistic bound cannot beat the best DFT score."""
    pred = rnd.predictions
    assert pred is not None
    done = c.state.computed_sites()
    if pred.space_filling:
        rnd.kept, rnd.pruned = len(pred.sites) - len(done), []
        return
    best = rnd.best_score if rnd.best_score is not None else math.inf
    kappa = c.definition.acquisition.pruning_kappa
    result = prune(_none_to_nan(pred.score), _none_to_nan(pred.score_std), best, kappa)
    rnd.pruned = [
        Pruned(site=s, reason=why)
        for s, keep, why in zip(pred.sites, result.keep.tolist(), result.reason, strict=True)
        if not keep and s not in done
    ]
    rnd.kept = sum(keep and s not in done for s, keep in zip(pred.sites, result.keep, strict=True))
    c.say(f"round {rnd.index}: pruned {len(rnd.pruned)}, kept {rnd.kept} uncomputed candidates")


def _spent(state: CampaignState, before: int) -> tuple[int, bool]:
    """DFT calculations counted in rounds before ``before``; whether gas was computed."""
    rounds = [r for r in state.rounds if r.index < before]
    spent = sum(r.accounting.dft_calculations for r in rounds)
    return spent, any(r.results for r in rounds)


def _affordable(c: Campaign, rnd: Round, order: list[int]) -> list[int]:
    """Cut a preference-ordered batch to what the remaining DFT budget pays for."""
    spent, gas_done = _spent(c.state, rnd.index)
    assert c.state.space is not None
    left = c.definition.budget.dft_calculations - spent
    if not gas_done:
        left -= c.state.space.gas_calculations
    out, plan = [], c.plan()
    for i in order:
        if plan[i] <= left:
            out.append(i)
            left -= plan[i]
    return out


def step_select(c: Campaign, rnd: Round) -> None:
    """Pick the batch (strategy, or space-filling without a model), within the budget."""
    pred = rnd.predictions
    assert pred is not None
    acq = c.definition.acquisition
    k = acq.initial if rnd.index == 0 and acq.initial else acq.batch
    done = c.state.computed_sites()
    pruned = {p.site for p in rnd.pruned}
    available = np.array([s not in done and s not in pruned for s in pred.sites])
    mu, sd = _none_to_nan(pred.score), _none_to_nan(pred.score_std)
    rng = np.random.default_rng(c.seed(rnd.index, 1))
    space_fill = pred.space_filling and acq.strategy not in MODEL_FREE
    if space_fill:
        ranked = space_filling(
            c.candidates, int(available.sum()), available, c.definition.space.elements
        )
    else:
        best = rnd.best_score if rnd.best_score is not None else math.inf
        ranked = select_batch(
            acq.strategy,
            mu,
            sd,
            best,
            int(available.sum()) or 1,
            rng,
            available,
            kappa=acq.ucb_kappa,
        ).tolist()
    chosen = _affordable(c, rnd, ranked)[:k]
    rnd.selection = Selection(
        strategy="space-filling" if space_fill else acq.strategy,
        sites=[pred.sites[i] for i in chosen],
        predicted_score=[pred.score[i] for i in chosen],
        predicted_score_std=[pred.score_std[i] for i in chosen],
        space_filling=space_fill,
    )
    if not chosen:
        rnd.stop = "budget spent" if available.any() else "no candidate left to compute"
    names = ", ".join(rnd.selection.sites) or "(none)"
    c.say(f"round {rnd.index}: batch {names} ({rnd.selection.strategy})")


class _LazyBar:
    """A progress bar of the batch's calculations, shown from the backend's first report.

    Backends that show their own bar (the local one running in this process)
    never report, so no second bar appears.
    """

    def __init__(self, console: Console, enabled: bool) -> None:
        self.console, self.enabled = console, enabled
        self.bar: Progress | None = None
        self.task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            self.bar = Progress(
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("calculations of the batch"),
                TimeElapsedColumn(),
                console=self.console,
            )
            self.task = self.bar.add_task("compute", total=total)
            self.bar.start()
        self.bar.update(self.task, completed=min(done, total), total=total)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _accounting(c: Campaign, rnd: Round, outcome: BatchOutcome) -> RoundAccounting:
    counted = {
        calc.fingerprint
        for r in c.state.rounds
        if r.index < rnd.index
        for calc in r.accounting.calculations
        if calc.new
    }
    calcs = [
        calc.model_copy(update={"new": calc.new and calc.fingerprint not in counted})
        for calc in outcome.calculations
    ]
    new_dft = [x for x in calcs if x.new and x.dft]
    return RoundAccounting(
        calculations=calcs,
        dft_calculations=len(new_dft),
        reused_calculations=sum(not x.new for x in calcs),
        wall_time_s=outcome.wall_time_s,
        core_hours=float(sum(x.core_hours or 0.0 for x in new_dft)),
    )


def _tuned_for(c: Campaign, rnd: Round) -> MlipTuning | None:
    """Return the MLIP refit the round relaxes with: the one made after the round before."""
    before = [r for r in c.state.rounds if r.index == rnd.index - 1]
    return before[0].tuning if before else None


def step_compute(c: Campaign, rnd: Round) -> None:
    """Run the DFT of the batch with the campaign's batch backend.

    A flow-running backend relaxes with the MLIP weights of the refit made
    after the round before (tuned protocol; none yet: the untuned twin),
    and the round records the protocol and weights that ran
    (:class:`workflows.campaign.state.RoundProtocol`).
    """
    sites = rnd.selection.sites if rnd.selection is not None else []
    if not sites:
        rnd.results, rnd.accounting = [], RoundAccounting()
        return
    dft = c.definition.dft
    tuning = _tuned_for(c, rnd)
    tuned = tuning.tuned if tuning is not None else None
    rnd.protocol = (
        round_protocol(dft, c.definition.objective.reaction, tuned) if runs_flows(dft) else None
    )
    how = f", protocol {rnd.protocol.line}" if rnd.protocol is not None else ""
    c.say(f"round {rnd.index}: DFT of {len(sites)} sites ({dft.executor} executor{how})")
    bar = _LazyBar(c.console, c.show_progress)
    weights = tuned.weights_file if tuned is not None else None
    try:  # DFT engines' chatter (e.g. CHGNet's banner) goes to stderr: stdout is for results
        with contextlib.redirect_stdout(sys.stderr):
            outcome = c.backend.compute(sites, bar, weights)
    finally:
        bar.stop()
    rnd.results = [
        SiteResult(
            site=o.site,
            status="ok" if o.status == "ok" else "failed",
            reason=o.reason,
            dg=o.dg,
            value=None,
            score=None,
            energies=o.energies,
            site_doc=o.site_doc,
            fingerprints=o.fingerprints,
        )
        for o in outcome.sites
    ]
    rnd.accounting = _accounting(c, rnd, outcome)


def step_ingest(c: Campaign, rnd: Round) -> None:
    """DFT free energies -> objective value and score per site; validate the round."""
    spec = c.definition.objective
    objective = Objective.parse(spec.goal)
    names = rnd.predictions.intermediates if rnd.predictions else []
    for res in rnd.results:
        dg = {z: np.array([np.nan if res.dg.get(z) is None else res.dg[z]]) for z in names}
        value = float(evaluate_quantity(spec, dg)[0]) if names else math.nan
        if math.isfinite(value):
            res.value, res.score = value, float(objective.score(np.array([value]))[0])
            continue
        res.value = res.score = None
        missing = [z for z in names if res.dg.get(z) is None]
        why = f"no DFT dG for {', '.join(missing)}" if missing else f"no {spec.quantity}"
        res.status = "failed"
        res.reason = "; ".join(x for x in (why, res.reason) if x)
    k = c.definition.report.validate_k
    rnd.validation = validate_round(c.state, rnd.index, c.folder, k)
    for res in rnd.results:
        shown = "failed: " + res.reason if res.value is None else f"{spec.quantity} {res.value:.3f}"
        c.say(f"round {rnd.index}: DFT {res.site}: {shown}")


def _dft_dg(state: CampaignState) -> dict[str, dict[str, float | None]]:
    return {res.site: res.dg for _, res in state.results() if res.dg}


def _tune_mlip(c: Campaign, rnd: Round) -> None:
    """Tuned protocol: refit the MLIP on every DFT frame so far; the next round relaxes with it."""
    from workflows.protocols import get_protocol
    from workflows.tuning import MIN_FRAMES

    dft = c.definition.dft
    if not (runs_flows(dft) and get_protocol(dft.protocol_name).tuned):
        rnd.tuning = None
        return
    with contextlib.redirect_stdout(sys.stderr):
        tuned = c.backend.tune()
    if tuned is None:
        message = (
            f"fewer than {MIN_FRAMES} DFT frames of DAC sites in runs/: the next round relaxes "
            "with the packaged weights"
        )
    else:
        how = "reused (frames unchanged)" if tuned.reused else "refitted"
        message = (
            f"chgnet {how} on {tuned.frames} DFT frames, weights {tuned.sha256[:8]}, held-out "
            f"force MAE {tuned.force_mae_before:.3f} -> {tuned.force_mae_after:.3f} eV/A"
        )
    rnd.tuning = MlipTuning(tuned=tuned, message=message)
    c.say(f"round {rnd.index}: MLIP for the next round: {message}")


def step_refit(c: Campaign, rnd: Round) -> None:
    """Make the next round's models from every DFT result so far.

    The ARSC model that scores the next round, and under a tuned protocol the
    MLIP that relaxes its states (:meth:`workflows.campaign.backends.LocalBackend.tune`).
    """
    _tune_mlip(c, rnd)
    table = training_table(c.candidates, _dft_dg(c.state))
    previous = c.model(rnd.model)
    learned = refit(c.definition.model, c.prior(), previous, table, c.seed(rnd.index, 2))
    info = learned.info
    if info.kind in ("offset", "full") and learned.model is not None:
        rel = f"{MODELS_DIR}/round-{rnd.index + 1:02d}.json"
        save_model(learned.model, c.folder / rel)
        c._models.pop(rel, None)
        info.model = rel
    else:
        info.model = rnd.model
    rnd.refit = info
    c.say(f"round {rnd.index}: model for the next round: {info.kind} ({info.message})")


def _lead_confirmed(c: Campaign, rnd: Round) -> str | None:
    stop = c.definition.stopping
    if stop.rule != "confirmed-lead" or rnd.index + 1 < stop.min_rounds:
        return None
    best, site = _best(c.state)
    model = c.model(rnd.refit.model if rnd.refit else rnd.model)
    if site is None or model is None:
        return None
    pred = predict_candidates(
        model,
        c.candidates,
        c.definition.objective,
        c.definition.model.samples,
        c.seed(rnd.index + 1, 0),
    )
    # a site whose DFT failed has no score: it stays a candidate that could still win, as in
    # the end-of-campaign check (workflows.campaign.outcome.resolution)
    done = {res.site for _, res in c.state.results() if res.score is not None}
    bound = _none_to_nan(pred.score) - stop.kappa * np.nan_to_num(_none_to_nan(pred.score_std))
    others = [b for s, b in zip(pred.sites, bound, strict=True) if s not in done]
    if not others or not all(np.isfinite(b) and b > best for b in others):
        return None
    return (
        f"lead confirmed: DFT score {best:.3f} of {site} beats every other candidate's "
        f"optimistic bound (lowest {min(others):.3f}, kappa {stop.kappa:g})"
    )


def step_check(c: Campaign, rnd: Round) -> None:
    """Budget, round limit and stopping rule; update the totals."""
    c.state.accounting = totals(c.state)
    spent = c.state.accounting.dft_calculations
    budget = c.definition.budget
    done = c.state.computed_sites()
    plan = c.plan()
    assert c.state.space is not None
    left = [n for s, n in zip(c.candidates["id"], plan, strict=True) if s not in done]
    if rnd.stop:
        pass
    elif not left:
        rnd.stop = "every candidate computed"
    elif budget.dft_calculations - spent < min(left):
        rnd.stop = f"budget spent ({spent} of {budget.dft_calculations} DFT calculations)"
    elif rnd.index + 1 >= budget.rounds:
        rnd.stop = f"round limit ({budget.rounds}) reached"
    else:
        rnd.stop = _lead_confirmed(c, rnd)
    if rnd.stop:
        c.say(f"stopping: {rnd.stop}")


#: Step name -> function.
STEP_FUNCTIONS: dict[str, Callable[[Campaign, Round], None]] = {
    "score": step_score,
    "prune": step_prune,
    "select": step_select,
    "compute": step_compute,
    "ingest": step_ingest,
    "refit": step_refit,
    "check": step_check,
}
