"""Acquisition science of a screening campaign: objectives, pruning, batch strategies.

Everything works in *score* space, where lower is better: an
:class:`Objective` turns target values (or their predictive distribution)
into scores, :func:`prune` drops candidates that cannot beat the current best
within their uncertainty, and :func:`select_batch` picks the next batch with
a strategy from the registry :data:`STRATEGIES` (``greedy``, ``ucb``, ``ei``,
``thompson``, ``random``). See ``docs/acquisition.md`` for the formulas.

Examples
--------
>>> import numpy as np
>>> obj = Objective.parse("closest:1.23")
>>> obj.score(np.array([1.0, 1.5])).round(2).tolist()
[0.23, 0.27]
>>> mu, sigma = np.array([0.2, 0.9, 0.5]), np.array([0.1, 0.1, 0.3])
>>> prune(mu, sigma, best_s=0.4).keep.tolist()
[True, False, True]
>>> select_batch("greedy", mu, sigma, 0.4, 2, np.random.default_rng(0), np.ones(3, bool)).tolist()
[0, 2]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from scipy.stats import norm

from arsc.errors import ArscInputError, unknown

#: Objective kinds and what they score (lower is better).
OBJECTIVE_KINDS: dict[str, str] = {
    "min": "the value itself (lowest is best)",
    "max": "minus the value (highest is best)",
    "closest": "|value - target| (closest to the target is best)",
}
#: Default exploration weight kappa of UCB and of the pruning bound (standard deviations).
DEFAULT_KAPPA = 2.0


@dataclass(frozen=True)
class Objective:
    """How target values become scores (lower is better).

    Attributes
    ----------
    kind
        ``min``, ``max`` or ``closest`` (:data:`OBJECTIVE_KINDS`).
    target
        The value aimed at for ``closest`` (same unit as the values), else None.
    """

    kind: str
    target: float | None = None

    @classmethod
    def parse(cls, text: str) -> Objective:
        """Read ``min``, ``max`` or ``closest:VALUE``.

        Raises
        ------
        ArscInputError
            For any other text, or ``closest`` without a finite number.
        """
        head, _, tail = text.strip().partition(":")
        kind = head.strip().lower()
        if kind not in OBJECTIVE_KINDS or (kind == "closest") != bool(tail.strip()):
            raise ArscInputError(
                f"unknown objective {text!r}; allowed: min, max, closest:VALUE (e.g. closest:0.0)"
            )
        if kind != "closest":
            return cls(kind)
        try:
            value = float(tail)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise ArscInputError(
                f"objective {text!r}: {tail.strip()!r} is not a finite number; "
                "write closest:VALUE, e.g. closest:0.0"
            )
        return cls(kind, value)

    def __str__(self) -> str:
        return self.kind if self.target is None else f"{self.kind}:{self.target:g}"

    def score(self, values: np.ndarray) -> np.ndarray:
        """Scores of target values: min y, max -y, closest |y - target|."""
        y = np.asarray(values, dtype=float)
        if self.kind == "min":
            return y.copy()
        if self.kind == "max":
            return -y
        return np.abs(y - float(self.target or 0.0))

    def score_dist(self, mu: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std of the score of Y ~ N(mu, sigma^2), per candidate.

        ``min`` and ``max`` are exact (a sign). For ``closest`` the score
        |Y - v| is folded-normal: with m = mu - v,
        E = sigma sqrt(2/pi) exp(-m^2 / 2 sigma^2) + m (1 - 2 Phi(-m / sigma)),
        Var = m^2 + sigma^2 - E^2 (sigma = 0 gives |m| and 0).
        """
        mu = np.asarray(mu, dtype=float)
        sigma = np.abs(np.asarray(sigma, dtype=float))
        if self.kind == "min":
            return mu.copy(), sigma.copy()
        if self.kind == "max":
            return -mu, sigma.copy()
        m = mu - float(self.target or 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(sigma > 0, m / sigma, 0.0)
            mean = np.where(
                sigma > 0,
                sigma * np.sqrt(2 / np.pi) * np.exp(-0.5 * z**2) + m * (1 - 2 * norm.cdf(-z)),
                np.abs(m),
            )
        var = np.maximum(m**2 + sigma**2 - mean**2, 0.0)
        return mean, np.sqrt(var)


@dataclass(frozen=True)
class PruneResult:
    """Outcome of :func:`prune`.

    Attributes
    ----------
    keep
        Per candidate: True where it could still beat the best.
    reason
        Per candidate, one short sentence with the bound and the best (score units).
    """

    keep: np.ndarray
    reason: list[str] = field(default_factory=list)

    @property
    def n_pruned(self) -> int:
        """Candidates pruned, count."""
        return int(np.count_nonzero(~self.keep))


#: Default target recall of pruning: the fraction of truly better candidates kept.
DEFAULT_PRUNE_RECALL = 0.95


def kappa_for_recall(recall: float) -> float:
    """Pruning width (std units) that keeps a truly better candidate with probability ``recall``.

    With a calibrated Gaussian predictive distribution a candidate whose true
    score beats the best is pruned only when mu - kappa sigma >= best, which
    happens with probability at most 1 - Phi(kappa); kappa = Phi^-1(recall).

    Examples
    --------
    >>> round(kappa_for_recall(0.95), 3)
    1.645
    """
    if not 0.5 <= recall < 1:
        raise ArscInputError(f"pruning recall {recall!r} must lie in [0.5, 1)")
    return float(norm.ppf(recall))


def prune(
    mu_s: np.ndarray,
    sigma_s: np.ndarray,
    best_s: float,
    kappa: float = DEFAULT_KAPPA,
    *,
    explain: bool = True,
) -> PruneResult:
    """Keep the candidates whose optimistic bound could still beat the best.

    A candidate is kept when its lower confidence bound mu_s - kappa sigma_s
    is strictly below ``best_s`` (the best score computed so far), or when
    nothing is known (no finite best, or no finite prediction).

    Parameters
    ----------
    mu_s, sigma_s
        Predicted score and its std per candidate (score units, lower is better).
    best_s
        Best score found so far (NaN or inf: nothing computed yet).
    kappa
        Width of the optimistic bound, in standard deviations (>= 0).
    explain
        Write a reason per candidate (False: an empty list, for callers that
        prune thousands of candidates every round and only need the mask).

    Returns
    -------
    PruneResult
        The keep mask and a reason per candidate.
    """
    if not kappa >= 0:
        raise ArscInputError(f"pruning kappa {kappa!r} must be a number >= 0")
    mu_s, sigma_s = np.asarray(mu_s, dtype=float), np.asarray(sigma_s, dtype=float)
    bound = mu_s - kappa * np.nan_to_num(sigma_s, nan=0.0)
    if not math.isfinite(best_s):
        n = len(mu_s)
        return PruneResult(np.ones(n, bool), ["nothing computed yet"] * n)
    unknown_ = ~np.isfinite(bound)
    keep = unknown_ | (bound < best_s)
    if not explain:
        return PruneResult(keep)
    reason = [
        "no prediction" if bad else f"lower bound {b:.3f} {'<' if k else '>='} best {best_s:.3f}"
        for b, k, bad in zip(bound.tolist(), keep.tolist(), unknown_.tolist(), strict=True)
    ]
    return PruneResult(keep, reason)


class Strategy(Protocol):
    """An acquisition strategy: utilities to rank candidates (lower is picked first)."""

    def __call__(
        self,
        mu_s: np.ndarray,
        sigma_s: np.ndarray,
        best_s: float,
        batch: int,
        rng: np.random.Generator,
        kappa: float,
    ) -> np.ndarray:
        """Return one rank key per candidate; the batch is the ``batch`` lowest keys."""
        ...


#: Acquisition strategies by name; add one with :func:`register_strategy`.
STRATEGIES: dict[str, Strategy] = {}
#: Strategies that ignore the predictions (a caller may skip fitting a surrogate for them).
MODEL_FREE: set[str] = set()


def register_strategy(name: str, *, uses_model: bool = True) -> Callable[[Strategy], Strategy]:
    """Register a strategy under ``name`` (decorator).

    Parameters
    ----------
    name
        Registry key.
    uses_model
        False for a strategy that ignores mu_s and sigma_s (listed in :data:`MODEL_FREE`).
    """

    def deco(func: Strategy) -> Strategy:
        STRATEGIES[name] = func
        if not uses_model:
            MODEL_FREE.add(name)
        return func

    return deco


def get_strategy(name: str) -> Strategy:
    """Look up a strategy (ArscInputError naming the allowed ones)."""
    if name not in STRATEGIES:
        raise unknown("acquisition strategy", name, STRATEGIES)
    return STRATEGIES[name]


@register_strategy("greedy")
def _greedy(
    mu_s: np.ndarray,
    sigma_s: np.ndarray,
    best_s: float,
    batch: int,
    rng: np.random.Generator,
    kappa: float,
) -> np.ndarray:
    """Exploit: the lowest predicted score mu_s."""
    return mu_s


@register_strategy("ucb")
def _ucb(
    mu_s: np.ndarray,
    sigma_s: np.ndarray,
    best_s: float,
    batch: int,
    rng: np.random.Generator,
    kappa: float,
) -> np.ndarray:
    """Optimism: the lowest bound mu_s - kappa sigma_s (LCB, i.e. UCB for minimisation)."""
    return mu_s - kappa * sigma_s


def expected_improvement(mu_s: np.ndarray, sigma_s: np.ndarray, best_s: float) -> np.ndarray:
    """Return the expected improvement below ``best_s`` of a Gaussian score (score units).

    EI = (best - mu) Phi(z) + sigma phi(z), z = (best - mu) / sigma;
    sigma = 0 gives max(best - mu, 0). No finite best: EI = -mu (greedy).
    """
    mu_s, sigma_s = np.asarray(mu_s, dtype=float), np.asarray(sigma_s, dtype=float)
    if not math.isfinite(best_s):
        return -mu_s
    gain = best_s - mu_s
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sigma_s > 0, gain / sigma_s, 0.0)
        ei = np.where(
            sigma_s > 0, gain * norm.cdf(z) + sigma_s * norm.pdf(z), np.maximum(gain, 0.0)
        )
    return np.asarray(ei)


