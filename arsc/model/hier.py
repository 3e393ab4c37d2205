"""The hierarchical ARSC variant: named A, S, C, R terms that learn from data, with a prior.

For a site with binding metal x, partner y, intermediate z, first-shell
counts e(x) of each metal (relative to the reference shell) and an optional
categorical ``motif``:

    dG_z = a                                                 R: intercept
         + b T_beta(phi_xx(x)) + A(x)                        A: intrinsic prior + learned term
         + s (T_beta(phi_xx(y)) - T_beta(phi_xx(x))) + S(y) + P(x, y)     S: partner, pair
         + C(e(x)) + C(x, e(x))                              C: own first shell
         + sum_e c2_e e(y) + m(motif) + M(x, motif)           C: partner's shell, motif

with the Box-Cox form T_beta(phi) = (phi**beta - 1) / beta of the R term,
whose beta -> 0 limit is ln phi (finite: no cancelling huge a and b).
phi_xx is the intrinsic-property descriptor (a PFESS formula of the element
table): the prior. The learned terms are Gaussian processes over the
metals' standardised intrinsic properties (n, S, d, IE, X, R; one length
scale each, kernel K):

- A(x):    sd_smooth_A^2 K(x, x') + sd_metal_A^2 [x = x']
  (a metal with data gets its own deviation, shrunk towards the prior; a
  metal without data is predicted from its properties through K, and its
  uncertainty grows the further it lies from the training metals);
- S(y):    the same for the partner (heteronuclear tables);
- P(x, y): sd_pair^2 K(x, x') K(y, y'), a smooth pair interaction;
- C(e), C(x, e): sd_shell^2 k(e, e') + sd_coord^2 K(x, x') k(e, e'), the
  first-shell effect common to all metals and the part that depends on the
  metal, both smooth in the first-shell counts (k: exponential,
  exp(-|e - e'| / l), Euclidean distance of the count vectors, with l the
  largest distance two first shells of the table's size can have,
  :func:`shell_length`; fixed, not fitted). Smooth terms rather than fixed
  linear slopes in the counts: on sac-hoer, leaving one N count out, linear
  slopes extrapolated worse (MAE about 0.65 against 0.59 eV). The
  exponential kernel with a length as long as the count range behaves like
  a random walk in the counts (Rue & Held, Gaussian Markov Random Fields,
  2005, the RW1 prior of ordinal covariates): between two known shells it
  interpolates, beyond the last one it stays at its level with a growing
  uncertainty, instead of reverting to the prior mean as the squared
  exponential does (docs/model.md: the measured choice);
- m(motif), M(x, motif): sd_motif^2 [motif = motif'] + (sd_smooth_M^2 K(x, x')
  + sd_metal_M^2 [x = x']) [motif = motif'], the motif's own offset and each
  metal's response to it (tables with a ``motif`` column). Random effects,
  shrunk towards zero, not fixed coefficients: a motif absent from the
  training rows is then predicted from its first-shell counts (the C terms)
  with an uncertainty of sd_motif, instead of taking an undetermined fixed
  coefficient (zero, with the prior's 100 eV std); the counts, no longer
  confounded with free motif offsets, carry the shell effect.

The named fixed coefficients get a wide Gaussian prior. The model is a
Gaussian process whose covariance is the sum of these parts; the
hyperparameters (block scales, length scales, noise) maximise the marginal
likelihood times a log-normal hyperprior on the noise (:data:`NOISE_PRIOR_MEDIAN`;
MAP-II), with analytic gradients, and beta is chosen from
:data:`BETA_GRID` by the marginal likelihood. Each part's posterior
mean is its additive contribution, so every prediction reads as R + A + S +
C.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.linalg import cho_factor, cho_solve, lapack, solve_triangular
from scipy.optimize import minimize

from arsc.elements import d_block, load_elements
from arsc.model.terms import boxcox

#: Intrinsic element properties of the kernel over metals (arsc/data/elements.yaml for units).
PROPERTIES: tuple[str, ...] = ("n", "S", "d", "IE", "X", "R")
#: Prior variance of the fixed coefficients, eV^2 per unit of the column (wide).
FIXED_PRIOR_VAR = 1.0e4
#: Values of beta of the R term tried (Box-Cox exponent; 0 is ln phi).
BETA_GRID: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0)
#: Bounds of the log standard deviations (ln eV) and of the log length scales.
LOG_SCALE_BOUNDS = (np.log(1e-3), np.log(30.0))
LOG_LENGTH_BOUNDS = (np.log(0.3), np.log(30.0))
#: Bounds of ln noise (eV): DFT adsorption energies are not reproducible below about 0.01 eV.
LOG_NOISE_BOUNDS = (np.log(0.01), np.log(30.0))
#: Hyperprior of the noise std: ln(noise / eV) ~ Normal(ln NOISE_PRIOR_MEDIAN, NOISE_PRIOR_SD^2).
#: Type-II maximum likelihood alone put the noise at its 0.01 eV floor on
#: some intermediates (interpolating the data) and at 0.4 eV on others
#: (explaining a metal's shell response as noise); the prior says that what
#: no smooth term of the site explains is of order 0.1 eV (docs/model.md).
NOISE_PRIOR_MEDIAN = 0.1
NOISE_PRIOR_SD = 0.5
#: Rows used to choose the hyperparameters of a large table (the posterior uses every row).
MAX_HYPER_ROWS = 800
#: Added to the diagonal of every training covariance (eV^2), for a stable factorisation.
JITTER = 1e-8
#: Relative change of the negative log-likelihood at which the hyperparameter search stops.
FTOL = 1e-6


@dataclass(frozen=True)
class Layout:
    """What the model reads of a table, fixed at fit time (and stored in the model file).

    Attributes
    ----------
    metals
        Metals the model knows (the element table's, with a finite prior).
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
        Whether the partner terms are on: some training row has metal1 != metal2.
    shell_length
        Length of the first-shell kernel, counts (:func:`shell_length`).
    """

    metals: tuple[str, ...]
    log_phi: np.ndarray
    props: np.ndarray
    coord_elements: tuple[str, ...]
    reference: np.ndarray
    motifs: tuple[str, ...]
    hetero: bool
    shell_length: float = 1.0

    @property
    def scales(self) -> tuple[str, ...]:
        """Names of the block standard deviations, in hyperparameter order."""
        names = ["sd_smooth_A", "sd_metal_A"]
        if self.hetero:
            names += ["sd_smooth_S", "sd_metal_S", "sd_pair"]
        if self.coord_elements:
            names += ["sd_shell", "sd_coord"]
        if len(self.motifs) > 1:
            names += ["sd_motif", "sd_smooth_M", "sd_metal_M"]
        return tuple(names)

    @property
    def hyper_names(self) -> tuple[str, ...]:
        """Every log-hyperparameter name, in optimisation order."""
        lengths = [f"length_{p}" for p in PROPERTIES]
        return (*self.scales, *lengths, "noise")

    def fixed_names(self) -> list[str]:
        """Names of the fixed coefficients, in column order."""
        names = ["a", "b"]
        if self.hetero:
            names.append("s")
        if self.hetero:
            names += [f"c2_{e}" for e in self.coord_elements]
        return names


@dataclass(frozen=True)
class Rows:
    """Row inputs: metal indices into the layout, own and partner shell offsets, motif codes."""

    i1: np.ndarray
    i2: np.ndarray
    env1: np.ndarray
    env2: np.ndarray
    motif: np.ndarray

    def __len__(self) -> int:
        return len(self.i1)

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
    shell_size: float = 1.0,
) -> Layout:
    """Build the layout from the A descriptor, the element table and the training table's shape.

    ``shell_size`` is the number of first-shell positions (the largest total
    count of a row), which sets :func:`shell_length`.
    """
    table = load_elements(elements) if isinstance(elements, str) else elements
    keep = [i for i, s in enumerate(descriptor_symbols) if np.isfinite(log_phi[i])]
    metals = tuple(descriptor_symbols[i] for i in keep)
    raw = table.loc[list(metals), list(PROPERTIES)].to_numpy(float)
    ref = raw[d_block(table.loc[list(metals)])]  # standardise on the d-block metals
    ref = ref if len(ref) > 1 else raw
    sd = ref.std(axis=0)
    props = (raw - ref.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    return Layout(
        metals,
        np.asarray(log_phi, dtype=float)[keep],
        props,
        tuple(coord_elements),
        np.asarray(reference, dtype=float),
        tuple(motifs),
        hetero,
        shell_length(shell_size),
    )


def shell_length(positions: float) -> float:
    """Return the first-shell kernel length (counts): sqrt(2) x the first-shell positions.

    The largest distance between two first shells of ``positions`` atoms (all
    of one element against all of another), so that any two shells correlate
    by at least exp(-1): the shell effect varies over the whole range like a
    random walk, and an unseen shell is predicted near its nearest seen one.
    At least one count.
    """
    return float(np.sqrt(2.0) * max(float(positions), 1.0 / np.sqrt(2.0)))


def fixed_matrix(layout: Layout, rows: Rows, beta: float) -> np.ndarray:
    """Fixed-effect columns (order of :meth:`Layout.fixed_names`)."""
    t = boxcox(layout.log_phi, beta)
    t1, t2 = t[rows.i1], t[rows.i2]
    cols = [np.ones(len(t1)), t1]
    if layout.hetero:
        cols.append(t2 - t1)
    if layout.hetero:
        cols += list(rows.env2.T)
    return np.column_stack(cols)


@dataclass(frozen=True)
class Hyper:
    """Hyperparameters: beta, block standard deviations (eV), length scales, noise (eV)."""

    beta: float
    values: dict[str, float]

    def to_dict(self) -> dict[str, float]:
        """Flat named floats (as stored in the model file)."""
        return {"beta": self.beta, **self.values}

    def log_vector(self, layout: Layout) -> np.ndarray:
        """Ln of every hyperparameter but beta, in :attr:`Layout.hyper_names` order."""
        return np.log([self.values[n] for n in layout.hyper_names])

    @classmethod
    def from_log_vector(cls, layout: Layout, beta: float, x: np.ndarray) -> Hyper:
        """Inverse of :meth:`log_vector`."""
        return cls(beta, {n: float(np.exp(v)) for n, v in zip(layout.hyper_names, x, strict=True)})


def default_hyper(layout: Layout, y: np.ndarray) -> Hyper:
    """Return a neutral start: block scales a fraction of the spread of y, lengths 2."""
    spread = float(np.std(y)) or 1.0
    values = {n: (0.5 if "smooth" in n else 0.2) * spread for n in layout.scales}
    values.update({f"length_{p}": 2.0 for p in PROPERTIES})
    values["noise"] = 0.2 * spread
    return Hyper(0.0, values)


def starting_points(layout: Layout, y: np.ndarray) -> list[Hyper]:
    """Return starts of the hyperparameter search: the neutral one, and long length scales.

    Small tables (a few metals or first shells) have several likelihood maxima;
    the best of both runs is kept.
    """
    first = default_hyper(layout, y)
    long = dict(first.values)
    long.update({n: 8.0 for n in long if n.startswith("length")})
    return [first, Hyper(first.beta, long)]


def _gather(k: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Return k[rows][:, cols] (two takes: several times faster than ``np.ix_``)."""
    return np.take(np.take(k, rows, axis=0), cols, axis=1)


def _sqdist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a[:, None] - b[None, :]) ** 2


