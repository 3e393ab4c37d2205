"""Free-energy step diagrams of a site: levels along a reaction path, and their drawing.

The step order, electron counts and equilibrium potentials come from
``arsc/data/reactions.yaml``: a site's steps are those
:func:`arsc.thermo.evaluate_site` takes (for a network, the branch its
free energies choose), and a step consuming n (H+ + e-) pairs shifts by
n e U at potential U. A sum reaction (``bifunctional``) gets one diagram per
reaction it sums (ORR and OER). The limiting step (the one that sets U_L)
is marked.

Drawing uses matplotlib's object API (Agg canvas, no pyplot state) and
writes the PNG atomically (:func:`arsc.outputs.atomic_path`).

Examples
--------
>>> d = diagrams({"Fe-Co": {"OOH": 4.2, "O": 2.4, "OH": 0.9}}, "orr")[0]
>>> d.labels
['O₂', '*OOH', '*O', '*OH', '2 H₂O']
>>> [round(g, 2) for g in d.levels[U_ZERO]]
[0.0, -0.72, -2.52, -4.02, -4.92]
>>> d.limiting, round(d.step_dg[0], 2)  # O2 -> *OOH sets U_L = 0.72 V
(0, -0.72)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from arsc.outputs import atomic_path
from arsc.thermo.activity import SiteActivity, Step, evaluate_site
from arsc.thermo.che import SiteFreeEnergies
from arsc.thermo.network import ReactionNetwork, SumReaction, load_network, parse_state

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Legend labels of the three potentials drawn.
U_ZERO, U_EQUILIBRIUM, U_LIMITING = (
    "U = 0 V",
    "U = U_eq (equilibrium potential)",
    "U = U_L (limiting potential)",
)
#: Colour of each potential's levels.
DIAGRAM_COLOURS: dict[str, str] = {
    U_ZERO: "#000000",
    U_EQUILIBRIUM: "#9e9e9e",
    U_LIMITING: "#21918c",
}
#: Colour of the limiting step's mark.
LIMITING_COLOUR = "#c0392b"
#: Resolution of the written PNG, dots per inch.
DPI = 110


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
    limiting
        Index of the limiting step (from state ``limiting`` to ``limiting + 1``);
        None when unknown.
    step_dg
        Free energy of each step at U = 0 V, eV.
    """

    site: str
    reaction: str
    title: str
    labels: list[str]
    levels: dict[str, list[float]]
    overpotential: float
    limiting: int | None = None
    step_dg: list[float] = field(default_factory=list)


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


def activity_diagram(act: SiteActivity) -> Diagram | None:
    """Return the diagram of one evaluated path (None when it has no steps)."""
    if not act.steps:
        return None
    labels = [short_label(act.steps[0].start)] + [short_label(s.end) for s in act.steps]
    levels = {U_ZERO: levels_at(act.steps, 0.0)}
    if math.isfinite(act.equilibrium_potential):
        levels[U_EQUILIBRIUM] = levels_at(act.steps, act.equilibrium_potential)
    eta, u_l = act.overpotential, act.limiting_potential
    if math.isfinite(u_l):
        levels[U_LIMITING] = levels_at(act.steps, u_l)
    names = [s.name for s in act.steps]
    limiting = names.index(act.limiting_step) if act.limiting_step in names else None
    tag = (
        f"η = {eta:.2f} V, U_L = {u_l:.2f} V"
        if math.isfinite(eta)
        else "η unknown (a ΔG is missing)"
    )
    product = f" → {act.product}" if act.product else ""
    title = f"{act.site}\n{act.reaction.upper()}{product}: {tag}"
    if act.uncorrected:
        title += f"\nno ZPE-TS correction: {', '.join('*' + x for x in act.uncorrected)}"
    return Diagram(
        act.site,
        act.reaction,
        title,
        labels,
        levels,
        float(eta),
        limiting,
        [s.dg for s in act.steps],
    )


