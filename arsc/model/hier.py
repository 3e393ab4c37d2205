"""The hierarchical ARSC variant: named A, S, C, R terms that learn from data, with a prior.

For a site with binding metal x, partner y, intermediate z, first-shell
counts n_e of each metal (relative to the reference shell) and an optional
categorical ``motif``:

    dG_z = a                                              R: intercept
         + b T_beta(phi_xx(x)) + u_A[x]                   A: intrinsic prior + learned deviation
         + s (T_beta(phi_xx(y)) - T_beta(phi_xx(x))) + u_S[y]        S: the partner
         + sum_e (c_e + k_e T_beta(phi_xx(x)) + u_e[x]) n_e(x)      C: own first shell
         + sum_e c2_e n_e(y) + m[motif]                   C: partner's shell, site motif

with the Box-Cox form T_beta(phi) = (phi**beta - 1) / beta of the R term,
whose beta -> 0 limit is ln phi (finite: no cancelling huge a and b).
phi_xx(x) is the intrinsic-property descriptor (a PFESS formula of the
element table): the prior. The per-metal deviations u (one vector per
block: A, S, and the metal-dependent coordination response) are Gaussian
random effects whose prior covariance is

    s_r**2 K(x, x') + s_i**2 [x = x']

with K a squared-exponential kernel over the metals' standardised intrinsic
properties (n, S, d, IE, X, R; one length scale each): a metal with data is
pulled towards what it needs, shrunk towards the prior; a metal without data
is predicted from its intrinsic properties through K, and its uncertainty
grows the further it lies from the training metals. All the other (fixed)
coefficients get a wide Gaussian prior. Hyperparameters (beta, the block
variances, the length scales and the noise) maximise the marginal likelihood
(type-II maximum likelihood); the model is linear given them, so the
posterior is exact and prediction is a matrix product.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from arsc.elements import load_elements
from arsc.model.terms import boxcox

#: Intrinsic element properties of the kernel over metals (arsc/data/elements.yaml for units).
PROPERTIES: tuple[str, ...] = ("n", "S", "d", "IE", "X", "R")
#: Prior variance of the fixed coefficients, eV^2 (wide: the data decide them).
FIXED_PRIOR_VAR = 1.0e4
#: Bounds of beta of the R term (Box-Cox exponent, dimensionless).
BETA_BOUNDS = (0.0, 3.0)
#: Bounds of the log standard deviations (block scales and noise, ln eV) and log length scales.
LOG_SCALE_BOUNDS = (np.log(1e-4), np.log(30.0))
LOG_LENGTH_BOUNDS = (np.log(0.3), np.log(30.0))
_JITTER = 1e-8


@dataclass(frozen=True)
class Layout:
    """What the model reads of a table, fixed at fit time (and stored in the model file).

    Attributes
    ----------
    metals
        Metals with a random-effect coordinate (the element table's, with a finite prior).
    log_phi
        ln phi_xx (intrinsic prior) per metal.
    props
        Standardised intrinsic properties per metal, shape (metals, len(PROPERTIES)).
    coord_elements
        First-shell elements with a C term; counts enter relative to ``reference``.
    reference
        Reference first-shell counts per element.
    motifs
        Motif categories of the training table (the first is the reference; empty: no motif).
    hetero
        Whether the S block (partner) is on: some training row has metal1 != metal2.
    """

    metals: tuple[str, ...]
    log_phi: np.ndarray
    props: np.ndarray
    coord_elements: tuple[str, ...]
    reference: np.ndarray
    motifs: tuple[str, ...]
    hetero: bool

    @property
    def blocks(self) -> tuple[str, ...]:
        """Random-effect blocks, in column order: A, S (if hetero), one per coordination element."""
        return ("A", *(("S",) if self.hetero else ()), *(f"C_{e}" for e in self.coord_elements))

    def fixed_names(self) -> list[str]:
        """Names of the fixed coefficients, in column order."""
        names = ["a", "b"]
        if self.hetero:
            names.append("s")
        names += [f"c_{e}" for e in self.coord_elements]
        names += [f"k_{e}" for e in self.coord_elements]
        if self.hetero:
            names += [f"c2_{e}" for e in self.coord_elements]
        names += [f"m_{m}" for m in self.motifs[1:]]
        return names

    def random_names(self) -> list[str]:
        """Names of the random-effect coefficients, ``<block>[<metal>]``."""
        return [f"u_{b}[{m}]" for b in self.blocks for m in self.metals]


@dataclass(frozen=True)
class Rows:
    """Row inputs: metal indices into the layout, own and partner shell offsets, motif codes."""

    i1: np.ndarray
    i2: np.ndarray
    env1: np.ndarray
    env2: np.ndarray
    motif: np.ndarray

    def take(self, rows: np.ndarray) -> Rows:
        """Rows subset."""
        return Rows(
            self.i1[rows], self.i2[rows], self.env1[rows], self.env2[rows], self.motif[rows]
        )


def make_layout(
    descriptor_symbols: Sequence[str],
    log_phi: np.ndarray,
    elements: str | pd.DataFrame,
    coord_elements: Sequence[str],
    reference: np.ndarray,
    motifs: Sequence[str],
    hetero: bool,
) -> Layout:
    """Build the layout from the A descriptor, the element table and the training table's shape."""
    table = load_elements(elements) if isinstance(elements, str) else elements
    keep = [i for i, s in enumerate(descriptor_symbols) if np.isfinite(log_phi[i])]
    metals = tuple(descriptor_symbols[i] for i in keep)
    raw = table.loc[list(metals), list(PROPERTIES)].to_numpy(float)
    sd = raw.std(axis=0)
    props = (raw - raw.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    return Layout(
        metals,
        np.asarray(log_phi, dtype=float)[keep],
        props,
        tuple(coord_elements),
        np.asarray(reference, dtype=float),
        tuple(motifs),
        hetero,
    )


def fixed_matrix(layout: Layout, rows: Rows, beta: float) -> np.ndarray:
    """Fixed-effect columns (order of :meth:`Layout.fixed_names`)."""
    t = boxcox(layout.log_phi, beta)
    t1, t2 = t[rows.i1], t[rows.i2]
    cols = [np.ones(len(t1)), t1]
    if layout.hetero:
        cols.append(t2 - t1)
    cols += list(rows.env1.T) + list((rows.env1 * t1[:, None]).T)
    if layout.hetero:
        cols += list(rows.env2.T)
    cols += [(rows.motif == k).astype(float) for k in range(1, len(layout.motifs))]
    return np.column_stack(cols)


def random_matrix(layout: Layout, rows: Rows) -> np.ndarray:
    """Random-effect columns: one-hot of metal 1 (A), of metal 2 (S), metal 1 x own count (C)."""
    m = len(layout.metals)
    one1 = np.zeros((len(rows.i1), m))
    one1[np.arange(len(rows.i1)), rows.i1] = 1.0
    blocks = [one1]
    if layout.hetero:
        one2 = np.zeros_like(one1)
        one2[np.arange(len(rows.i2)), rows.i2] = 1.0
        blocks.append(one2)
    blocks += [one1 * rows.env1[:, [j]] for j in range(len(layout.coord_elements))]
    return np.concatenate(blocks, axis=1)


@dataclass(frozen=True)
class Hyper:
    """Hyperparameters: beta, per-block smooth and per-metal std (eV), length scales, noise (eV)."""

    beta: float
    smooth: dict[str, float]
    independent: dict[str, float]
    lengths: np.ndarray
    noise: float

    def to_dict(self) -> dict[str, float]:
        """Flat named floats (as stored in the model file)."""
        out = {"beta": self.beta, "noise": self.noise}
        out.update({f"sd_smooth_{b}": v for b, v in self.smooth.items()})
        out.update({f"sd_metal_{b}": v for b, v in self.independent.items()})
        out.update({f"length_{p}": float(v) for p, v in zip(PROPERTIES, self.lengths, strict=True)})
        return out

    @classmethod
    def from_dict(cls, d: dict[str, float], blocks: Sequence[str]) -> Hyper:
        """Inverse of :meth:`to_dict`."""
        return cls(
            d["beta"],
            {b: d[f"sd_smooth_{b}"] for b in blocks},
            {b: d[f"sd_metal_{b}"] for b in blocks},
            np.array([d[f"length_{p}"] for p in PROPERTIES]),
            d["noise"],
        )


def kernel(props: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Squared-exponential kernel over metals (unit variance), shape (metals, metals)."""
    z = props / lengths
    sq = np.sum(z * z, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * z @ z.T, 0.0)
    return np.exp(-0.5 * d2)


def prior_blocks(layout: Layout, h: Hyper) -> list[np.ndarray]:
    """Prior covariance of each random block, eV^2, shape (metals, metals) each."""
    k = kernel(layout.props, h.lengths)
    eye = np.eye(len(layout.metals))
    return [h.smooth[b] ** 2 * k + (h.independent[b] ** 2 + _JITTER) * eye for b in layout.blocks]


def prior_covariance(layout: Layout, h: Hyper, n_fixed: int) -> np.ndarray:
    """Prior covariance of all coefficients (block-diagonal), eV^2 (fixed ones: wide)."""
    m = len(layout.metals)
    q = n_fixed + m * len(layout.blocks)
    cov = np.zeros((q, q))
    cov[np.arange(n_fixed), np.arange(n_fixed)] = FIXED_PRIOR_VAR
    for j, block in enumerate(prior_blocks(layout, h)):
        lo = n_fixed + j * m
        cov[lo : lo + m, lo : lo + m] = block
    return cov


@dataclass(frozen=True)
class Posterior:
    """Gaussian posterior of all coefficients given the hyperparameters."""

    mean: np.ndarray
    cov: np.ndarray
    log_evidence: float


def log_evidence(layout: Layout, rows: Rows, y: np.ndarray, h: Hyper, phi_r: np.ndarray) -> float:
    """Log marginal likelihood of the targets (function space: an n x n Cholesky)."""
    f = fixed_matrix(layout, rows, h.beta)
    w = np.concatenate([f, phi_r], axis=1)
    prior = prior_covariance(layout, h, f.shape[1])
    c = w @ prior @ w.T
    c[np.diag_indices_from(c)] += h.noise**2
    try:
        chol = np.linalg.cholesky(c)
    except np.linalg.LinAlgError:
        return -np.inf
    alpha = np.linalg.solve(chol, y)
    n = len(y)
    return -0.5 * (
        float(alpha @ alpha) + 2.0 * float(np.sum(np.log(np.diag(chol)))) + n * np.log(2 * np.pi)
    )


def posterior(layout: Layout, rows: Rows, y: np.ndarray, h: Hyper, phi_r: np.ndarray) -> Posterior:
    """Exact posterior of the coefficients (weight space) and the log marginal likelihood."""
    f = fixed_matrix(layout, rows, h.beta)
    w = np.concatenate([f, phi_r], axis=1)
    prior = prior_covariance(layout, h, f.shape[1])
    s2 = h.noise**2
    # cov = (P^-1 + W'W/s2)^-1 = P - P W' (s2 I + W P W')^-1 W P  (no inverse of P needed)
    wp = w @ prior
    c = wp @ w.T
    c[np.diag_indices_from(c)] += s2
    gain = np.linalg.solve(c, wp).T
    mean = gain @ y
    cov = prior - gain @ wp
    return Posterior(mean, 0.5 * (cov + cov.T), log_evidence(layout, rows, y, h, phi_r))


def _pack(h: Hyper, blocks: Sequence[str]) -> np.ndarray:
    return np.concatenate(
        [
            [h.beta],
            np.log([h.smooth[b] for b in blocks]),
            np.log([h.independent[b] for b in blocks]),
            np.log(h.lengths),
            [np.log(h.noise)],
        ]
    )


def _unpack(x: np.ndarray, blocks: Sequence[str]) -> Hyper:
    nb = len(blocks)
    p = len(PROPERTIES)
    return Hyper(
        float(x[0]),
        {b: float(np.exp(x[1 + j])) for j, b in enumerate(blocks)},
        {b: float(np.exp(x[1 + nb + j])) for j, b in enumerate(blocks)},
        np.exp(x[1 + 2 * nb : 1 + 2 * nb + p]),
        float(np.exp(x[-1])),
    )


def _bounds(blocks: Sequence[str]) -> list[tuple[float, float]]:
    nb = len(blocks)
    return (
        [BETA_BOUNDS]
        + [LOG_SCALE_BOUNDS] * (2 * nb)
        + [LOG_LENGTH_BOUNDS] * len(PROPERTIES)
        + [LOG_SCALE_BOUNDS]
    )


def default_hyper(layout: Layout, y: np.ndarray) -> Hyper:
    """Return a neutral start: beta 1, block scales a fraction of the spread of y."""
    spread = float(np.std(y)) or 1.0
    blocks = layout.blocks
    return Hyper(
        1.0,
        {b: 0.5 * spread for b in blocks},
        {b: 0.2 * spread for b in blocks},
        np.full(len(PROPERTIES), 2.0),
        0.2 * spread,
    )


@dataclass(frozen=True)
class HierFit:
    """A fitted hierarchical model of one intermediate."""

    hyper: Hyper
    post: Posterior
    at_bounds: tuple[str, ...]


def fit(
    layout: Layout, rows: Rows, y: np.ndarray, start: Hyper | None = None, maxiter: int = 200
) -> HierFit:
    """Type-II maximum likelihood of the hyperparameters, then the exact posterior.

    Parameters
    ----------
    layout, rows, y
        Model layout, row inputs and targets (eV).
    start
        Starting hyperparameters (warm start for refits; default :func:`default_hyper`).
    maxiter
        Iterations of L-BFGS-B.
    """
    blocks = layout.blocks
    phi_r = random_matrix(layout, rows)
    x0 = _pack(start or default_hyper(layout, y), blocks)
    bounds = _bounds(blocks)
    x0 = np.clip(x0, [b[0] for b in bounds], [b[1] for b in bounds])

    def objective(x: np.ndarray) -> float:
        value = -log_evidence(layout, rows, y, _unpack(x, blocks), phi_r)
        return value if np.isfinite(value) else 1e12

    result = minimize(objective, x0, method="L-BFGS-B", bounds=bounds, options={"maxiter": maxiter})
    h = _unpack(result.x, blocks)
    names = ["beta", *[f"sd_smooth_{b}" for b in blocks], *[f"sd_metal_{b}" for b in blocks]]
    names += [f"length_{p}" for p in PROPERTIES] + ["noise"]
    at = tuple(
        n
        for n, v, (lo, hi) in zip(names, result.x, bounds, strict=True)
        if (n == "beta" and (v <= lo + 1e-6 or v >= hi - 1e-6))
        or (n != "beta" and n.startswith("length") and (v <= lo + 1e-6 or v >= hi - 1e-6))
    )
    return HierFit(h, posterior(layout, rows, y, h, phi_r), at)


def design(layout: Layout, rows: Rows, beta: float) -> np.ndarray:
    """All columns [fixed, random] of some rows."""
    return np.concatenate([fixed_matrix(layout, rows, beta), random_matrix(layout, rows)], axis=1)


def predict(
    layout: Layout, rows: Rows, beta: float, mean: np.ndarray, cov: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean dG (eV) and the std of that mean (parameter part only, eV)."""
    w = design(layout, rows, beta)
    var = np.einsum("ij,ij->i", w @ cov, w)
    return w @ mean, np.sqrt(np.maximum(var, 0.0))


def contributions(
    layout: Layout, rows: Rows, beta: float, mean: np.ndarray
) -> dict[str, np.ndarray]:
    """Additive contributions (eV) of the named terms R (intercept), A, S, C; they sum to dG."""
    f = fixed_matrix(layout, rows, beta)
    r = random_matrix(layout, rows)
    names = layout.fixed_names()
    nf = len(names)
    term_of = {"a": "R", "b": "A", "s": "S"}
    out = {t: np.zeros(len(rows.i1)) for t in ("R", "A", "S", "C")}
    for j, name in enumerate(names):
        out[term_of.get(name, "C")] += f[:, j] * mean[j]
    m = len(layout.metals)
    for k, block in enumerate(layout.blocks):
        part = r[:, k * m : (k + 1) * m] @ mean[nf + k * m : nf + (k + 1) * m]
        out[block[0]] += part
    return out
