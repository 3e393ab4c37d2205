"""Offline replay: benchmark acquisition strategies on a table of precomputed DFT results.

:class:`ReplayOracle` is a DFT engine that answers from a table (the
``arsc fit`` table format with a target column) and counts its calls.
:func:`replay` runs one campaign on it: a random initial sample, then rounds
of fit the surrogate on the computed rows -> predict mean and std of the
others -> score them with the objective -> pick a batch
(:func:`arsc.select.select_batch`) -> query. :func:`benchmark` repeats this
over seeds for several strategies and ``random`` (the same initial sample per
seed for every strategy, so the comparison is paired) and summarises:

``calls_to_<k>``
    the smallest number of DFT calls with which the campaign finds k of the
    true top-N (k = ceil(N/2) and N); calls are counted in acquisition
    order, within a batch by the strategy's preference, so this equals the
    budget of the same campaign with its last batch cut to fit;
``found_at_<p>pct``
    the fraction of the true top-N among the first ceil(p % of the table)
    calls (p = 5, 10).

See ``docs/acquisition.md`` for the protocol and measured results.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

from arsc.errors import ArscInputError
from arsc.model.table import read_table, target_values
from arsc.parallel import default_workers
from arsc.select import (
    DEFAULT_KAPPA,
    DEFAULT_PRUNE_RECALL,
    MODEL_FREE,
    Objective,
    get_strategy,
    kappa_for_recall,
    prune,
    select_batch,
)
from arsc.surrogates import DEFAULT_SURROGATE, Surrogate, make_surrogate

#: Table fractions (percent) at which the found fraction of the top-N is reported.
FRACTIONS_PCT: tuple[int, ...] = (5, 10)
#: The baseline every benchmark includes.
BASELINE = "random"
#: Strategies benchmarked when none are named.
DEFAULT_STRATEGIES: tuple[str, ...] = ("greedy", "ucb", "ei", "thompson")


class ReplayOracle:
    """A DFT engine that answers requests from a table of precomputed results.

    Parameters
    ----------
    table
        Candidate table (CSV path or DataFrame) in the ``arsc fit`` format.
    target
        Column with the computed value of every row.

    Attributes
    ----------
    table
        The rows (normalised by :func:`arsc.model.table.read_table`).
    calls
        DFT calls answered so far, count.
    order
        Row indices in the order they were asked for.
    """

    def __init__(self, table: pd.DataFrame | str | Path, target: str) -> None:
        self.table = read_table(table)
        self.target = target
        self._values = _complete_target(self.table, target)
        self.calls = 0
        self.order: list[int] = []
        self._asked = np.zeros(len(self._values), bool)

    def __len__(self) -> int:
        return len(self._values)

    @property
    def asked(self) -> np.ndarray:
        """Per row: has it been queried (a copy)."""
        return self._asked.copy()

    def query(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Answer one batch of DFT requests; each row may be asked once.

        Raises
        ------
        ValueError
            For an index out of range or a row asked twice (a campaign bug).
        """
        idx = np.asarray(indices, dtype=np.intp).ravel()
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise ValueError(f"row index out of range 0..{len(self) - 1}: {idx.tolist()}")
        uniq, counts = np.unique(idx, return_counts=True)
        twice = set(idx[self._asked[idx]].tolist()) | set(uniq[counts > 1].tolist())
        if twice:
            raise ValueError(f"rows asked twice: {sorted(twice)}")
        self._asked[idx] = True
        self.calls += idx.size
        self.order += idx.tolist()
        return self._values[idx].copy()


def _complete_target(table: pd.DataFrame, target: str) -> np.ndarray:
    """Return the target column as floats; ArscInputError unless every row has a number."""
    if target in table.columns:
        values = pd.to_numeric(table[target], errors="coerce").to_numpy(dtype=float)
        empty = np.flatnonzero(~np.isfinite(values))
        if empty.size:
            raise ArscInputError(
                f"target column {target!r} has no number in {empty.size} row(s) (first: row "
                f"{int(empty[0])}, value {table[target].iloc[int(empty[0])]!r}); a replay table "
                "needs a computed value in every row: drop the others"
            )
    return target_values(table, target)


