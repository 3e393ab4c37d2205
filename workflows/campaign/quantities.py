"""The objective quantity of a campaign from adsorption free energies, vectorised.

The same function turns ARSC's predicted dG (and Monte Carlo samples of it)
and DFT's dG into the quantity the campaign ranks by, so predictions and DFT
are compared on one definition. The chemistry is :mod:`arsc.thermo`'s:
path and sum reactions (ORR, OER, HER, bifunctional) are evaluated on numpy
arrays with the network's own state energies and electron counts; network
reactions (CRR, NRR), whose branch choice differs per sample, go through
:func:`arsc.thermo.evaluate_site` one sample at a time.

Quantities (``objective.quantity`` of the definition): ``overpotential`` (V),
``limiting_potential`` (V vs RHE), ``dg`` (eV) and ``selectivity`` (eV).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

import numpy as np

from arsc.errors import ArscInputError, unknown
from arsc.thermo import load_network
from arsc.thermo.activity import SiteActivity, evaluate_site
from arsc.thermo.che import SiteFreeEnergies
from arsc.thermo.network import (
    NetworkReaction,
    PathReaction,
    ReactionNetwork,
    SumReaction,
    parse_state,
    split_step,
)
from workflows.campaign.definition import ObjectiveSpec

Arrays = Mapping[str, np.ndarray]
_TOL = 1e-9


def objective_intermediates(spec: ObjectiveSpec) -> tuple[str, ...]:
    """Return the intermediates the objective's reaction needs (first-seen order).

    Raises
    ------
    ArscInputError
        Unknown reaction, intermediate or competition.
    """
    net = load_network()
    names = net.reaction_intermediates(spec.reaction)
    if spec.quantity == "dg" and spec.intermediate not in names:
        raise unknown(f"intermediate of reaction {spec.reaction!r}", spec.intermediate, names)
    if spec.quantity == "selectivity":
        _competition(net, spec)
    return names


def _competition(net: ReactionNetwork, spec: ObjectiveSpec) -> dict[str, str]:
    rx = net.get(spec.reaction)
    comps = {} if isinstance(rx, SumReaction) else rx.selectivity
    if spec.competition not in comps:
        raise unknown(f"competition of reaction {spec.reaction!r}", spec.competition, comps)
    steps = comps[str(spec.competition)]
    if len(steps) != 2:
        raise ArscInputError(
            f"competition {spec.competition!r} has {len(steps)} labels; selectivity needs two"
        )
    return steps


def _g(net: ReactionNetwork, state: Any, dg: Arrays) -> np.ndarray:
    """Free energy of a state on arrays (the network's scalar formula broadcasts)."""
    return np.asarray(net.state_energy(state, cast(Any, dg)), dtype=np.float64)


def _path(net: ReactionNetwork, rx: PathReaction, dg: Arrays) -> tuple[np.ndarray, np.ndarray]:
    """(U_L, eta) of a path reaction on arrays (NaN where a needed dG is NaN)."""
    states = [parse_state(t) for t in rx.states]
    g = [_g(net, s, dg) for s in states]
    per, electrons = [], []
    for a, b, ga, gb in zip(states, states[1:], g, g[1:], strict=False):
        n = net.electrons(a, b)
        if abs(n) > _TOL:
            per.append(-(gb - ga) / n)
            electrons.append(n)
    u_eq = net.equilibrium_potential(states[0], states[-1])
    stack = np.stack(np.broadcast_arrays(*per))
    if electrons[0] > 0:  # reduction
        u_l = stack.min(axis=0)
        return u_l, u_eq - u_l
    u_l = stack.max(axis=0)
    return u_l, u_l - u_eq


def _direction(net: ReactionNetwork, rx: PathReaction) -> float:
    a, b = parse_state(rx.states[0]), parse_state(rx.states[-1])
    return 1.0 if net.electrons(a, b) >= 0 else -1.0


def _vector(net: ReactionNetwork, name: str, dg: Arrays) -> tuple[np.ndarray, np.ndarray] | None:
    """(U_L, eta) on arrays for path and sum reactions; None for networks."""
    rx = net.get(name)
    if isinstance(rx, PathReaction):
        return _path(net, rx, dg)
    if isinstance(rx, SumReaction):
        parts = [net.get(p) for p in rx.of]
        if not all(isinstance(p, PathReaction) for p in parts):
            return None
        u_l = eta = np.asarray(0.0)
        for part_name, part in zip(rx.of, parts, strict=True):
            assert isinstance(part, PathReaction)
            pu, pe = _path(net, part, dg)
            u_l = u_l - _direction(net, part) * pu
            eta = eta + pe
            del part_name
        return u_l, eta
    return None


def _scalar(
    net: ReactionNetwork, spec: ObjectiveSpec, dg: Arrays, pick: Callable[[SiteActivity], float]
) -> np.ndarray:
    """Evaluate a reaction one element at a time with :func:`arsc.thermo.evaluate_site`."""
    shape = np.broadcast(*dg.values()).shape
    flat = {k: np.broadcast_to(v, shape).ravel() for k, v in dg.items()}
    out = np.empty(int(np.prod(shape)))
    for i in range(out.size):
        fe = SiteFreeEnergies("x", {k: float(v[i]) for k, v in flat.items()}, {}, {}, {})
        out[i] = pick(evaluate_site(net, spec.reaction, fe))
    return out.reshape(shape)


def _pick(spec: ObjectiveSpec) -> Callable[[SiteActivity], float]:
    def pick(act: SiteActivity) -> float:
        if spec.product and act.product and act.product != spec.product:
            return spec.product_penalty
        if spec.quantity == "limiting_potential":
            return act.limiting_potential
        return act.overpotential

    return pick


def _selectivity(net: ReactionNetwork, spec: ObjectiveSpec, dg: Arrays) -> np.ndarray:
    steps = _competition(net, spec)
    values = []
    for step in steps.values():
        a, b = (parse_state(t) for t in split_step(step))
        values.append(_g(net, b, dg) - _g(net, a, dg))
    return values[0] - values[1]


def quantity(spec: ObjectiveSpec, dg: Arrays) -> np.ndarray:
    """Return the objective quantity for arrays of adsorption free energies.

    Parameters
    ----------
    spec
        The objective.
    dg
        Intermediate -> dG (eV), arrays of one shape (e.g. candidates x samples);
        NaN where unknown.

    Returns
    -------
    numpy.ndarray
        The quantity (V or eV), NaN where it cannot be computed.
    """
    net = load_network()
    arrays = {k: np.asarray(v, dtype=float) for k, v in dg.items()}
    if spec.quantity == "dg":
        return np.array(arrays[str(spec.intermediate)], dtype=float)
    if spec.quantity == "selectivity":
        return _selectivity(net, spec, arrays)
    rx = net.get(spec.reaction)
    vec = (
        None
        if spec.product or isinstance(rx, NetworkReaction)
        else _vector(net, spec.reaction, arrays)
    )
    if vec is None:
        return _scalar(net, spec, arrays, _pick(spec))
    u_l, eta = vec
    shape = np.broadcast(*arrays.values()).shape
    out = u_l if spec.quantity == "limiting_potential" else eta
    return np.broadcast_to(out, shape).astype(float)
