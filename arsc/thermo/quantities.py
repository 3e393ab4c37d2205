"""Quantities of a reaction from arrays of adsorption free energies (vectorised).

One call turns arrays of dG (one site, many sites, sites x Monte Carlo
samples) into a quantity of a reaction, on the same definition as
:func:`arsc.thermo.evaluate_site` site by site: path and sum reactions
(ORR, OER, HER, bifunctional) are evaluated on numpy arrays with the
network's own state energies and electron counts; network reactions (CRR,
NRR), whose branch choice differs per element, and any request naming a
``product``, go through :func:`arsc.thermo.evaluate_site` one element at a
time.

The quantities are a registry (:data:`QUANTITIES`, name -> :class:`Quantity`):
its unit, its axis label, the request field it needs, its check and its
evaluator.

``overpotential``
    thermodynamic overpotential, V (for a sum: the sum of its parts'); with
    ``product`` set, an element whose path reaches another product gets
    ``product_penalty``;
``limiting_potential``
    U_L, V vs RHE (same product rule);
``dg``
    adsorption free energy of ``intermediate``, eV;
``selectivity``
    for competition ``competition`` of the reaction, the step free energy of
    its first label minus that of its second, eV (negative: the first wins).

Examples
--------
>>> import numpy as np
>>> from arsc.thermo.quantities import QuantitySpec, evaluate_quantity
>>> dg = {"OH": np.array([0.8, 1.0]), "O": np.array([2.0, 2.4]), "OOH": np.array([3.9, 4.2])}
>>> evaluate_quantity(QuantitySpec("orr"), dg).round(2).tolist()
[0.43, 0.51]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

import numpy as np

from arsc.errors import ArscInputError, unknown
from arsc.thermo.activity import SiteActivity, evaluate_site
from arsc.thermo.che import SiteFreeEnergies
from arsc.thermo.network import (
    NetworkReaction,
    PathReaction,
    ReactionNetwork,
    SumReaction,
    load_network,
    parse_state,
    split_step,
)

__all__ = [
    "QUANTITIES",
    "Arrays",
    "Quantity",
    "QuantityRequest",
    "QuantitySpec",
    "evaluate_quantity",
    "quantity_intermediates",
    "quantity_label",
    "quantity_unit",
]

#: Intermediate -> dG (eV), arrays of one broadcastable shape; NaN where unknown.
Arrays = Mapping[str, np.ndarray]
_TOL = 1e-9


class QuantityRequest(Protocol):
    """Which quantity of which reaction (a campaign's objective is one)."""

    @property
    def reaction(self) -> str:
        """Reaction name of ``reactions.yaml``."""
        ...

    @property
    def quantity(self) -> str:
        """Name in :data:`QUANTITIES`."""
        ...

    @property
    def intermediate(self) -> str | None:
        """Intermediate of ``dg``."""
        ...

    @property
    def competition(self) -> str | None:
        """Selectivity competition of ``selectivity``."""
        ...

    @property
    def product(self) -> str | None:
        """Product the network path must reach (None: any)."""
        ...

    @property
    def product_penalty(self) -> float:
        """Value of an element whose path reaches another product."""
        ...


@dataclass(frozen=True)
class QuantitySpec:
    """A plain :class:`QuantityRequest`."""

    reaction: str
    quantity: str = "overpotential"
    intermediate: str | None = None
    competition: str | None = None
    product: str | None = None
    product_penalty: float = 2.0


Evaluator = Callable[[ReactionNetwork, QuantityRequest, dict[str, np.ndarray]], np.ndarray]
Check = Callable[[ReactionNetwork, QuantityRequest, tuple[str, ...]], None]
Label = Callable[[ReactionNetwork, QuantityRequest], str]


@dataclass(frozen=True)
class Quantity:
    """One kind of quantity (an entry of :data:`QUANTITIES`).

    Attributes
    ----------
    unit
        ``"V"`` or ``"eV"``.
    label
        Axis label of a request (e.g. ``"η_ORR + η_OER"``).
    evaluate
        (network, request, dG arrays) -> the quantity, NaN where it cannot be computed.
    check
        (network, request, the reaction's intermediates) -> None; raises
        :class:`arsc.errors.ArscInputError` naming the allowed values.
    needs
        Request field the quantity needs besides the reaction (None: none).
    """

    unit: str
    label: Label
    evaluate: Evaluator
    check: Check
    needs: str | None = None


# ---- evaluation on arrays ---------------------------------------------------------------


def _g(net: ReactionNetwork, state: Any, dg: Arrays) -> np.ndarray:
    """Free energy of a state on arrays (the network's scalar formula broadcasts)."""
    return np.asarray(net.state_energy(state, cast(Any, dg)), dtype=np.float64)


def _path(net: ReactionNetwork, rx: PathReaction, dg: Arrays) -> dict[str, np.ndarray]:
    """U_L and eta of a path reaction on arrays (NaN where a needed dG is NaN)."""
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
        return {"limiting_potential": u_l, "overpotential": u_eq - u_l}
    u_l = stack.max(axis=0)
    return {"limiting_potential": u_l, "overpotential": u_l - u_eq}


def _direction(net: ReactionNetwork, rx: PathReaction) -> float:
    a, b = parse_state(rx.states[0]), parse_state(rx.states[-1])
    return 1.0 if net.electrons(a, b) >= 0 else -1.0


def _vector(net: ReactionNetwork, name: str, dg: Arrays) -> dict[str, np.ndarray] | None:
    """U_L and eta on arrays for path reactions and sums of them; None otherwise."""
    rx = net.get(name)
    if isinstance(rx, PathReaction):
        return _path(net, rx, dg)
    if not isinstance(rx, SumReaction):
        return None
    parts = [net.get(p) for p in rx.of]
    paths = [p for p in parts if isinstance(p, PathReaction)]
    if len(paths) != len(parts):
        return None
    u_l = eta = np.asarray(0.0)
    for part in paths:
        out = _path(net, part, dg)
        u_l = u_l - _direction(net, part) * out["limiting_potential"]
        eta = eta + out["overpotential"]
    return {"limiting_potential": u_l, "overpotential": eta}


def _site_by_site(net: ReactionNetwork, req: QuantityRequest, dg: Arrays, field: str) -> np.ndarray:
    """Evaluate one element at a time with :func:`arsc.thermo.evaluate_site`."""

    def pick(act: SiteActivity) -> float:
        if req.product and act.product and act.product != req.product:
            return req.product_penalty
        return float(getattr(act, field))

    shape = np.broadcast(*dg.values()).shape
    flat = {k: np.broadcast_to(v, shape).ravel() for k, v in dg.items()}
    out = np.empty(int(np.prod(shape)))
    for i in range(out.size):
        fe = SiteFreeEnergies("x", {k: float(v[i]) for k, v in flat.items()}, {}, {}, {})
        out[i] = pick(evaluate_site(net, req.reaction, fe))
    return out.reshape(shape)


def _potential(field: str) -> Evaluator:
    """Return the evaluator of a :class:`arsc.thermo.SiteActivity` potential field, on arrays."""

    def evaluate(net: ReactionNetwork, req: QuantityRequest, dg: dict[str, np.ndarray]) -> Any:
        rx = net.get(req.reaction)
        by_array = not req.product and not isinstance(rx, NetworkReaction)
        vec = _vector(net, req.reaction, dg) if by_array else None
        if vec is None:
            return _site_by_site(net, req, dg, field)
        shape = np.broadcast(*dg.values()).shape
        return np.broadcast_to(vec[field], shape).astype(float)

    return evaluate


def _dg(net: ReactionNetwork, req: QuantityRequest, dg: dict[str, np.ndarray]) -> np.ndarray:
    del net
    return np.array(dg[str(req.intermediate)], dtype=float)


def _competition(net: ReactionNetwork, req: QuantityRequest) -> dict[str, str]:
    rx = net.get(req.reaction)
    comps = {} if isinstance(rx, SumReaction) else rx.selectivity
    if req.competition not in comps:
        raise unknown(f"competition of reaction {req.reaction!r}", req.competition, comps)
    steps = comps[str(req.competition)]
    if len(steps) != 2:
        raise ArscInputError(
            f"competition {req.competition!r} has {len(steps)} labels; selectivity needs two"
        )
    return steps


def _selectivity(
    net: ReactionNetwork, req: QuantityRequest, dg: dict[str, np.ndarray]
) -> np.ndarray:
    values = []
    for step in _competition(net, req).values():
        a, b = (parse_state(t) for t in split_step(step))
        values.append(_g(net, b, dg) - _g(net, a, dg))
    return cast(np.ndarray, values[0] - values[1])


# ---- checks and labels ------------------------------------------------------------------


def _any(net: ReactionNetwork, req: QuantityRequest, names: tuple[str, ...]) -> None:
    del net, req, names


def _check_intermediate(net: ReactionNetwork, req: QuantityRequest, names: tuple[str, ...]) -> None:
    del net
    if req.intermediate not in names:
        raise unknown(f"intermediate of reaction {req.reaction!r}", req.intermediate, names)


def _check_competition(net: ReactionNetwork, req: QuantityRequest, names: tuple[str, ...]) -> None:
    del names
    _competition(net, req)


def _eta_label(net: ReactionNetwork, req: QuantityRequest) -> str:
    rx = net.get(req.reaction)
    parts = rx.of if isinstance(rx, SumReaction) else [req.reaction]
    label = " + ".join(f"η_{p.upper()}" for p in parts)
    return f"{label} to {req.product}" if req.product else label


#: Quantity name -> its unit, label, evaluator and check.
QUANTITIES: dict[str, Quantity] = {
    "overpotential": Quantity("V", _eta_label, _potential("overpotential"), _any),
    "limiting_potential": Quantity(
        "V",
        lambda net, r: f"U_L of {r.reaction.upper()} vs RHE",
        _potential("limiting_potential"),
        _any,
    ),
    "dg": Quantity(
        "eV", lambda net, r: f"ΔG(*{r.intermediate})", _dg, _check_intermediate, "intermediate"
    ),
    "selectivity": Quantity(
        "eV",
        lambda net, r: f"ΔG difference of {r.competition}",
        _selectivity,
        _check_competition,
        "competition",
    ),
}


def _kind(req: QuantityRequest) -> Quantity:
    if req.quantity not in QUANTITIES:
        raise unknown("quantity", req.quantity, QUANTITIES)
    return QUANTITIES[req.quantity]


# ---- public API -------------------------------------------------------------------------


def quantity_intermediates(
    req: QuantityRequest, network: ReactionNetwork | None = None
) -> tuple[str, ...]:
    """Return the intermediates the request's reaction needs (first-seen order).

    Parameters
    ----------
    req
        The quantity and reaction.
    network
        Reaction networks (default the packaged ones).

    Raises
    ------
    ArscInputError
        Unknown quantity, reaction, intermediate or competition (naming the allowed ones).
    """
    net = network or load_network()
    kind = _kind(req)
    names = net.reaction_intermediates(req.reaction)
    kind.check(net, req, names)
    return names


def evaluate_quantity(
    req: QuantityRequest, dg: Arrays, network: ReactionNetwork | None = None
) -> np.ndarray:
    """Return the requested quantity for arrays of adsorption free energies.

    Parameters
    ----------
    req
        The quantity and reaction.
    dg
        Intermediate -> dG (eV), arrays of one broadcastable shape (e.g.
        candidates x samples); NaN where unknown.
    network
        Reaction networks (default the packaged ones).

    Returns
    -------
    numpy.ndarray
        The quantity (V or eV, :func:`quantity_unit`), NaN where it cannot be computed.
    """
    net = network or load_network()
    arrays = {k: np.asarray(v, dtype=float) for k, v in dg.items()}
    return _kind(req).evaluate(net, req, arrays)


def quantity_unit(name: str) -> str:
    """Return the unit of a quantity (``"V"`` or ``"eV"``)."""
    if name not in QUANTITIES:
        raise unknown("quantity", name, QUANTITIES)
    return QUANTITIES[name].unit


def quantity_label(req: QuantityRequest, network: ReactionNetwork | None = None) -> str:
    """Return the axis label of a request (e.g. ``"η_ORR + η_OER"``, ``"ΔG(*OH)"``)."""
    return _kind(req).label(network or load_network(), req)