@dataclass(frozen=True)
class ReplaySettings:
    """Knobs of one replayed campaign.

    Attributes
    ----------
    top
        N of the true top-N to find.
    init
        Random initial sample, DFT calls.
    batch
        DFT calls per round.
    kappa
        UCB weight, standard deviations.
    prune_recall
        Target recall of the pruning rule: the bound is mu - z sigma with
        z = Phi^-1(recall) (:func:`arsc.select.kappa_for_recall`).
    """

    top: int = 10
    init: int = 20
    batch: int = 10
    kappa: float = DEFAULT_KAPPA
    prune_recall: float = DEFAULT_PRUNE_RECALL

    @property
    def prune_kappa(self) -> float:
        """Width of the pruning bound for the target recall, standard deviations."""
        return kappa_for_recall(self.prune_recall)

    def check(self, n_rows: int) -> None:
        """Raise ArscInputError for settings impossible on a table of ``n_rows``."""
        if not 0.5 <= self.prune_recall < 1:
            raise ArscInputError(
                f"--prune-recall {self.prune_recall!r} must lie in [0.5, 1): the fraction of "
                "the truly better candidates the pruning rule keeps"
            )
        for name, value, low in (
            ("top", self.top, 1),
            ("init", self.init, 2),
            ("batch", self.batch, 1),
        ):
            if not low <= value <= n_rows:
                raise ArscInputError(
                    f"--{name} {value} must lie in {low}..{n_rows} (the table has {n_rows} rows)"
                )

    @property
    def milestones(self) -> tuple[int, int]:
        """The k of the two calls_to_k figures: ceil(top / 2) and top."""
        return math.ceil(self.top / 2), self.top


@dataclass(frozen=True)
class Trace:
    """One replayed campaign.

    Attributes
    ----------
    strategy, seed
        What ran.
    order
        Row indices in query order (initial sample first).
    hit
        Per query: is that row in the true top-N.
    rounds
        Acquisition rounds after the initial sample.
    wrong_prunes
        Rows the pruning rule (:func:`arsc.select.prune`, kappa) would have
        dropped at some round although their true score beat the best found
        by then, count (a diagnostic: replay itself never prunes; 0 for
        model-free strategies).
    best_margin
        Largest (mu_s - best_s) / sigma_s of the true best row over the
        rounds before it was computed (-inf if it never was a candidate): the
        pruning rule drops it at any kappa <= this margin.
    first_prune_top
        Fraction of the true top-N that the first pruning (after the initial
        sample, at ``prune_recall``) kept; computed rows count as kept.
    first_prune_removed
        Fraction of the table that first pruning removed.
    """

    strategy: str
    seed: int
    order: np.ndarray
    hit: np.ndarray
    rounds: int
    wrong_prunes: int = 0
    best_margin: float = -math.inf
    first_prune_top: float = 1.0
    first_prune_removed: float = 0.0

    def calls_to(self, k: int) -> int:
        """DFT calls until k of the top-N were found."""
        return int(np.flatnonzero(np.cumsum(self.hit) >= k)[0]) + 1

    def found_at(self, calls: int) -> float:
        """Found fraction of the top-N after the first ``calls`` queries."""
        return float(self.hit[:calls].sum()) / float(self.hit.sum())


def true_top(values: np.ndarray, objective: Objective, top: int) -> np.ndarray:
    """Rows of the N best values by the objective (ties: the earlier row)."""
    return np.argsort(objective.score(values), kind="stable")[:top]


def budget_calls(n_rows: int, pct: float) -> int:
    """DFT calls in ``pct`` percent of a table: ceil(pct/100 n), at least 1."""
    return max(1, math.ceil(pct / 100 * n_rows - 1e-9))


def replay(
    oracle: ReplayOracle,
    objective: Objective,
    strategy: str,
    surrogate: Surrogate,
    settings: ReplaySettings,
    seed: int,
) -> Trace:
    """Run one campaign on a fresh oracle until the true top-N is found.

    It also runs until ceil(10 % of the table) calls are made, so every
    figure of :func:`trace_metrics` is defined. The initial sample depends on
    ``seed`` only (the same for every strategy).
    """
    get_strategy(strategy)
    n = len(oracle)
    settings.check(n)
    values = _complete_target(oracle.table, oracle.target)  # truth: metrics and diagnostics only
    truth = objective.score(values)
    ranked = true_top(values, objective, settings.top)
    top, best_row = set(ranked.tolist()), int(ranked[0])
    need_calls = max(budget_calls(n, p) for p in FRACTIONS_PCT)
    first = np.random.default_rng(seed).choice(n, settings.init, replace=False)
    rng = np.random.default_rng([seed, zlib.crc32(strategy.encode())])
    observed = oracle.query(first)
    rounds, wrong = 0, set()
    margin = -math.inf
    first_top, first_removed = 1.0, 0.0
    while oracle.calls < n and not (top <= set(oracle.order) and oracle.calls >= need_calls):
        train = np.asarray(oracle.order)
        test = np.flatnonzero(~oracle.asked)
        best_s = float(objective.score(observed).min())
        if strategy in MODEL_FREE:
            mu_s = sd_s = np.zeros(test.size)
        else:
            mu, sd = surrogate(train, observed, test, seed)
            mu_s, sd_s = objective.score_dist(mu, sd)
            dropped = test[~prune(mu_s, sd_s, best_s, settings.prune_kappa, explain=False).keep]
            wrong |= set(dropped[truth[dropped] < best_s].tolist())
            if rounds == 0:
                first_top = 1.0 - len(top & set(dropped.tolist())) / len(top)
                first_removed = dropped.size / n
            at = np.flatnonzero(test == best_row)
            if at.size:
                z = (mu_s[at[0]] - best_s) / max(sd_s[at[0]], 1e-300)
                margin = max(margin, float(z))
        pick = select_batch(
            strategy,
            mu_s,
            sd_s,
            best_s,
            settings.batch,
            rng,
            np.ones(test.size, bool),
            kappa=settings.kappa,
        )
        observed = np.concatenate([observed, oracle.query(test[pick])])
        rounds += 1
    order = np.asarray(oracle.order)
    hit = np.isin(order, list(top))
    return Trace(strategy, seed, order, hit, rounds, len(wrong), margin, first_top, first_removed)