@dataclass
class Parts:
    """Covariance parts between two row sets (each of shape (len(A), len(B)))."""

    fixed: np.ndarray
    kx: np.ndarray
    dx: np.ndarray
    ky: np.ndarray
    dy: np.ndarray
    ke: np.ndarray
    dm: np.ndarray
    gm: list[np.ndarray]


@dataclass(frozen=True)
class Static:
    """The covariance parts between two row sets that no fitted hyperparameter but beta changes.

    A hyperparameter search evaluates the likelihood many times on the same
    rows and beta; these are computed once per search.
    """

    fixed: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    dm: np.ndarray
    ke: np.ndarray


def static_parts(layout: Layout, a: Rows, b: Rows, beta: float) -> Static:
    """Return the fixed part, same-metal and same-motif indicators, the shell kernel."""
    fa, fb = fixed_matrix(layout, a, beta), fixed_matrix(layout, b, beta)
    dx = (a.i1[:, None] == b.i1[None, :]).astype(float)
    dy = (a.i2[:, None] == b.i2[None, :]).astype(float) if layout.hetero else np.zeros_like(dx)
    ke = np.zeros_like(dx)
    if layout.coord_elements:  # exp(-|e - e'| / l), l fixed (shell_length): no fitted parameter
        for j in range(a.env1.shape[1]):
            ke += _sqdist(a.env1[:, j], b.env1[:, j])
        ke = np.exp(-np.sqrt(ke) / layout.shell_length)
    dm = (a.motif[:, None] == b.motif[None, :]).astype(float)
    return Static(FIXED_PRIOR_VAR * fa @ fb.T, dx, dy, dm, ke)


