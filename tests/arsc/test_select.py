"""Objectives, the pruning rule and the acquisition strategies (arsc.select)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from arsc.errors import ArscInputError
from arsc.select import (
    MODEL_FREE,
    STRATEGIES,
    Objective,
    expected_improvement,
    prune,
    register_strategy,
    select_batch,
)

RNG = np.random.default_rng


# --- objectives ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "target"),
    [("min", "min", None), (" MAX ", "max", None), ("closest:0.5", "closest", 0.5),
     ("closest: -1.23", "closest", -1.23)],
)  # fmt: skip
def test_objective_parse_reads_min_max_and_closest_with_its_value(text, kind, target):
    obj = Objective.parse(text)
    assert (obj.kind, obj.target) == (kind, target)


@pytest.mark.parametrize("text", ["mid", "closest", "closest:", "closest:abc", "closest:nan",
                                  "min:1", "max:2"])  # fmt: skip
def test_objective_parse_rejects_bad_text_with_one_line_naming_it(text):
    with pytest.raises(ArscInputError) as err:
        Objective.parse(text)
    msg = str(err.value)
    assert "\n" not in msg and "closest:VALUE" in msg


def test_objective_scores_are_lower_is_better():
    y = np.array([-1.0, 0.2, 2.0])
    assert Objective.parse("min").score(y).tolist() == [-1.0, 0.2, 2.0]
    assert Objective.parse("max").score(y).tolist() == [1.0, -0.2, -2.0]
    assert np.allclose(Objective.parse("closest:0.5").score(y), [1.5, 0.3, 1.5])


def test_score_dist_min_is_identity_and_max_flips_the_mean():
    mu, sd = np.array([0.1, -0.3]), np.array([0.2, 0.4])
    assert np.array_equal(np.stack(Objective.parse("min").score_dist(mu, sd)), np.stack([mu, sd]))
    m, s = Objective.parse("max").score_dist(mu, sd)
    assert np.array_equal(m, -mu) and np.array_equal(s, sd)


def test_score_dist_closest_matches_folded_normal_monte_carlo():
    mu = np.array([0.0, 0.3, 1.0, -2.0, 0.5])
    sd = np.array([0.5, 0.2, 0.4, 1.0, 0.0])
    mean, std = Objective.parse("closest:0.5").score_dist(mu, sd)
    draws = np.abs(mu + sd * RNG(0).standard_normal((400_000, mu.size)) - 0.5)
    assert np.allclose(mean, draws.mean(axis=0), atol=3e-3)
    assert np.allclose(std, draws.std(axis=0), atol=3e-3)
    assert (mean[-1], std[-1]) == (0.0, 0.0)  # sigma 0: |mu - v| exactly


# --- pruning ---------------------------------------------------------------------------------


def test_prune_keeps_only_candidates_whose_lower_bound_beats_the_best_and_says_why():
    mu, sd = np.array([0.2, 0.9, 0.5, 0.7]), np.array([0.1, 0.1, 0.3, 0.15])
    result = prune(mu, sd, best_s=0.41, kappa=2.0)
    # bounds: 0.0, 0.7, -0.1, 0.4 (strictly below 0.41 is kept)
    assert result.keep.tolist() == [True, False, True, True]
    assert result.reason[1] == "lower bound 0.700 >= best 0.410"
    assert result.reason[0] == "lower bound 0.000 < best 0.410"
    assert result.n_pruned == 1


def test_prune_keeps_everything_before_any_result_and_unpredicted_candidates():
    mu, sd = np.array([5.0, np.nan]), np.array([0.1, np.nan])
    assert prune(mu, sd, best_s=np.inf).keep.all()
    result = prune(mu, sd, best_s=0.0)
    assert result.keep.tolist() == [False, True] and result.reason[1] == "no prediction"


def test_prune_kappa_zero_compares_the_mean_and_negative_kappa_is_rejected():
    mu, sd = np.array([0.3, 0.5]), np.array([1.0, 1.0])
    assert prune(mu, sd, 0.4, kappa=0.0).keep.tolist() == [True, False]
    with pytest.raises(ArscInputError, match="kappa"):
        prune(mu, sd, 0.4, kappa=-1.0)


# --- strategies ------------------------------------------------------------------------------


def test_registry_has_the_five_strategies_and_random_is_model_free():
    assert {"greedy", "ucb", "ei", "thompson", "random"} <= set(STRATEGIES)
    assert "random" in MODEL_FREE and "greedy" not in MODEL_FREE


def pick(strategy, mu, sd, best=0.5, batch=2, seed=0, available=None, **kw):
    avail = np.ones(len(mu), bool) if available is None else np.asarray(available)
    return select_batch(strategy, np.asarray(mu), np.asarray(sd), best, batch, RNG(seed), avail,
                        **kw).tolist()  # fmt: skip


def test_greedy_takes_the_lowest_predicted_scores_in_order():
    assert pick("greedy", [0.3, 0.1, 0.9, 0.2], [1.0, 0.0, 5.0, 0.0], batch=3) == [1, 3, 0]


def test_ucb_takes_the_lowest_lower_bound_and_kappa_sets_the_exploration():
    mu, sd = [0.1, 0.4, 0.3], [0.0, 0.3, 0.05]
    assert pick("ucb", mu, sd, batch=1) == [1]  # 0.4 - 2 * 0.3 = -0.2
    assert pick("ucb", mu, sd, batch=1, kappa=0.5) == [0]  # 0.25, 0.1, 0.275


def test_expected_improvement_matches_numerical_integration():
    mu, sd, best = np.array([0.2, 0.6, 0.5]), np.array([0.1, 0.3, 0.0]), 0.4
    grid = np.linspace(-3, 3, 200_001)
    numeric = [
        np.trapezoid(np.maximum(best - grid, 0) * norm.pdf(grid, m, s), grid) if s else
        max(best - m, 0.0)
        for m, s in zip(mu, sd, strict=True)
    ]  # fmt: skip
    assert np.allclose(expected_improvement(mu, sd, best), numeric, atol=1e-6)


def test_ei_prefers_uncertain_candidate_over_a_sure_small_gain():
    # sure gain 0.05 (EI 0.05) vs mean at the best with sd 0.5 (EI 0.5 * phi(0) = 0.2)
    assert pick("ei", [0.35, 0.4], [0.0, 0.5], best=0.4, batch=1) == [1]


def test_ei_breaks_underflow_ties_by_the_lower_mean():
    assert pick("ei", [9.0, 7.0, 8.0], [0.01, 0.01, 0.01], best=0.0, batch=3) == [1, 2, 0]


def test_thompson_with_zero_spread_is_greedy_and_is_reproducible_with_a_seed():
    mu = [0.5, 0.1, 0.3, 0.2]
    assert pick("thompson", mu, [0.0] * 4, batch=3) == [1, 3, 2]
    sd = [0.5] * 4
    assert pick("thompson", mu, sd, batch=3, seed=7) == pick("thompson", mu, sd, batch=3, seed=7)


def test_thompson_picks_by_posterior_probability_of_being_best():
    counts = np.zeros(2)
    for seed in range(400):
        counts[pick("thompson", [0.0, 0.5], [1.0, 1.0], batch=1, seed=seed)[0]] += 1
    # P(X0 < X1) with X ~ N(0,1), N(0.5,1): Phi(0.5 / sqrt 2) = 0.638
    assert 0.56 < counts[0] / 400 < 0.72


def test_random_ignores_predictions_and_nan_predictions_rank_last_otherwise():
    mu = [np.nan, 0.2, np.nan, 0.1]
    assert pick("greedy", mu, [0.1] * 4, batch=4)[:2] == [3, 1]
    firsts = {pick("random", mu, [0.1] * 4, batch=1, seed=s)[0] for s in range(40)}
    assert firsts == {0, 1, 2, 3}


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 30),
    batch=st.integers(1, 12),
    seed=st.integers(0, 10_000),
    strategy=st.sampled_from(["greedy", "ucb", "ei", "thompson", "random"]),
)
def test_every_strategy_returns_at_most_batch_distinct_available_indices(n, batch, seed, strategy):
    rng = RNG(seed)
    mu, sd = rng.normal(size=n), rng.uniform(0, 1, n)
    avail = rng.random(n) < 0.6
    got = select_batch(strategy, mu, sd, 0.0, batch, rng, avail)
    assert len(got) == min(batch, int(avail.sum()))
    assert len(set(got.tolist())) == len(got) and avail[got].all()


def test_select_batch_rejects_unknown_strategy_and_bad_batch():
    with pytest.raises(ArscInputError, match=r"unknown acquisition strategy 'best'.*greedy"):
        pick("best", [0.1], [0.1])
    with pytest.raises(ArscInputError, match="batch size 0"):
        pick("greedy", [0.1], [0.1], batch=0)


def test_register_strategy_adds_a_strategy_usable_by_name():
    @register_strategy("_highest_sigma")
    def widest(mu_s, sigma_s, best_s, batch, rng, kappa):
        return -sigma_s

    try:
        assert pick("_highest_sigma", [0.0, 0.0, 0.0], [0.1, 0.9, 0.5], batch=2) == [1, 2]
    finally:
        del STRATEGIES["_highest_sigma"]


def test_pruning_width_for_a_target_recall_is_the_normal_quantile():
    from arsc.select import kappa_for_recall

    assert kappa_for_recall(0.95) == pytest.approx(norm.ppf(0.95))
    assert kappa_for_recall(0.5) == pytest.approx(0.0)
    for bad in (0.2, 1.0, float("nan")):
        with pytest.raises(ArscInputError, match="pruning recall"):
            kappa_for_recall(bad)


def test_prune_at_the_recall_width_keeps_truly_better_candidates_at_that_rate():
    """Calibrated Gaussian predictions: about 95 % of the truly better candidates survive."""
    from arsc.select import kappa_for_recall

    rng = np.random.default_rng(0)
    truth = rng.normal(0.0, 1.0, 20000)
    sigma = np.full(truth.size, 0.5)
    mu = truth + rng.normal(0.0, 0.5, truth.size)
    best = -1.0
    keep = prune(mu, sigma, best, kappa_for_recall(0.95)).keep
    better = truth < best
    assert np.mean(keep[better]) >= 0.95


def test_prune_without_explanations_gives_the_same_mask_and_no_reasons():
    rng = np.random.default_rng(0)
    mu, sigma = rng.normal(size=500), rng.uniform(0.0, 1.0, 500)
    mu[3] = np.nan
    full = prune(mu, sigma, best_s=-0.5, kappa=1.645)
    fast = prune(mu, sigma, best_s=-0.5, kappa=1.645, explain=False)
    assert np.array_equal(full.keep, fast.keep) and fast.reason == []
    assert fast.n_pruned == full.n_pruned > 0