def metric_names(settings: ReplaySettings) -> tuple[str, ...]:
    """Return the figure names: calls_to_<k> for both milestones, found_at_<p>pct."""
    ks = [f"calls_to_{k}" for k in settings.milestones]
    found = (f"found_at_{p}pct" for p in FRACTIONS_PCT)
    return (*ks, *found, "first_prune_top", "first_prune_removed")


def trace_metrics(trace: Trace, settings: ReplaySettings, n_rows: int) -> dict[str, float]:
    """Compute the figures of one campaign (calls, counts; fractions in 0..1)."""
    k_half, k_all = settings.milestones
    out: dict[str, float] = {
        f"calls_to_{k_half}": trace.calls_to(k_half),
        f"calls_to_{k_all}": trace.calls_to(k_all),
    }
    for p in FRACTIONS_PCT:
        out[f"found_at_{p}pct"] = trace.found_at(budget_calls(n_rows, p))
    out["first_prune_top"] = trace.first_prune_top
    out["first_prune_removed"] = trace.first_prune_removed
    return out


@dataclass(frozen=True)
class Spread:
    """Mean and sample standard deviation over seeds."""

    mean: float
    std: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """Summarise values (std 0 for a single value)."""
        arr = np.asarray(values, dtype=float)
        return cls(float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0)


@dataclass(frozen=True)
class StrategyResult:
    """One strategy over all seeds.

    Attributes
    ----------
    strategy
        Name.
    per_seed
        Figure name -> one value per seed (seed order).
    traces
        The campaigns.
    seconds
        Time of its campaigns, summed, s (with parallel workers more than the wall time).
    """

    strategy: str
    per_seed: dict[str, list[float]]
    traces: list[Trace]
    seconds: float

    @property
    def summary(self) -> dict[str, Spread]:
        """Figure name -> mean and std over seeds."""
        return {k: Spread.of(v) for k, v in self.per_seed.items()}


@dataclass(frozen=True)
class Benchmark:
    """Result of :func:`benchmark`."""

    target: str
    objective: str
    surrogate: str
    settings: ReplaySettings
    n_rows: int
    seeds: int
    results: dict[str, StrategyResult] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, dict[str, dict[str, float]]]:
        """``{strategy: {figure: {mean, std}}}``, ``random`` included."""
        return {
            name: {k: {"mean": s.mean, "std": s.std} for k, s in r.summary.items()}
            for name, r in self.results.items()
        }

    def best(self) -> str:
        """Return the non-baseline strategy with the fewest mean calls to the whole top-N."""
        key = f"calls_to_{self.settings.top}"
        names = [s for s in self.results if s != BASELINE] or [BASELINE]
        return min(names, key=lambda s: self.results[s].summary[key].mean)


@dataclass(frozen=True)
class Paired:
    """Paired comparison of calls to the whole top-N, strategy vs baseline, seed by seed."""

    better: int
    worse: int
    ties: int
    p_value: float | None


def paired(bench: Benchmark, strategy: str, baseline: str = BASELINE) -> Paired:
    """Seeds on which ``strategy`` needed fewer / more calls than ``baseline``; Wilcoxon p.

    The p value is the two-sided Wilcoxon signed-rank test on the per-seed
    differences (None with fewer than 2 non-zero differences).
    """
    key = f"calls_to_{bench.settings.top}"
    a = np.asarray(bench.results[strategy].per_seed[key])
    b = np.asarray(bench.results[baseline].per_seed[key])
    diff = a - b
    p = None
    if np.count_nonzero(diff) >= 2:
        p = float(wilcoxon(a, b).pvalue)
    return Paired(int((diff < 0).sum()), int((diff > 0).sum()), int((diff == 0).sum()), p)