@register_strategy("ei")
def _ei(
    mu_s: np.ndarray,
    sigma_s: np.ndarray,
    best_s: float,
    batch: int,
    rng: np.random.Generator,
    kappa: float,
) -> np.ndarray:
    """Rank by the highest expected improvement; ties (EI underflow) by the lower mu_s."""
    ei = expected_improvement(mu_s, sigma_s, best_s)
    return np.lexsort((mu_s, -ei)).argsort()


@register_strategy("thompson")
def _thompson(
    mu_s: np.ndarray,
    sigma_s: np.ndarray,
    best_s: float,
    batch: int,
    rng: np.random.Generator,
    kappa: float,
) -> np.ndarray:
    """One posterior draw per batch slot; each slot takes its draw's best unpicked candidate.

    Draws are independent per candidate (the surrogate gives marginals).
    Returned keys are the slot at which a candidate was picked (0, 1, ...),
    the rest are +inf.
    """
    n = len(mu_s)
    keys = np.full(n, np.inf)
    free = np.ones(n, bool)
    for slot in range(min(batch, n)):
        draw = mu_s + sigma_s * rng.standard_normal(n)
        draw[~free] = np.inf
        pick = int(np.argmin(draw))
        keys[pick], free[pick] = slot, False
    return keys


@register_strategy("random", uses_model=False)
def _random(
    mu_s: np.ndarray,
    sigma_s: np.ndarray,
    best_s: float,
    batch: int,
    rng: np.random.Generator,
    kappa: float,
) -> np.ndarray:
    """Uniform at random, the baseline."""
    return rng.random(len(mu_s))


