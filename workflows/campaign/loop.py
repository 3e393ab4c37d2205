"""The campaign loop: rounds of score -> prune -> select -> compute -> ingest -> refit -> check.

Every step reads the state (and the campaign folder's files), does its work,
records the result in the state and the state is written atomically
(:func:`workflows.campaign.state.save_state`) before the next step starts.
Steps are idempotent: a step interrupted at any point (an exception, a
``kill -9``) is simply run again by :func:`resume_campaign`; finished steps
are never rerun, and a rerun compute step recomputes no finished DFT (the
engines' fingerprint cache). Every random choice is seeded from the
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
    the batch engine (local, FireWorks, replay) runs the DFT of the batch;
``ingest``
    DFT free energies -> the objective quantity and score per site;
    validation of the round's predictions against them;
``refit``
    the model the next round scores with (:mod:`workflows.campaign.learning`);
``check``
    budget, round limit and the stopping rule; totals; the end of the
    campaign (ranking, accounting, report).
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from arsc import __version__
from arsc.errors import ArscInputError
from arsc.model import ArscModel, load_model, save_model
from arsc.select import MODEL_FREE, Objective, prune, select_batch
from arsc.space import enumerate_sites, make_site, space_table
from workflows.campaign.definition import CampaignDefinition
from workflows.campaign.engines import (
    BatchEngine,
    BatchOutcome,
    dft_steps,
    flow_maker,
    make_engine,
)
from workflows.campaign.learning import refit, training_table
from workflows.campaign.quantities import quantity
from workflows.campaign.scoring import (
    empty_predictions,
    load_prior,
    predict_candidates,
    space_filling,
)
from workflows.campaign.state import (
    STEPS,
    Accounting,
    CampaignState,
    Pruned,
    RankedCandidate,
    Round,
    RoundAccounting,
    Selection,
    SiteResult,
    SpaceSummary,
    load_state,
    now,
    save_state,
    state_path,
)
from workflows.campaign.validation import validate_round

#: Files of a campaign folder.
DEFINITION_FILE = "campaign.yaml"
CANDIDATES_FILE = "candidates.csv"
MODELS_DIR = "models"
PRIOR_FILE = f"{MODELS_DIR}/prior.json"


def _none_to_nan(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


@dataclass
class Campaign:
    """A campaign folder opened for work: state, candidates, engine, output."""

    folder: Path
    state: CampaignState
    candidates: pd.DataFrame
    engine: BatchEngine
    console: Console = field(default_factory=lambda: Console(stderr=True, highlight=False))
    show_progress: bool = True
    _models: dict[str, ArscModel] = field(default_factory=dict)

    @property
    def definition(self) -> CampaignDefinition:
        """Return the campaign definition."""
        return self.state.definition

    def save(self) -> None:
        """Write the state now (atomically)."""
        save_state(self.state, self.folder)

    def say(self, text: str) -> None:
        """Print a progress line (stderr)."""
        if self.show_progress:
            self.console.print(text)

    def model(self, rel: str | None) -> ArscModel | None:
        """Load a model file of the campaign folder (cached); None for None."""
        if rel is None:
            return None
        if rel not in self._models:
            self._models[rel] = load_model(self.folder / rel)
        return self._models[rel]

    def prior(self) -> ArscModel | None:
        """Return the campaign's prior model (None when no prior fitted the reaction)."""
        return self.model(PRIOR_FILE) if (self.folder / PRIOR_FILE).is_file() else None

    def seed(self, index: int, tag: int) -> int:
        """Return a seed for round ``index`` and purpose ``tag`` (deterministic)."""
        seq = np.random.SeedSequence([self.definition.acquisition.seed, index, tag])
        return int(seq.generate_state(1)[0])

    def plan(self) -> list[int]:
        """Return the DFT calculations each candidate costs, candidate order."""
        assert self.state.space is not None
        return self.state.space.calculations_per_site


# ---- setting up ----------------------------------------------------------------------


def _sites(definition: CampaignDefinition) -> list[str]:
    space = definition.space
    if space.sites:
        out: list[str] = []
        for sid in space.sites:
            parts = sid.split("_")
            pair = parts[0].split("-") if parts else []
            if len(parts) != 3 or len(pair) != 2:
                raise ArscInputError(f"malformed site id {sid!r} in space.sites")
            site = make_site(pair[0], pair[1], parts[1], parts[2], elements=space.elements)
            if site.id not in out:
                out.append(site.id)
        return out
    sites = enumerate_sites(space.metals, space.motifs, space.supports, space.elements)
    return [s.id for s in sites]


def _summary(engine: BatchEngine, definition: CampaignDefinition, sites: list[str]) -> SpaceSummary:
    per_site, gas = engine.plan(sites)
    steps = 1 if definition.dft.executor == "replay" else len(dft_steps(definition.dft))
    return SpaceSummary(
        sites=len(sites),
        structures=sum(per_site) // steps,
        calculations_per_site=per_site,
        gas_calculations=gas,
        exhaustive_calculations=sum(per_site) + gas,
        candidates_file=CANDIDATES_FILE,
    )