def parts(layout: Layout, a: Rows, b: Rows, h: Hyper, static: Static | None = None) -> Parts:
    """Return the kernel parts of :func:`covariance` and the length-scale factors.

    The metal kernel and its per-property factors (``gm``, the scaled squared
    distances that the length-scale gradients need) are computed once on the
    metals (small matrices); only the kernel is gathered for the rows.
    ``static`` (:func:`static_parts` of the same rows and beta) saves
    recomputing what no other hyperparameter changes; its arrays are shared
    with the returned parts, not copied.
    """
    st = static or static_parts(layout, a, b, h.beta)
    lengths = np.array([h.values[f"length_{p}"] for p in PROPERTIES])
    scaled = layout.props / lengths
    g_metal = [_sqdist(scaled[:, k], scaled[:, k]) for k in range(len(PROPERTIES))]
    k_metal = np.exp(-0.5 * np.sum(g_metal, axis=0))
    kx = _gather(k_metal, a.i1, b.i1)
    ky = _gather(k_metal, a.i2, b.i2) if layout.hetero else np.zeros_like(kx)
    return Parts(st.fixed, kx, st.dx, ky, st.dy, st.ke, st.dm, g_metal)


def blocks(layout: Layout, p: Parts, h: Hyper) -> dict[str, np.ndarray]:
    """Covariance of each named learned part, eV^2 (the fixed part under ``fixed``)."""
    v = h.values
    out = {
        "fixed": p.fixed,
        "sd_smooth_A": v["sd_smooth_A"] ** 2 * p.kx,
        "sd_metal_A": v["sd_metal_A"] ** 2 * p.dx,
    }
    if layout.hetero:
        out["sd_smooth_S"] = v["sd_smooth_S"] ** 2 * p.ky
        out["sd_metal_S"] = v["sd_metal_S"] ** 2 * p.dy
        out["sd_pair"] = v["sd_pair"] ** 2 * p.kx * p.ky
    if layout.coord_elements:
        out["sd_shell"] = v["sd_shell"] ** 2 * p.ke
        out["sd_coord"] = v["sd_coord"] ** 2 * p.kx * p.ke
    if len(layout.motifs) > 1:
        out["sd_motif"] = v["sd_motif"] ** 2 * p.dm
        out["sd_smooth_M"] = v["sd_smooth_M"] ** 2 * p.kx * p.dm
        out["sd_metal_M"] = v["sd_metal_M"] ** 2 * p.dx * p.dm
    return out