def site_diagrams(
    site: str, dg: Mapping[str, float], reaction: str, network: ReactionNetwork | None = None
) -> list[Diagram]:
    """Diagrams of one site from its adsorption free energies (two for ``bifunctional``)."""
    net = network or load_network()
    fe = SiteFreeEnergies(site, dict(dg), {}, {}, {})
    out = []
    for part in _parts(net, reaction):
        found = activity_diagram(evaluate_site(net, part, fe))
        if found is not None:
            out.append(found)
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
        Site id -> intermediate -> adsorption free energy (eV).
    reaction
        Reaction name of ``reactions.yaml`` (``orr``, ``crr``, ``bifunctional``, ...).
    network
        Reaction networks; the packaged ones by default.
    """
    net = network or load_network()
    return [d for site, dg in dg_by_site.items() for d in site_diagrams(site, dg, reaction, net)]


def _segments(levels: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """NaN-separated polylines: the level bars, and the dotted connectors between them."""
    g = np.asarray(levels, dtype=float)
    i = np.arange(len(g), dtype=float)
    gap = np.full(len(g), np.nan)
    bx = np.column_stack([i - 0.32, i + 0.32, gap]).ravel()
    by = np.column_stack([g, g, gap]).ravel()
    cx = np.column_stack([i[:-1] + 0.32, i[1:] - 0.32, gap[1:]]).ravel()
    cy = np.column_stack([g[:-1], g[1:], gap[1:]]).ravel()
    return bx, by, cx, cy


def _mark_limiting(ax: Axes, diagram: Diagram) -> None:
    k = diagram.limiting
    if k is None:
        return
    g = diagram.levels[U_ZERO]
    ax.plot([k + 0.32, k + 1 - 0.32], [g[k], g[k + 1]], color=LIMITING_COLOUR, lw=2.0)
    ax.annotate(
        f"limiting\n{diagram.step_dg[k]:+.2f} eV",
        xy=(k + 0.5, 0.5 * (g[k] + g[k + 1])),
        xytext=(8, 0),
        textcoords="offset points",
        color=LIMITING_COLOUR,
        fontsize=8,
        va="center",
        ha="left",
        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
    )


def draw_diagram(ax: Axes, diagram: Diagram) -> None:
    """Draw one diagram on a matplotlib axes (levels at each potential, limiting step marked)."""
    for label, levels in diagram.levels.items():
        colour = DIAGRAM_COLOURS[label]
        bx, by, cx, cy = _segments(levels)
        ax.plot(bx, by, color=colour, lw=2.4, label=label)
        ax.plot(cx, cy, color=colour, lw=0.8, ls=":")
    _mark_limiting(ax, diagram)
    ax.set_xticks(range(len(diagram.labels)), diagram.labels, fontsize=9, rotation=20)
    ax.set_ylabel("ΔG (eV)", fontsize=9)
    ax.tick_params(axis="y", labelsize=8)
    ax.axhline(0.0, color="#e0e0e0", lw=0.6, zorder=0)
    ax.set_title(diagram.title, fontsize=9)


def diagram_figure(diagrams: Sequence[Diagram], *, ncols: int = 4, title: str = "") -> Figure:
    """Return a figure with one panel per diagram and one legend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    n = max(len(diagrams), 1)
    ncols = min(ncols if n > ncols else 2, n)
    nrows = math.ceil(n / ncols)
    width = max(3.8 * ncols, 6.4)  # room for the legend under a single panel
    fig = Figure(figsize=(width, 3.0 * nrows + 0.9), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, diagram in zip(axes.flat, diagrams, strict=False):
        draw_diagram(ax, diagram)
    for ax in axes.flat[len(diagrams) :]:
        ax.set_axis_off()
    handles = [Line2D([], [], color=c, lw=2.4, label=k) for k, c in DIAGRAM_COLOURS.items()]
    handles.append(Line2D([], [], color=LIMITING_COLOUR, lw=2.0, label="limiting step"))
    if title:
        fig.suptitle(title, fontsize=11)
    legend_cols = 4 if ncols > 1 else 2
    fig.legend(
        handles=handles, loc="outside lower center", ncols=legend_cols, fontsize=9, frameon=False
    )
    return fig


def write_diagrams(
    diagrams: Sequence[Diagram], path: str | Path, *, ncols: int = 4, title: str = ""
) -> Path:
    """Draw the diagrams into one PNG, written atomically; return its path."""
    fig = diagram_figure(diagrams, ncols=ncols, title=title)
    out = Path(path)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", facecolor="white")
    return out