def select_batch(
    strategy: str,
    mu_s: np.ndarray,
    sigma_s: np.ndarray,
    best_s: float,
    batch: int,
    rng: np.random.Generator,
    available: np.ndarray,
    *,
    kappa: float = DEFAULT_KAPPA,
) -> np.ndarray:
    """Pick the next batch: the ``batch`` best available candidates by the strategy.

    Batches of ``greedy``, ``ucb`` and ``ei`` are the plain top-k of the
    strategy's utility (no refit between picks); ``thompson`` takes one
    posterior draw per slot.

    Parameters
    ----------
    strategy
        A name in :data:`STRATEGIES`.
    mu_s, sigma_s
        Predicted score and its std per candidate (lower is better); NaN
        predictions rank last (except for :data:`MODEL_FREE` strategies).
    best_s
        Best score computed so far (NaN or inf: none).
    batch
        Batch size (>= 1).
    rng
        Random generator (random tie-breaks, Thompson draws, random strategy).
    available
        Per candidate: may it be picked (not yet computed, not pruned).
    kappa
        UCB exploration weight, standard deviations.

    Returns
    -------
    numpy.ndarray
        Indices into the arrays, at most ``batch``, all available, no
        repeats, in order of preference.
    """
    func = get_strategy(strategy)
    if batch < 1:
        raise ArscInputError(f"batch size {batch!r} must be >= 1")
    avail = np.flatnonzero(np.asarray(available, dtype=bool))
    if avail.size == 0:
        return avail
    mu = np.asarray(mu_s, dtype=float)[avail]
    sd = np.nan_to_num(np.asarray(sigma_s, dtype=float)[avail], nan=0.0)
    unknown_ = ~np.isfinite(mu)
    mu = np.where(unknown_, np.inf, mu)
    keys = np.asarray(func(mu, sd, float(best_s), batch, rng, kappa), dtype=float)
    if strategy not in MODEL_FREE:
        keys = np.where(unknown_, np.inf, keys)
    tie = rng.random(avail.size)  # random tie-break among equal keys
    order = np.lexsort((tie, keys))
    return avail[order[:batch]]
