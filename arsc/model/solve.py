"""Constrained least squares for one intermediate: variable projection, stages, starts.

The linear parameters (a, b and the pair term p) are solved exactly by
linear least squares for every trial of the non-linear ones (beta, gamma,
c_e, kappa, shift), which :func:`scipy.optimize.least_squares` moves inside
their bounds (:data:`arsc.model.terms.BOUNDS`). gamma is searched as
w = gamma / (1 + gamma) in [0, 0.99], the weight of the partner metal.

Stages (:func:`fit_intermediate`):

1. A: on homonuclear rows in the reference environment (phi = phi_xx, so
   gamma and c_e drop out) fit a, b, beta (and the A shift), from several
   beta starts; needs rows of at least :data:`MIN_A_METALS` metals;
2. S + C: on all other rows fit gamma and the coordination exponents with
   a, b, beta, shift held at stage 1's values;
3. joint: refine every parameter on all rows from that point.

Without enough homonuclear reference rows, stage 3 runs alone from a grid
of starts.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares

from arsc.model.terms import BOUNDS, Descriptor, Design, Variant, basis, coord_param

#: Fewest metals with homonuclear reference rows for a separate A stage.
MIN_A_METALS = 4
_W_MAX = 0.99
_STARTS = {"beta": (0.5, 1.0, 2.0, 4.0), "gamma": (0.25, 1.5)}
_DEFAULT_START = {"beta": 1.0, "gamma": 0.5, "kappa": 0.0, "shift": 0.5, "c": 0.2}


@dataclass(frozen=True)
class Problem:
    """One intermediate's data and model structure.

    Attributes
    ----------
    design
        Row inputs.
    y
        Target per row, eV.
    descriptor
        The A term.
    coord_elements
        Coordination elements (columns of the design's env arrays).
    variant
        Which extension terms the model has.
    """

    design: Design
    y: np.ndarray
    descriptor: Descriptor
    coord_elements: tuple[str, ...]
    variant: Variant

    def take(self, rows: np.ndarray) -> Problem:
        """Return the same problem on a subset (or resample) of the rows."""
        return Problem(
            self.design.take(rows), self.y[rows], self.descriptor, self.coord_elements, self.variant
        )

    def reference_rows(self) -> np.ndarray:
        """Homonuclear rows whose two metals are in the reference environment."""
        d = self.design
        same = d.i1 == d.i2
        if d.env1.shape[1]:
            same &= ~np.any(d.env1 != 0, axis=1) & ~np.any(d.env2 != 0, axis=1)
        return np.flatnonzero(same)


@dataclass(frozen=True)
class Structure:
    """Which parameters a problem can identify (the rest stay at 0).

    Attributes
    ----------
    nonlinear
        Free non-linear parameters, in search order.
    linear
        Linear parameters solved exactly.
    """

    nonlinear: tuple[str, ...]
    linear: tuple[str, ...]

    @classmethod
    def of(cls, problem: Problem) -> Structure:
        """Decide from the data: gamma needs an unequal pair, c_e a varying count."""
        d = problem.design
        hetero = bool(np.any(d.i1 != d.i2))
        names = ["beta"]
        if problem.descriptor.shifted:
            names.append("shift")
        if hetero or bool(np.any(d.env1 != d.env2)):
            names.append("gamma")
        coords = [
            coord_param(e)
            for j, e in enumerate(problem.coord_elements)
            if np.any(d.env1[:, j] != 0) or np.any(d.env2[:, j] != 0)
        ]
        names += coords
        if problem.variant.coord_metal and coords:
            names.append("kappa")
        linear = ("a", "b", "p") if problem.variant.pair and hetero else ("a", "b")
        return cls(tuple(names), linear)

    @property
    def fitted(self) -> tuple[str, ...]:
        """Every free parameter, linear ones included."""
        return self.linear + self.nonlinear


def _bounds(name: str) -> tuple[float, float]:
    if name == "gamma":
        return 0.0, _W_MAX
    return BOUNDS["c"] if name.startswith("c_") else BOUNDS[name]


def _to_internal(name: str, value: float) -> float:
    lo, hi = _bounds(name)
    if name == "gamma":
        value = value / (1.0 + value)
    return float(np.clip(value, lo, hi))


def _from_internal(name: str, value: float) -> float:
    return value / (1.0 - value) if name == "gamma" else value


@dataclass
class Solution:
    """A fitted parameter set with its residual sum of squares (eV^2)."""

    params: dict[str, float]
    sse: float
    stages: list[str] = field(default_factory=list)


def _all_names(problem: Problem) -> list[str]:
    names = ["a", "b", "beta", "gamma", "shift", "kappa", "p"]
    return names + [coord_param(e) for e in problem.coord_elements]


def solve(
    problem: Problem,
    free: Sequence[str],
    linear: Sequence[str],
    start: Mapping[str, float],
    held: Mapping[str, float] | None = None,
) -> Solution:
    """Least squares over ``free`` (non-linear) from ``start``; ``linear`` solved exactly.

    Parameters
    ----------
    problem
        Data and model.
    free
        Non-linear parameters to move, within their bounds.
    linear
        Linear parameters to solve exactly; those of a, b, p not listed are
        taken from ``held`` (or 0).
    start
        Starting values of every parameter (missing: 0).
    held
        Values of parameters kept fixed; overrides ``start`` except for ``free``.
    """
    base = {n: float(start.get(n, 0.0)) for n in _all_names(problem)}
    if held:
        base.update({k: float(v) for k, v in held.items() if k not in free})
    if not problem.descriptor.shifted:
        base["shift"] = 0.0
    y = problem.y

    def evaluate(theta: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        params = dict(base)
        for name, value in zip(free, theta, strict=True):
            params[name] = _from_internal(name, float(value))
        arrays = {k: np.array([v]) for k, v in params.items()}
        lxx = problem.descriptor.log_phi_xx(arrays["shift"])
        g, q, _ = basis(problem.design, lxx, arrays, problem.coord_elements)
        columns = {"a": np.ones(len(y)), "b": g[:, 0], "p": q[:, 0]}
        rest = y - sum((params[n] * columns[n] for n in ("a", "b", "p") if n not in linear), 0.0)
        if linear:
            mat = np.column_stack([columns[n] for n in linear])
            coef = np.linalg.lstsq(mat, rest, rcond=None)[0] if np.all(np.isfinite(mat)) else None
            if coef is None:
                return params, np.full(len(y), 1e3)
            params.update({n: float(c) for n, c in zip(linear, coef, strict=True)})
            rest = rest - mat @ coef
        return params, np.where(np.isfinite(rest), rest, 1e3)

    if free:
        x0 = np.array([_to_internal(n, base[n]) for n in free])
        lo, hi = np.array([_bounds(n) for n in free]).T
        x0 = np.clip(x0, lo, hi)
        result = least_squares(lambda t: evaluate(t)[1], x0, bounds=(lo, hi), method="trf")
        theta = result.x
    else:
        theta = np.array([])
    params, resid = evaluate(theta)
    return Solution(params, float(resid @ resid))


def _grid(free: Sequence[str], start: Mapping[str, float]) -> list[dict[str, float]]:
    axes = [name for name in ("beta", "gamma") if name in free]
    starts = []
    for combo in itertools.product(*(_STARTS[a] for a in axes)):
        point = dict(start)
        point.update(dict(zip(axes, combo, strict=True)))
        starts.append(point)
    return starts


def multistart(
    problem: Problem,
    free: Sequence[str],
    linear: Sequence[str],
    start: Mapping[str, float],
    held: Mapping[str, float] | None = None,
) -> Solution:
    """Best of :func:`solve` from a grid of beta and gamma starts."""
    best: Solution | None = None
    for point in _grid(free, start):
        sol = solve(problem, free, linear, point, held)
        if best is None or sol.sse < best.sse:
            best = sol
    assert best is not None
    return best


def default_start(structure: Structure) -> dict[str, float]:
    """Neutral starting values of the free non-linear parameters."""
    return {
        n: _DEFAULT_START["c"] if n.startswith("c_") else _DEFAULT_START[n]
        for n in structure.nonlinear
    }


def fit_intermediate(problem: Problem, structure: Structure | None = None) -> Solution:
    """Fit one intermediate in stages (see the module docstring).

    Returns
    -------
    Solution
        Every named parameter (unidentifiable ones at 0), the SSE and a
        one-line description of each stage run.
    """
    st = Structure.of(problem) if structure is None else structure
    start = default_start(st)
    ref = problem.reference_rows()
    n_metals = len(np.unique(problem.design.i1[ref]))
    rest = np.setdiff1d(np.arange(len(problem.y)), ref)
    if n_metals >= MIN_A_METALS and len(rest):
        a_free = [n for n in st.nonlinear if n in ("beta", "shift")]
        stage_a = multistart(problem.take(ref), a_free, ("a", "b"), start)
        sc_free = [n for n in st.nonlinear if n not in a_free]
        sc_linear = tuple(n for n in st.linear if n == "p")
        stage_sc = multistart(
            problem.take(rest), sc_free, sc_linear, {**start, **stage_a.params}, stage_a.params
        )
        final = solve(problem, st.nonlinear, st.linear, stage_sc.params)
        final.stages = [
            f"A: a, b, {', '.join(a_free)} on {len(ref)} homonuclear reference rows "
            f"({n_metals} metals)",
            f"S+C: {', '.join(sc_free + list(sc_linear)) or 'nothing free'} on {len(rest)} "
            "other rows, A and R held",
            f"joint: all {len(st.fitted)} free parameters on {len(problem.y)} rows",
        ]
        return final
    final = multistart(problem, st.nonlinear, st.linear, start)
    why = f"{n_metals} metals with homonuclear reference rows (< {MIN_A_METALS})"
    if not len(rest):
        why = "only homonuclear reference rows"
    final.stages = [
        f"joint: all {len(st.fitted)} free parameters on {len(problem.y)} rows from "
        f"{len(_grid(st.nonlinear, start))} starts ({why})"
    ]
    return final


def refit(problem: Problem, structure: Structure, start: Mapping[str, float]) -> Solution:
    """One joint fit from ``start`` (ensemble members start at the full-data fit)."""
    return solve(problem, structure.nonlinear, structure.linear, start)