#: The ARSC term each covariance part (and fixed coefficient) belongs to.
TERM_OF = {
    "sd_smooth_A": "A",
    "sd_metal_A": "A",
    "sd_smooth_S": "S",
    "sd_metal_S": "S",
    "sd_pair": "S",
    "sd_coord": "C",
    "sd_shell": "C",
    "sd_motif": "C",
    "sd_smooth_M": "C",
    "sd_metal_M": "C",
    "a": "R",
    "b": "A",
    "s": "S",
}


def covariance(layout: Layout, a: Rows, b: Rows, h: Hyper) -> np.ndarray:
    """Prior covariance of dG between two row sets (no noise), eV^2.

    The sum of :func:`blocks`, accumulated in place (prediction builds it for
    every candidate and training row each round).
    """
    p, v = parts(layout, a, b, h), h.values
    out = p.fixed
    out += v["sd_smooth_A"] ** 2 * p.kx
    out += v["sd_metal_A"] ** 2 * p.dx
    if layout.hetero:
        out += v["sd_smooth_S"] ** 2 * p.ky
        out += v["sd_metal_S"] ** 2 * p.dy
        out += v["sd_pair"] ** 2 * (p.kx * p.ky)
    if layout.coord_elements:
        out += p.ke * (v["sd_shell"] ** 2 + v["sd_coord"] ** 2 * p.kx)
    if len(layout.motifs) > 1:
        out += p.dm * (
            v["sd_motif"] ** 2 + v["sd_smooth_M"] ** 2 * p.kx + v["sd_metal_M"] ** 2 * p.dx
        )
    return out


