"""The hierarchical model's incremental posterior over a candidate table (arsc.model.hierpost)."""

from pathlib import Path

import numpy as np
import pytest

from arsc.model import hier
from arsc.model.hierpost import TablePosterior
from arsc.replay import ReplayOracle
from arsc.surrogates import make_surrogate

SYNTHETIC = Path(__file__).parents[2] / "data" / "replay" / "synthetic_orr.csv"


@pytest.fixture(scope="module")
def problem():
    """The synthetic replay table (410 heteronuclear rows), fitted once on 40 of them."""
    oracle = ReplayOracle(SYNTHETIC, "overpotential")
    y = oracle.query(np.arange(len(oracle)))
    surrogate = make_surrogate("hier", oracle.table)
    order = np.random.default_rng(3).permutation(len(y))
    fitted = hier.fit(surrogate.layout, surrogate.rows.take(order[:40]), y[order[:40]], maxiter=40)
    return surrogate.layout, surrogate.rows, y, order, fitted.hyper


def _direct(layout, rows, y, train, test, hyper):
    fitted = hier.fitted_weights(layout, rows.take(train), y[train], hyper)
    return hier.predict(layout, fitted, rows.take(test))


def test_extending_by_batches_gives_the_posterior_of_a_full_refit(problem):
    layout, rows, y, order, hyper = problem
    post = TablePosterior.start(layout, hyper, rows, order[:40])
    for n in (50, 53, 80, 120):  # batches of 10, 3, 27, 40 rows
        post.extend(order[:n])
        assert post.chol.shape == (n, n) and post.v.shape == (n, len(rows))
        mean, sd = post.predict(y[order[:n]], order[n:])
        mean0, sd0 = _direct(layout, rows, y, order[:n], order[n:], hyper)
        np.testing.assert_allclose(mean, mean0, atol=1e-6)
        np.testing.assert_allclose(sd, sd0, atol=1e-6)
    post.extend(order)  # every candidate computed: V is square, its buffer no larger
    assert post.v.shape == (len(rows), len(rows)) and len(post.buffer) == len(rows)


def test_a_training_set_that_does_not_extend_the_last_one_starts_again(problem):
    layout, rows, y, order, hyper = problem
    post = TablePosterior.start(layout, hyper, rows, order[:40])
    other = order[::-1][:45]  # none of the previous rows first
    post.extend(other)
    assert np.array_equal(post.train, other)
    mean, sd = post.predict(y[other], order[100:110])
    mean0, sd0 = _direct(layout, rows, y, other, order[100:110], hyper)
    np.testing.assert_allclose(mean, mean0, atol=1e-6)
    np.testing.assert_allclose(sd, sd0, atol=1e-6)
    chol = post.chol
    post.extend(other)  # nothing new: nothing recomputed
    assert post.chol is chol
