"""Activity and selectivity from adsorption free energies (computational hydrogen electrode).

For every step of a reaction the free energy at U = 0 V vs RHE is
dG_step = G(next state) - G(state); a step that consumes n (H+ + e-) pairs
shifts by n e U. The limiting potential is the potential at which every
electrochemical step is downhill:

- reduction (ORR, HER, CRR, NRR): U_L = min_i(-dG_i / n_i), eta = U_eq - U_L;
- oxidation (OER): U_L = max_i(dG_i / |n_i|), eta = U_L - U_eq;

with U_eq from the end states (1.23 V for ORR/OER, from the O2 data). Which
evaluator a reaction uses is its ``kind`` in ``reactions.yaml`` (see
:data:`EVALUATORS`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from arsc.thermo.che import SiteFreeEnergies
from arsc.thermo.energies import BARE
from arsc.thermo.network import (
    NetworkReaction,
    Node,
    PathReaction,
    ReactionNetwork,
    State,
    SumReaction,
    parse_state,
    split_step,
)

NAN = float("nan")
_TOL = 1e-9


class Step(BaseModel):
    """One step of a reaction path at one site."""

    start: str = Field(description="State before the step (state string).")
    end: str = Field(description="State after the step (state string).")
    electrons: float = Field(
        description="(H+ + e-) pairs consumed by the step; negative: released; 0: chemical step."
    )
    dg: float = Field(description="Step free energy at U = 0 V vs RHE, eV (NaN if unknown).")

    @property
    def name(self) -> str:
        """``"start -> end"``."""
        return f"{self.start} -> {self.end}"


class SiteActivity(BaseModel):
    """Activity (and selectivity) of one reaction at one site."""

    site: str = Field(description="Site name.")
    reaction: str = Field(description="Reaction name from reactions.yaml.")
    overpotential: float = Field(description="Thermodynamic overpotential, V (NaN if unknown).")
    limiting_potential: float = Field(
        description="U_L, V vs RHE; for a sum, U_L(oxidation) - U_L(reduction)."
    )
    equilibrium_potential: float = Field(
        description="U_eq: equilibrium potential of the reaction or product, V vs RHE; for a sum, "
        "U_eq(oxidation) - U_eq(reduction)."
    )
    limiting_step: str = Field(description="The step that sets U_L ('' when unknown).")
    consistent: bool = Field(description="False when a row it needs has inconsistent settings.")
    reason: str = Field(description="Why values are NaN and which rows are inconsistent.")
    dg: dict[str, float] = Field(
        description="Adsorption free energy of each intermediate, eV, vs its reference molecules."
    )
    modes: dict[str, str] = Field(description="Binding mode of each intermediate's calculation.")
    steps: list[Step] = Field(description="Steps of the path taken.")
    product: str = Field("", description="Product reached (network reactions).")
    mechanism: str = Field("", description="Branch labels along the path taken (networks).")
    complete: bool = Field(
        True, description="False when the path stops at the last computed intermediate."
    )
    selectivity: dict[str, str] = Field(
        default_factory=dict, description="Competition name -> winning label ('' if unknown)."
    )
    selectivity_dg: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="Competition name -> label -> step free energy, eV."
    )
    parts: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="For a sum: reaction -> {'overpotential': V, 'limiting_potential': V vs RHE}.",
    )
    causes: list[str] = Field(
        default_factory=list, description="Short causes of NaN values ('OOH: no calculation')."
    )
    uncorrected: list[str] = Field(
        default_factory=list,
        description="Intermediates whose dG (eV) was computed without a free-energy correction "
        "(only with allow_uncorrected).",
    )


@dataclass
class _Outcome:
    """What an evaluator found, before the reasons are attached."""

    overpotential: float
    limiting_potential: float
    equilibrium_potential: float
    limiting_step: str
    steps: list[Step]
    touched: set[str]
    product: str = ""
    mechanism: str = ""
    complete: bool = True
    parts: dict[str, dict[str, float]] = field(default_factory=dict)


def _g(net: ReactionNetwork, state: State, fe: SiteFreeEnergies) -> float:
    return net.state_energy(state, fe.dg)


def _steps(net: ReactionNetwork, texts: list[str], fe: SiteFreeEnergies) -> list[Step]:
    states = [parse_state(t) for t in texts]
    g = [_g(net, s, fe) for s in states]
    return [
        Step(start=a.text, end=b.text, electrons=net.electrons(a, b), dg=gb - ga)
        for a, b, ga, gb in zip(states, states[1:], g, g[1:], strict=False)
    ]


def limiting_potential(steps: list[Step], u_eq: float) -> tuple[float, float, str]:
    """Limiting potential, overpotential and limiting step of a path.

    Parameters
    ----------
    steps
        The path's steps; chemical steps (no electrons) do not count.
    u_eq
        Equilibrium potential, V vs RHE.

    Returns
    -------
    tuple
        (U_L in V vs RHE, overpotential in V, limiting step name); NaN, NaN,
        '' if an electrochemical step's free energy is unknown.
    """
    echem = [s for s in steps if abs(s.electrons) > _TOL]
    if not echem or any(math.isnan(s.dg) for s in echem):
        return NAN, NAN, ""
    per = [-s.dg / s.electrons for s in echem]
    # ties (within rounding, _TOL) go to the earliest step, whatever the last bits of the sums
    if echem[0].electrons > 0:  # reduction
        low = min(per)
        i = next(k for k, v in enumerate(per) if v <= low + _TOL)
        return low, u_eq - low, echem[i].name
    high = max(per)
    i = next(k for k, v in enumerate(per) if v >= high - _TOL)
    return high, high - u_eq, echem[i].name


def _path(
    net: ReactionNetwork, name: str, reaction: PathReaction, fe: SiteFreeEnergies, _: Evaluate
) -> _Outcome:
    steps = _steps(net, reaction.states, fe)
    states = [parse_state(t) for t in reaction.states]
    u_eq = net.equilibrium_potential(states[0], states[-1])
    u_l, eta, lim = limiting_potential(steps, u_eq)
    touched = {a for s in states for a in s.adsorbates}
    return _Outcome(eta, u_l, u_eq, lim, steps, touched)


def _label(node: Node, fe: SiteFreeEnergies) -> str:
    ads = parse_state(node.path[0]).adsorbates
    mode = fe.modes.get(ads[0], "") if ads else ""
    return node.mode_labels.get(mode, node.label or "")


def _choose(
    net: ReactionNetwork,
    reaction: NetworkReaction,
    nodes: list[Node],
    current: State,
    fe: SiteFreeEnergies,
    touched: set[str],
) -> Node | None:
    """Pick the most favourable first step among competing branches; None if one is unknown."""
    if len(nodes) == 1:
        return nodes[0]
    g0 = _g(net, current, fe)
    costs = []
    for node in nodes:
        first = parse_state(node.path[0])
        touched.update(first.adsorbates)
        n = net.electrons(current, first)
        costs.append(_g(net, first, fe) - g0 + n * reaction.selection_potential)
    if any(math.isnan(c) for c in costs):
        return None
    return nodes[min(range(len(costs)), key=costs.__getitem__)]


def _network(
    net: ReactionNetwork, name: str, reaction: NetworkReaction, fe: SiteFreeEnergies, _: Evaluate
) -> _Outcome:
    texts = [reaction.start]
    touched: set[str] = set()
    labels: list[str] = []
    nodes = reaction.next
    leaf: Node | None = None
    while nodes:
        node = _choose(net, reaction, nodes, parse_state(texts[-1]), fe, touched)
        if node is None:
            break
        texts.extend(node.path)
        touched.update(a for t in node.path for a in parse_state(t).adsorbates)
        if lab := _label(node, fe):
            labels.append(lab)
        leaf, nodes = (node, []) if not node.next else (None, node.next)
    steps = _steps(net, texts, fe)
    if leaf is None:  # a branch could not be decided
        return _Outcome(NAN, NAN, NAN, "", steps, touched, mechanism="/".join(labels))
    end = parse_state(leaf.equilibrium_state or texts[-1])
    u_eq = net.equilibrium_potential(parse_state(reaction.start), end)
    u_l, eta, lim = limiting_potential(steps, u_eq)
    return _Outcome(
        eta,
        u_l,
        u_eq,
        lim,
        steps,
        touched,
        product=leaf.product or "",
        mechanism="/".join(labels),
        complete=leaf.equilibrium_state is None,
    )


def _direction(net: ReactionNetwork, reaction: PathReaction | NetworkReaction) -> float:
    """+1 for a reduction, -1 for an oxidation."""
    if isinstance(reaction, PathReaction):
        a, b = parse_state(reaction.states[0]), parse_state(reaction.states[-1])
    else:
        a, b = parse_state(reaction.start), parse_state(reaction.next[0].path[0])
    return 1.0 if net.electrons(a, b) >= 0 else -1.0


def _sum(
    net: ReactionNetwork, name: str, reaction: SumReaction, fe: SiteFreeEnergies, ev: Evaluate
) -> _Outcome:
    outs = {part: ev(part, fe) for part in reaction.of}
    eta = sum(o.overpotential for o in outs.values())
    gap = gap_eq = 0.0
    for part, o in outs.items():
        sub = net.get(part)
        assert not isinstance(sub, SumReaction)
        gap -= _direction(net, sub) * o.limiting_potential
        gap_eq -= _direction(net, sub) * o.equilibrium_potential
    known = all(o.limiting_step for o in outs.values())
    lim = "; ".join(f"{p}: {o.limiting_step}" for p, o in outs.items()) if known else ""
    return _Outcome(
        eta,
        gap,
        gap_eq,
        lim,
        [s for o in outs.values() for s in o.steps],
        set().union(*(o.touched for o in outs.values())),
        parts={
            p: {"overpotential": o.overpotential, "limiting_potential": o.limiting_potential}
            for p, o in outs.items()
        },
    )


Evaluate = Callable[[str, SiteFreeEnergies], _Outcome]

#: Evaluator of each reaction kind of reactions.yaml.
EVALUATORS: dict[str, Callable[..., _Outcome]] = {
    "path": _path,
    "network": _network,
    "sum": _sum,
}


def _competitions(
    net: ReactionNetwork, reaction: PathReaction | NetworkReaction, fe: SiteFreeEnergies
) -> tuple[dict[str, str], dict[str, dict[str, float]], set[str]]:
    winners: dict[str, str] = {}
    values: dict[str, dict[str, float]] = {}
    touched: set[str] = set()
    for cname, steps in reaction.selectivity.items():
        vals: dict[str, float] = {}
        for label, step in steps.items():
            a, b = (parse_state(t) for t in split_step(step))
            touched.update(a.adsorbates + b.adsorbates)
            vals[label] = _g(net, b, fe) - _g(net, a, fe)
        values[cname] = vals
        known = not any(math.isnan(v) for v in vals.values())
        winners[cname] = min(vals, key=vals.__getitem__) if known else ""
    return winners, values, touched


def _explain(fe: SiteFreeEnergies, touched: set[str]) -> tuple[bool, str, list[str]]:
    needed = [BARE, *sorted(touched)]
    texts = [fe.missing[x].text(fe.site) for x in needed if x in fe.missing]
    causes = [f"{x}: {fe.missing[x].cause}" for x in needed if x in fe.missing]
    for x in needed:
        if x in fe.flagged and x not in fe.missing:
            what = "bare site" if x == BARE else x
            texts.append(f"{what} for site {fe.site} used although inconsistent ({fe.flagged[x]})")
    consistent = not any(x in fe.flagged for x in needed)
    return consistent, "; ".join(texts), causes


def evaluate_site(network: ReactionNetwork, reaction: str, fe: SiteFreeEnergies) -> SiteActivity:
    """Evaluate one reaction at one site.

    Parameters
    ----------
    network
        Reaction networks (:func:`arsc.thermo.network.load_network`).
    reaction
        Reaction name (``orr``, ``oer``, ``her``, ``crr``, ``nrr``, ``bifunctional``, ...).
    fe
        The site's adsorption free energies.

    Returns
    -------
    SiteActivity
        NaN values carry their reason; nothing missing is ever taken as zero.
    """
    key = reaction.strip().lower()

    def ev(name: str, site_fe: SiteFreeEnergies) -> _Outcome:
        r = network.get(name)
        return EVALUATORS[r.kind](network, name, r, site_fe, ev)

    rx = network.get(key)
    out = ev(key, fe)
    winners: dict[str, str] = {}
    values: dict[str, dict[str, float]] = {}
    touched = set(out.touched)
    if not isinstance(rx, SumReaction):
        winners, values, more = _competitions(network, rx, fe)
        touched |= more
    consistent, reason, causes = _explain(fe, touched)
    if math.isnan(out.overpotential) and not reason:
        reason = f"undetermined for site {fe.site}"
    inter = network.reaction_intermediates(key)
    return SiteActivity(
        site=fe.site,
        reaction=key,
        overpotential=out.overpotential,
        limiting_potential=out.limiting_potential,
        equilibrium_potential=out.equilibrium_potential,
        limiting_step=out.limiting_step,
        consistent=consistent,
        reason=reason,
        dg={x: fe.dg.get(x, NAN) for x in inter},
        modes={x: fe.modes[x] for x in inter if x in fe.modes},
        steps=out.steps,
        product=out.product,
        mechanism=out.mechanism,
        complete=out.complete,
        selectivity=winners,
        selectivity_dg=values,
        parts=out.parts,
        causes=causes,
    )
