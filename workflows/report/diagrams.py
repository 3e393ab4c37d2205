"""Free-energy step diagrams of computed sites, from DFT adsorption free energies.

The step order, electron counts and equilibrium potentials come from
:mod:`arsc.thermo` (``arsc/data/reactions.yaml``): a site's steps are those
:func:`arsc.thermo.evaluate_site` takes, and a step consuming n (H+ + e-)
pairs shifts by n e U at potential U. A sum reaction (``bifunctional``) gets
one diagram per reaction it sums (ORR and OER).

Examples
--------
>>> d = diagrams({"Fe-Co": {"OOH": 4.2, "O": 2.4, "OH": 0.9}}, "orr")[0]
>>> d.labels
['O₂', '*OOH', '*O', '*OH', '2 H₂O']
>>> [round(g, 2) for g in d.levels[U_ZERO]]
[0.0, -0.72, -2.52, -4.02, -4.92]
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from arsc.thermo import SiteFreeEnergies, Step, evaluate_site, load_network
from arsc.thermo.network import ReactionNetwork, SumReaction, parse_state

#: Legend labels of the three potentials drawn.
U_ZERO, U_EQUILIBRIUM, U_LIMITING = (
    "U = 0 V",
    "U = U_eq (1.23 V for ORR/OER)",
    "U = U_L (limiting potential)",
)


@dataclass(frozen=True)
class Diagram:
    """One site's free-energy levels along one reaction path.

    Attributes
    ----------
    site
        Site id.
    reaction
        Reaction name.
    title
        Panel title (site, reaction, overpotential).
    labels
        Short state labels, in path order.
    levels
        Legend label -> free energy of each state, eV, relative to the first
        state, at that potential.
    overpotential
        Thermodynamic overpotential, V (NaN when a ΔG is missing).
    """

    site: str
    reaction: str
    title: str
    labels: list[str]
    levels: dict[str, list[float]]
    overpotential: float


_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def subscripts(text: str) -> str:
    """Chemical formulae with subscript counts: ``"2 H2O"`` -> ``"2 H₂O"``."""
    return re.sub(r"(?<=[A-Za-z])\d+", lambda m: m.group().translate(_SUBSCRIPTS), text)


def short_label(state: str) -> str:
    """Display label of a state: its adsorbates, or its molecules when the site is bare.

    ``"*O + H2O"`` -> ``"*O"``, ``"2 H2O"`` -> ``"2 H₂O"``.
    """
    parsed = parse_state(state)
    if parsed.adsorbates:
        return subscripts(" + ".join(f"*{a}" for a in parsed.adsorbates))
    return subscripts(state)


def levels_at(steps: Sequence[Step], potential: float) -> list[float]:
    """Free energy of each state, eV, relative to the first, at a potential (V vs RHE)."""
    out = [0.0]
    for step in steps:
        out.append(out[-1] + step.dg + step.electrons * potential)
    return out


def _parts(network: ReactionNetwork, reaction: str) -> list[str]:
    rx = network.get(reaction)
    return list(rx.of) if isinstance(rx, SumReaction) else [reaction.strip().lower()]


def site_diagrams(
    site: str, dg: Mapping[str, float], reaction: str, network: ReactionNetwork | None = None
) -> list[Diagram]:
    """Diagrams of one site: one per reaction path (two for ``bifunctional``)."""
    net = network or load_network()
    fe = SiteFreeEnergies(site, dict(dg), {}, {}, {})
    out = []
    for part in _parts(net, reaction):
        act = evaluate_site(net, part, fe)
        if not act.steps:
            continue
        labels = [short_label(act.steps[0].start)] + [short_label(s.end) for s in act.steps]
        levels = {U_ZERO: levels_at(act.steps, 0.0)}
        if math.isfinite(act.equilibrium_potential):
            levels[U_EQUILIBRIUM] = levels_at(act.steps, act.equilibrium_potential)
        eta, u_l = act.overpotential, act.limiting_potential
        if math.isfinite(u_l):
            levels[U_LIMITING] = levels_at(act.steps, u_l)
        tag = (
            f"η = {eta:.2f} V, U_L = {u_l:.2f} V"
            if math.isfinite(eta)
            else "η unknown (a ΔG is missing)"
        )
        out.append(
            Diagram(site, part, f"{site}\n{part.upper()}: {tag}", labels, levels, float(eta))
        )
    return out


def diagrams(
    dg_by_site: Mapping[str, Mapping[str, float]],
    reaction: str,
    network: ReactionNetwork | None = None,
) -> list[Diagram]:
    """Diagrams of several sites, in the given site order.

    Parameters
    ----------
    dg_by_site
        Site id -> intermediate -> DFT adsorption free energy (eV).
    reaction
        Reaction name of ``reactions.yaml`` (``orr``, ``oer``, ``bifunctional``, ...).
    network
        Reaction networks; the packaged ones by default.
    """
    net = network or load_network()
    return [d for site, dg in dg_by_site.items() for d in site_diagrams(site, dg, reaction, net)]