def benchmark(
    table: pd.DataFrame | str | Path,
    target: str,
    objective: Objective | str = "min",
    strategies: Sequence[str] = DEFAULT_STRATEGIES,
    surrogate: str = DEFAULT_SURROGATE,
    settings: ReplaySettings | None = None,
    seeds: int = 20,
    progress: Callable[[str, int], None] | None = None,
    workers: int | None = None,
) -> Benchmark:
    """Replay each strategy and ``random`` over ``seeds`` seeds on one table.

    Parameters
    ----------
    table
        Candidate table with the target computed for every row.
    target
        Target column.
    objective
        An :class:`arsc.select.Objective` or its text (``min``, ``max``, ``closest:V``).
    strategies
        Strategy names; ``random`` is added when missing.
    surrogate
        Surrogate name (:data:`arsc.surrogates.SURROGATES`).
    settings
        Top-N, initial sample, batch and kappa.
    seeds
        Campaigns per strategy (seeds 0 .. seeds - 1).
    progress
        Called with (strategy, seed) as each campaign finishes.
    workers
        Campaigns run at once, in separate processes (default
        :func:`default_workers`; 1: one after the other in this process). The
        campaigns are independent and seeded, so the figures do not depend on it.

    Returns
    -------
    Benchmark
        Per strategy the figures of every seed and their mean and std.
    """
    start = time.perf_counter()
    obj = objective if isinstance(objective, Objective) else Objective.parse(objective)
    settings = settings or ReplaySettings()
    if seeds < 1:
        raise ArscInputError(f"--seeds {seeds} must be >= 1")
    if workers is not None and workers < 1:
        raise ArscInputError(f"--workers {workers} must be >= 1")
    names = list(dict.fromkeys([*strategies, BASELINE]))
    for name in names:
        get_strategy(name)
    data = ReplayOracle(table, target).table
    settings.check(len(data))
    make_surrogate(surrogate, data)  # fail early on an unknown name or table
    # model strategies first: they are the long campaigns, so the workers finish together
    jobs = [(n, s) for n in sorted(names, key=lambda n: n in MODEL_FREE) for s in range(seeds)]
    args = (obj, surrogate, settings)
    done: dict[tuple[str, int], tuple[Trace, float]] = {}
    n_workers = min(workers or default_workers(), len(jobs))
    if n_workers <= 1:
        for name, seed in jobs:
            done[name, seed] = _campaign(data, target, name, seed, *args)
            if progress:
                progress(name, seed)
    else:
        with ProcessPoolExecutor(
            n_workers, mp_context=get_context("spawn"), initializer=_set_table, initargs=(data,)
        ) as pool:
            futures = {pool.submit(_worker_campaign, target, n, s, *args): (n, s) for n, s in jobs}
            for future in as_completed(futures):
                done[futures[future]] = future.result()
                if progress:
                    progress(*futures[future])
    results = {}
    for name in names:
        traces = [done[name, seed][0] for seed in range(seeds)]
        per_seed: dict[str, list[float]] = {k: [] for k in metric_names(settings)}
        for t in traces:
            for k, v in trace_metrics(t, settings, len(data)).items():
                per_seed[k].append(v)
        seconds = sum(done[name, seed][1] for seed in range(seeds))
        results[name] = StrategyResult(name, per_seed, traces, seconds)
    return Benchmark(
        target,
        str(obj),
        surrogate,
        settings,
        len(data),
        seeds,
        results,
        time.perf_counter() - start,
    )


def _campaign(
    data: pd.DataFrame,
    target: str,
    name: str,
    seed: int,
    objective: Objective,
    surrogate: str,
    settings: ReplaySettings,
) -> tuple[Trace, float]:
    """One campaign on a fresh oracle and surrogate, and its time (s)."""
    t0 = time.perf_counter()
    model = make_surrogate(surrogate, data)  # one per campaign: it may keep state
    trace = replay(ReplayOracle(data, target), objective, name, model, settings, seed)
    return trace, time.perf_counter() - t0


#: The table of a benchmark worker process (set once by its initializer).
_TABLE: dict[str, Any] = {}


def _set_table(data: pd.DataFrame) -> None:  # pragma: no cover - runs in the workers
    _TABLE["data"] = data


def _worker_campaign(
    target: str, name: str, seed: int, *args: Any
) -> tuple[Trace, float]:  # pragma: no cover - runs in the workers
    return _campaign(_TABLE["data"], target, name, seed, *args)