def _open(
    folder: Path, state: CampaignState, show_progress: bool, console: Console | None
) -> Campaign:
    candidates = pd.read_csv(folder / CANDIDATES_FILE)
    since = datetime.fromisoformat(state.created)
    engine = make_engine(folder, state.definition, since, show_progress)
    campaign = Campaign(folder, state, candidates, engine, show_progress=show_progress)
    if console is not None:
        campaign.console = console
    return campaign


def start_campaign(
    definition: CampaignDefinition,
    folder: str | Path,
    *,
    source: Path | None = None,
    show_progress: bool = True,
    console: Console | None = None,
) -> Campaign:
    """Create a campaign folder, or reopen it when it holds the same definition.

    Parameters
    ----------
    definition
        The campaign.
    folder
        Campaign folder (created).
    source
        The YAML file the definition came from (named in ``campaign.yaml``,
        which holds the definition in effect, overrides included).
    show_progress
        Print progress lines and bars on stderr.
    console
        Console for the progress output (default stderr).

    Raises
    ------
    ArscInputError
        The folder holds a campaign with another definition.
    """
    path = Path(folder)
    if state_path(path).is_file():
        state = load_state(path)
        if state.definition_sha256 != definition.sha256():
            raise ArscInputError(
                f"campaign folder {str(path)!r} holds campaign {state.definition.name!r} with "
                "another definition; resume it with `arsc campaign resume` or pick another folder"
            )
        return _open(path, state, show_progress, console)
    if definition.dft.executor != "replay":  # engines, extras and presets: fail before any work
        flow_maker(definition.dft, definition.objective.reaction).makers()
    path.mkdir(parents=True, exist_ok=True)
    head = f"# campaign definition in effect (read from {source})\n" if source else ""
    text = yaml.safe_dump(definition.model_dump(mode="json"), sort_keys=False)
    (path / DEFINITION_FILE).write_text(head + text)
    sites = _sites(definition)
    if not sites:
        raise ArscInputError("the campaign's space has no candidate site")
    table = space_table([make_site(*_split(s), elements=definition.space.elements) for s in sites])
    table.to_csv(path / CANDIDATES_FILE, index=False)
    prior, message = load_prior(definition.model.prior, definition.objective)
    if prior is not None:
        save_model(prior, path / PRIOR_FILE)
    state = CampaignState(
        arsc_version=__version__,
        definition=definition,
        definition_sha256=definition.sha256(),
    )
    campaign = _open(path, state, show_progress, console)
    state.space = _summary(campaign.engine, definition, sites)
    campaign.save()
    campaign.say(f"campaign {definition.name!r}: {len(sites)} candidates; {message}")
    return campaign


def _split(site_id: str) -> tuple[str, str, str, str]:
    pair, motif, support = site_id.split("_")
    m1, m2 = pair.split("-")
    return m1, m2, motif, support


def resume_campaign(
    folder: str | Path, *, show_progress: bool = True, console: Console | None = None
) -> Campaign:
    """Reopen a campaign folder from its state (see :func:`run_campaign` to continue)."""
    path = Path(folder)
    return _open(path, load_state(path), show_progress, console)


# ---- the steps -----------------------------------------------------------------------


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
    kappa = c.definition.acquisition.prune_kappa
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
            kappa=acq.prune_kappa,
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
    """A progress bar of the batch's calculations, shown from the engine's first report.

    Engines that show their own bar (the local one running in this process)
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


def step_compute(c: Campaign, rnd: Round) -> None:
    """Run the DFT of the batch with the campaign's engine."""
    sites = rnd.selection.sites if rnd.selection is not None else []
    if not sites:
        rnd.results, rnd.accounting = [], RoundAccounting()
        return
    c.say(f"round {rnd.index}: DFT of {len(sites)} sites ({c.definition.dft.executor} executor)")
    bar = _LazyBar(c.console, c.show_progress)
    try:  # engines' chatter (e.g. CHGNet's banner) goes to stderr: stdout is for results
        with contextlib.redirect_stdout(sys.stderr):
            outcome = c.engine.compute(sites, bar)
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
        value = float(quantity(spec, dg)[0]) if names else math.nan
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


def step_refit(c: Campaign, rnd: Round) -> None:
    """Make the next round's model from every DFT result so far."""
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
    done = c.state.computed_sites()
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


# ---- totals, ranking, the end ----------------------------------------------------------


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


def report_path(c: Campaign) -> tuple[Path, bool]:
    """Write the report if the report module is there; return (path, written)."""
    try:
        from workflows.report import write_report
    except ImportError:
        return c.folder / "report" / "index.html", False
    return Path(write_report(c.folder)), True


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