def training_covariance(layout: Layout, rows: Rows, h: Hyper) -> np.ndarray:
    """Prior covariance of the rows with the noise variance and JITTER on its diagonal, eV^2."""
    c = covariance(layout, rows, rows, h)
    c[np.diag_indices(len(rows))] += h.values["noise"] ** 2 + JITTER
    return c


def _neg_log_evidence(
    x: np.ndarray, layout: Layout, rows: Rows, y: np.ndarray, beta: float, static: Static
) -> tuple[float, np.ndarray]:
    """-log p(y) - log p(noise) and its gradient in the log-hyperparameters (MAP-II)."""
    h = Hyper.from_log_vector(layout, beta, x)
    p = parts(layout, rows, rows, h, static)
    bl = blocks(layout, p, h)
    c: np.ndarray = np.sum(list(bl.values()), axis=0)
    n = len(y)
    c[np.diag_indices(n)] += h.values["noise"] ** 2 + JITTER
    try:
        factor = cho_factor(c, lower=True)
    except np.linalg.LinAlgError:
        return 1e10, np.zeros_like(x)
    alpha = cho_solve(factor, y)
    value = 0.5 * float(y @ alpha) + float(np.sum(np.log(np.diag(factor[0]))))
    w = np.outer(alpha, alpha) - _inverse(factor[0])
    grad = np.zeros_like(x)
    names = layout.hyper_names
    smooth_x = ("sd_smooth_A", "sd_pair", "sd_coord", "sd_smooth_M")
    # d C / d ln length_k = (parts smooth in metal 1) * g_k(x, x') + (metal 2) * g_k(y, y'),
    # g_k a function of the metals only: sum W * that over rows = sum over metal pairs of
    # (W * parts, summed by metal pair) * g_k (one aggregation instead of a gather per k)
    nm = len(layout.metals)
    x_parts = _by_metal(rows.i1, nm, w * sum(bl[k] for k in bl if k in smooth_x))
    y_parts = (
        _by_metal(rows.i2, nm, w * (bl["sd_smooth_S"] + bl["sd_pair"])) if layout.hetero else None
    )
    for j, name in enumerate(names):
        if name in bl:
            d = 2.0 * bl[name]
        elif name == "noise":
            grad[j] = -0.5 * 2.0 * h.values["noise"] ** 2 * float(np.trace(w))
            continue
        else:
            g = p.gm[PROPERTIES.index(name.removeprefix("length_"))]
            total = float(np.vdot(x_parts, g))
            if y_parts is not None:
                total += float(np.vdot(y_parts, g))
            grad[j] = -0.5 * total
            continue
        grad[j] = -0.5 * float(np.vdot(w, d))
    z = (np.log(h.values["noise"]) - np.log(NOISE_PRIOR_MEDIAN)) / NOISE_PRIOR_SD
    grad[names.index("noise")] += z / NOISE_PRIOR_SD
    return value + 0.5 * z * z, grad


def _inverse(lower: np.ndarray) -> np.ndarray:
    """Inverse of L L' from its lower Cholesky factor L (LAPACK potri: a third of two solves)."""
    inv, info = lapack.dpotri(lower, lower=1)
    if info:
        raise np.linalg.LinAlgError(f"potri failed (info {info})")
    return np.tril(inv) + np.tril(inv, -1).T


def _by_metal(index: np.ndarray, n_metals: int, values: np.ndarray) -> np.ndarray:
    """Sum a rows x rows matrix over the metal pairs of its rows: shape (metals, metals)."""
    flat = (index[:, None] * n_metals + index[None, :]).ravel()
    return np.bincount(flat, values.ravel(), n_metals * n_metals).reshape(n_metals, n_metals)


