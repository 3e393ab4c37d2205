"""Adsorption free energies by the computational hydrogen electrode (CHE).

dG_X = E(*X) - E(*) - sum_i n_i E_i + corr_X, with the reference composition
n_i of *X from ``arsc/data/reactions.yaml``, the molecule energies E_i and the
correction corr_X (Delta(ZPE - TS), eV) from a references table. A missing
calculation gives NaN and a reason, never a zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from arsc.thermo.energies import BARE, Selection
from arsc.thermo.network import ReactionNetwork, load_network
from arsc.thermo.references import References

NAN = float("nan")


@dataclass(frozen=True)
class Missing:
    """Why an intermediate has no free energy at a site.

    Attributes
    ----------
    intermediate
        The intermediate (or ``bare``).
    cause
        Short cause, shared by every site it affects (``"no calculation"``).
    detail
        Per-row detail (the inconsistency reason), may be empty.
    """

    intermediate: str
    cause: str
    detail: str = ""

    def text(self, site: str) -> str:
        """One readable sentence, e.g. ``no OOH calculation for site X``."""
        what = "bare-site" if self.intermediate == BARE else self.intermediate
        if self.cause == "no calculation":
            base = f"no {what} calculation for site {site}"
        else:
            base = f"{what} for site {site}: {self.cause}"
        return f"{base} ({self.detail})" if self.detail else base


@dataclass(frozen=True)
class SiteFreeEnergies:
    """Adsorption free energies of one site.

    Attributes
    ----------
    site
        Site name.
    dg
        Intermediate -> eV, relative to its reference molecules (NaN if missing).
    missing
        Intermediate -> why it is NaN.
    modes
        Intermediate -> binding mode of the calculation used.
    flagged
        Intermediate (or ``bare``) -> inconsistency reason, for every row used
        although inconsistent and every intermediate left out as inconsistent.
    """

    site: str
    dg: dict[str, float]
    missing: dict[str, Missing]
    modes: dict[str, str]
    flagged: dict[str, str]


def _formation_shift(intermediate: str, refs: References, network: ReactionNetwork) -> float:
    comp = network.intermediates[intermediate]
    return sum(n * refs.energy(mol, intermediate) for mol, n in comp.items())


def _site(
    site: str,
    selection: Selection,
    refs: References,
    network: ReactionNetwork,
    intermediates: Iterable[str],
) -> SiteFreeEnergies:
    dg: dict[str, float] = {}
    missing: dict[str, Missing] = {}
    modes: dict[str, str] = {}
    flagged: dict[str, str] = {}

    def lookup(name: str) -> float:
        key = (site, name)
        if key in selection.picks:
            pick = selection.picks[key]
            modes[name] = pick.mode
            if not pick.consistent:
                flagged[name] = pick.reason or "inconsistent settings"
            return pick.energy
        gap = selection.gaps.get(key)
        if gap is None:
            missing[name] = Missing(name, "no calculation")
        else:
            missing[name] = Missing(name, gap.cause, gap.detail)
            if gap.cause == "excluded as inconsistent":
                flagged[name] = gap.detail or "inconsistent settings"
        return NAN

    e_bare = lookup(BARE)
    for name in intermediates:
        e_ads = lookup(name) if name not in missing else NAN
        if name in missing or BARE in missing:
            dg[name] = NAN
            continue
        shift = _formation_shift(name, refs, network)
        dg[name] = e_ads - e_bare - shift + refs.correction(name)
    return SiteFreeEnergies(site, dg, missing, modes, flagged)


def adsorption_free_energies(
    selection: Selection,
    references: References,
    intermediates: Iterable[str] | None = None,
    network: ReactionNetwork | None = None,
) -> dict[str, SiteFreeEnergies]:
    """Adsorption free energies of every site of a selection.

    Parameters
    ----------
    selection
        Picked rows (:func:`arsc.thermo.energies.select_energies`).
    references
        Molecule energies and corrections of the same DFT setting.
    intermediates
        Intermediates to compute (default: every one the network knows).
    network
        Reaction networks (default: the packaged ``reactions.yaml``).

    Returns
    -------
    dict
        Site -> :class:`SiteFreeEnergies`, sites sorted.

    Raises
    ------
    ArscInputError
        If the references lack a molecule an intermediate needs.
    """
    net = network or load_network()
    names = tuple(intermediates) if intermediates is not None else tuple(net.intermediates)
    for name in names:  # fail early and once on a references table that lacks a molecule
        _formation_shift(name, references, net)
    return {s: _site(s, selection, references, net, names) for s in selection.sites}


def free_energy_table(free: dict[str, SiteFreeEnergies]) -> pd.DataFrame:
    """Flatten free energies: ``site`` and one ``dG_<X>`` column per intermediate (eV)."""
    rows = [{"site": s, **{f"dG_{k}": v for k, v in fe.dg.items()}} for s, fe in free.items()]
    return pd.DataFrame(rows)
