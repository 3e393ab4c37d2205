"""The hierarchical model's posterior over a fixed candidate table, extended row by row.

An active-learning loop refits after every batch, and between hyperparameter
re-optimisations only the training rows grow: the prior covariance and the
candidates stay the same. This module keeps, for every row of the candidate
table at once, the quantities the GP posterior needs, and extends them by
the new training rows instead of recomputing them:

- ``chol``: the lower Cholesky factor L of the training covariance (noise
  in). Appending rows B to the training set A keeps L's top-left block;
  the new rows are R = (L^-1 C_AB)' and L_BB = chol(C_BB - R R').
- ``v``: V = L^-1 C(train, table), one column per candidate. Its first
  rows do not change either; the new ones are L_BB^-1 (C(B, table) - R V).
- the posterior of every candidate: mean = V' L^-1 y (since C(table, train)
  C^-1 y = V' L^-1 y) and variance = prior - sum over rows of V^2 (a running
  sum, updated by the new rows only).

A round then costs O(b n N) for b new rows, n training rows and N
candidates, instead of O(n^2 N) for the cross covariance and the triangular
solve of :func:`arsc.model.hier.predict`; the result is the same posterior
(to rounding). A changed hyperparameter set, or a training set that does not
extend the previous one, starts again from a full factorisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, solve_triangular

from arsc.model import hier


def _capacity(wanted: int, needed: int, candidates: int) -> int:
    """Rows of V's buffer: ``wanted``, but at least ``needed`` and at most the candidates.

    Training rows are distinct candidates, so V never has more rows than the table.
    """
    return max(needed, min(wanted, candidates))


@dataclass
class TablePosterior:
    """GP posterior of every candidate row of one table, for a growing training set.

    Attributes
    ----------
    layout, hyper
        Model layout and the (fixed) hyperparameters.
    table
        Inputs of every candidate row.
    train
        Table positions of the training rows, in the order they were added.
    chol
        Lower Cholesky factor of the training covariance (noise in), eV.
    buffer
        Holds V = L^-1 C(train, table) in its first len(train) rows (:attr:`v`);
        spare rows let a batch be appended without copying V, eV.
    explained
        Column sums of V^2: the prior variance the training rows explain, eV^2.
    prior
        Prior variance of every candidate (no noise), eV^2.
    """

    layout: hier.Layout
    hyper: hier.Hyper
    table: hier.Rows
    train: np.ndarray
    chol: np.ndarray
    buffer: np.ndarray
    explained: np.ndarray
    prior: np.ndarray

    @property
    def v(self) -> np.ndarray:
        """L^-1 C(train, table), shape (len(train), len(table)), eV."""
        return self.buffer[: len(self.train)]

    @classmethod
    def start(
        cls,
        layout: hier.Layout,
        hyper: hier.Hyper,
        table: hier.Rows,
        train: np.ndarray,
        chol: np.ndarray | None = None,
    ) -> TablePosterior:
        """Factorise the training covariance (or take ``chol``) and solve for every candidate."""
        train = np.asarray(train, dtype=int)
        rows = table.take(train)
        if chol is None:
            chol = np.tril(cho_factor(hier.training_covariance(layout, rows, hyper), lower=True)[0])
        cross = hier.covariance(layout, rows, table, hyper)
        v = solve_triangular(chol, cross, lower=True, check_finite=False)
        buffer = np.empty((_capacity(2 * len(train), len(train), len(table)), len(table)))
        buffer[: len(train)] = v
        prior = hier.prior_diag(layout, table, hyper)
        return cls(layout, hyper, table, train, chol, buffer, np.einsum("ij,ij->j", v, v), prior)

    def extend(self, train: np.ndarray) -> None:
        """Move to the training rows ``train``, in place.

        When ``train`` starts with the current training rows only the new
        ones are factorised and solved for; otherwise everything is
        recomputed (:meth:`start`).
        """
        train = np.asarray(train, dtype=int)
        n = len(self.train)
        if len(train) < n or not np.array_equal(train[:n], self.train):
            self._restart(train)
            return
        if len(train) == n:
            return
        new = train[n:]
        a, b = self.table.take(self.train), self.table.take(new)
        c_ab = hier.covariance(self.layout, a, b, self.hyper)
        r = solve_triangular(self.chol, c_ab, lower=True, check_finite=False).T
        c_bb = hier.training_covariance(self.layout, b, self.hyper)
        try:
            l_bb = np.linalg.cholesky(c_bb - r @ r.T)
        except np.linalg.LinAlgError:  # lost positive definiteness to rounding: start again
            self._restart(train)
            return
        cross_b = hier.covariance(self.layout, b, self.table, self.hyper)
        v_b = solve_triangular(l_bb, cross_b - r @ self.v, lower=True, check_finite=False)
        m = len(new)
        chol = np.zeros((n + m, n + m))
        chol[:n, :n], chol[n:, :n], chol[n:, n:] = self.chol, r, l_bb
        if len(self.buffer) < n + m:
            rows = _capacity(2 * len(self.buffer), n + m, len(self.table))
            grown = np.empty((rows, len(self.table)))
            grown[:n] = self.v
            self.buffer = grown
        self.buffer[n : n + m] = v_b
        self.train, self.chol = train, chol
        self.explained = self.explained + np.einsum("ij,ij->j", v_b, v_b)

    def _restart(self, train: np.ndarray) -> None:
        fresh = self.start(self.layout, self.hyper, self.table, train)
        self.train, self.chol, self.buffer = fresh.train, fresh.chol, fresh.buffer
        self.explained = fresh.explained

    def predict(self, y: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean (eV) and std of the mean without the noise (eV) of table ``rows``.

        ``y`` holds the targets of the training rows, in :attr:`train` order.
        """
        w = solve_triangular(self.chol, np.asarray(y, dtype=float), lower=True)
        mean = self.v[:, rows].T @ w
        var = self.prior[rows] - self.explained[rows]
        return mean, np.sqrt(np.maximum(var, 0.0))