@dataclass(frozen=True)
class HierFit:
    """A fitted hierarchical model of one intermediate: hyperparameters and the GP weights.

    ``chol`` is the lower Cholesky factor of the training covariance (noise
    in) when the fit computed it; prediction reuses it instead of factorising
    again (it is not stored in the model file).
    """

    hyper: Hyper
    rows: Rows
    y: np.ndarray
    alpha: np.ndarray
    log_evidence: float
    at_bounds: tuple[str, ...]
    chol: np.ndarray | None = field(default=None, repr=False, compare=False)


def _bounds(name: str) -> tuple[float, float]:
    if name == "noise":
        return LOG_NOISE_BOUNDS
    return LOG_LENGTH_BOUNDS if name.startswith("length") else LOG_SCALE_BOUNDS


def _optimise(
    layout: Layout, rows: Rows, y: np.ndarray, beta: float, x0: np.ndarray, maxiter: int
) -> tuple[np.ndarray, float]:
    bounds = [_bounds(n) for n in layout.hyper_names]
    lo, hi = np.array(bounds).T
    result = minimize(
        _neg_log_evidence,
        np.clip(x0, lo, hi),
        args=(layout, rows, y, beta, static_parts(layout, rows, rows, beta)),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": maxiter, "ftol": FTOL},
    )
    return result.x, float(result.fun)


def solve(
    layout: Layout, rows: Rows, y: np.ndarray, h: Hyper
) -> tuple[np.ndarray, float, np.ndarray]:
    """GP weights alpha = C^-1 y, the log marginal likelihood and the lower Cholesky factor."""
    factor = cho_factor(training_covariance(layout, rows, h), lower=True)
    alpha = cho_solve(factor, y)
    log_ev = -0.5 * float(y @ alpha) - float(np.sum(np.log(np.diag(factor[0]))))
    return alpha, log_ev - 0.5 * len(y) * np.log(2 * np.pi), np.tril(factor[0])


def fitted_weights(layout: Layout, rows: Rows, y: np.ndarray, h: Hyper) -> HierFit:
    """Return a :class:`HierFit` at fixed hyperparameters (only the weights solved)."""
    alpha, log_ev, chol = solve(layout, rows, y, h)
    return HierFit(h, rows, y, alpha, log_ev, (), chol)


def fit(
    layout: Layout,
    rows: Rows,
    y: np.ndarray,
    start: Hyper | None = None,
    maxiter: int = 150,
    seed: int = 0,
    max_rows: int = MAX_HYPER_ROWS,
) -> HierFit:
    """MAP-II hyperparameters (likelihood x noise hyperprior), then the GP weights on every row.

    Parameters
    ----------
    layout, rows, y
        Model layout, row inputs and targets (eV).
    start
        Starting hyperparameters (warm start for refits; default: the best of
        :func:`starting_points`, and then every beta of :data:`BETA_GRID` is
        tried; a warm start keeps its beta).
    maxiter
        Iterations of L-BFGS-B.
    seed
        Seed of the row subsample used for the hyperparameters of a large table.
    max_rows
        Most rows the hyperparameter search sees (a random subsample of larger
        tables); the GP weights use every row.
    """
    sub = np.arange(len(y))
    if len(y) > max_rows:
        sub = np.sort(np.random.default_rng(seed).choice(len(y), max_rows, replace=False))
    hrows, hy = rows.take(sub), y[sub]
    starts = [start] if start is not None else starting_points(layout, y)
    runs = [_optimise(layout, hrows, hy, h.beta, h.log_vector(layout), maxiter) for h in starts]
    k = int(np.argmin([value for _, value in runs]))
    best = Hyper.from_log_vector(layout, starts[k].beta, runs[k][0])
    if start is None:
        scored = []
        for beta in BETA_GRID:
            trial = Hyper(beta, best.values)
            scored.append((solve(layout, hrows, hy, trial)[1], beta))
        best = Hyper(max(scored)[1], best.values)
    alpha, log_ev, chol = solve(layout, rows, y, best)
    at = tuple(
        n
        for n in layout.hyper_names
        if (n.startswith("length") or n == "noise")
        and min(abs(np.log(best.values[n]) - b) for b in _bounds(n)) < 1e-3
    )
    return HierFit(best, rows, y, alpha, log_ev, at, chol)


def predict(
    layout: Layout, fitted: HierFit, rows: Rows, with_std: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean dG (eV) and the std of that mean (without the noise), eV."""
    h = fitted.hyper
    cross = covariance(layout, rows, fitted.rows, h)
    mean = cross @ fitted.alpha
    if not with_std:
        return mean, np.full(len(mean), np.nan)
    chol = fitted.chol
    if chol is None:
        chol = np.linalg.cholesky(training_covariance(layout, fitted.rows, h))
    # var = prior - cross C^-1 cross^T on the diagonal = prior - |L^-1 cross^T|^2 per column
    v = solve_triangular(chol, cross.T, lower=True, check_finite=False)
    var = prior_diag(layout, rows, h) - np.einsum("ij,ij->j", v, v)
    return mean, np.sqrt(np.maximum(var, 0.0))


def prior_diag(layout: Layout, rows: Rows, h: Hyper) -> np.ndarray:
    """Prior variance of each row (the covariance diagonal), in closed form.

    On the diagonal every kernel factor is 1 except the linear ones: the
    fixed part (FIXED_PRIOR_VAR |f|^2).
    """
    f = fixed_matrix(layout, rows, h.beta)
    scales = sum(v**2 for k, v in h.values.items() if k.startswith("sd_"))
    return FIXED_PRIOR_VAR * np.einsum("ij,ij->i", f, f) + scales


def loo_z(layout: Layout, fitted: HierFit, groups: np.ndarray | None = None) -> np.ndarray:
    """Leave-one-out z-scores of the training rows, (y_i - mu_-i) / sigma_-i (closed form).

    For a GP, leaving out the block B of rows gives mu_B = y_B - [C^-1]_BB^-1 alpha_B
    and Sigma_B = [C^-1]_BB^-1 (noise included; Rasmussen and Williams, Gaussian
    Processes for Machine Learning, 2006, sec. 5.4.2). ``groups`` (one label per
    row) leaves out whole groups, e.g. every row of a metal pair; default: rows.
    """
    h = fitted.hyper
    c = training_covariance(layout, fitted.rows, h)
    inv = cho_solve(cho_factor(c, lower=True), np.eye(len(fitted.y)))
    if groups is None:
        return fitted.alpha / np.sqrt(np.diag(inv))
    z = np.empty(len(fitted.y))
    for g in np.unique(groups):
        b = np.flatnonzero(groups == g)
        block = np.linalg.inv(inv[np.ix_(b, b)])
        resid = block @ fitted.alpha[b]
        z[b] = resid / np.sqrt(np.maximum(np.diag(block), 1e-300))
    return z


def fixed_coefficients(layout: Layout, fitted: HierFit) -> np.ndarray:
    """Posterior mean of the fixed coefficients (order of :meth:`Layout.fixed_names`)."""
    f = fixed_matrix(layout, fitted.rows, fitted.hyper.beta)
    return FIXED_PRIOR_VAR * f.T @ fitted.alpha


def motif_effects(layout: Layout, fitted: HierFit) -> dict[str, float]:
    """Posterior mean of each training motif's own offset m(motif), eV (empty without motifs).

    The offsets are random effects centred on zero; only their differences
    are determined by the data (a common shift is the intercept's).
    """
    if len(layout.motifs) <= 1:
        return {}
    var = fitted.hyper.values["sd_motif"] ** 2
    sums = np.bincount(fitted.rows.motif, fitted.alpha, len(layout.motifs))
    return {m: float(var * sums[k]) for k, m in enumerate(layout.motifs)}


def contributions(layout: Layout, fitted: HierFit, rows: Rows) -> dict[str, np.ndarray]:
    """Additive contributions (eV) of R, A, S, C to the posterior mean; they sum to dG."""
    h = fitted.hyper
    out = {t: np.zeros(len(rows)) for t in ("R", "A", "S", "C")}
    coef = fixed_coefficients(layout, fitted)
    f = fixed_matrix(layout, rows, h.beta)
    for j, name in enumerate(layout.fixed_names()):
        out[TERM_OF.get(name, "C")] += f[:, j] * coef[j]
    bl = blocks(layout, parts(layout, rows, fitted.rows, h), h)
    for name, cov in bl.items():
        if name != "fixed":
            out[TERM_OF[name]] += cov @ fitted.alpha
    return out
