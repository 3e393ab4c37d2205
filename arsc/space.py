"""The candidate space: motifs, intermediates, binding modes and sites.

Everything here is data-driven: pockets and motifs come from
``arsc/data/motifs.yaml``, intermediates from ``arsc/data/adsorbates.yaml``.
A new motif is one new entry in the data file.

Examples
--------
>>> from arsc.space import Site, count_space
>>> Site.from_id("Co-Fe_qv-n6_graphene").id  # symmetric motif: canonical order
'Fe-Co_qv-n6_graphene'
>>> count_space([Site.from_id("Fe-Co_qv-n6_graphene")], ["OH"]).structures
4
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from importlib.resources import files
from typing import Any

import pandas as pd
import yaml

from arsc.adsorbates import Adsorbate, adsorbates, get_adsorbate
from arsc.elements import AUTHORS_METALS, check_metals, load_elements
from arsc.errors import ArscInputError, unknown
from arsc.supports import get_support, supports

#: Binding modes, in the order they are enumerated.
MODES: tuple[str, ...] = ("top1", "top2", "bridge", "side-on")
#: Roles of first-shell atoms.
ROLES: tuple[str, ...] = ("m1", "m2", "shared")
_SWAP = {"m1": "m2", "m2": "m1", "shared": "shared"}


def _frac(value: Any) -> float:
    return float(Fraction(str(value)))


@dataclass(frozen=True)
class Pocket:
    """A vacancy pocket for two metals in a support (see ``motifs.yaml``)."""

    name: str
    description: str
    supports: tuple[str, ...]
    removed: tuple[tuple[int, int, int], ...]
    metal_sites: tuple[tuple[float, float], tuple[float, float]]
    shell_element: str
    shell_cutoff: float
    bonded_pair: bool
    swap_symmetric: bool

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any]) -> Pocket:
        """Build a pocket from its ``motifs.yaml`` entry."""
        m1, m2 = ((_frac(x), _frac(y)) for x, y in data["metal_sites"])
        return cls(
            name=name,
            description=" ".join(data["description"].split()),
            supports=tuple(data["supports"]),
            removed=tuple((int(i), int(j), int(k)) for i, j, k in data["removed"]),
            metal_sites=(m1, m2),
            shell_element=data["shell_element"],
            shell_cutoff=float(data["shell_cutoff"]),
            bonded_pair=bool(data["bonded_pair"]),
            swap_symmetric=bool(data["swap_symmetric"]),
        )


@dataclass(frozen=True)
class Motif:
    """A coordination motif: a pocket plus first-shell substitutions.

    Attributes
    ----------
    name
        Registry key, e.g. ``"qv-n4c2"``.
    pocket
        The pocket it is carved from.
    substitutions
        ``(role, element)`` pairs; every first-shell atom of that role
        becomes that element.
    """

    name: str
    pocket: Pocket
    substitutions: tuple[tuple[str, str], ...] = field(default=())

    @property
    def symmetric(self) -> bool:
        """Whether M1M2 and M2M1 are the same site (one candidate per unordered pair)."""
        subs = dict(self.substitutions)
        swapped = {_SWAP[role]: el for role, el in subs.items()}
        return self.pocket.swap_symmetric and swapped == subs

    @property
    def supports(self) -> tuple[str, ...]:
        """Supports this motif can be carved into."""
        return self.pocket.supports

    def shell_element(self, role: str) -> str:
        """Element of the first-shell atoms of ``role``."""
        return dict(self.substitutions).get(role, self.pocket.shell_element)


@cache
def _motif_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(files("arsc.data").joinpath("motifs.yaml").read_text())
    return data


@cache
def _motif_registry() -> dict[str, Motif]:
    data = _motif_data()
    pockets = {name: Pocket.from_dict(name, p) for name, p in data["pockets"].items()}
    out = {}
    for name, entry in data["motifs"].items():
        subs = entry.get("substitutions") or {}
        for role in subs:
            if role not in ROLES:  # pragma: no cover - data error
                raise RuntimeError(f"motif {name!r}: unknown role {role!r}")
        out[name] = Motif(name, pockets[entry["pocket"]], tuple(sorted(subs.items())))
    return out


def motifs() -> dict[str, Motif]:
    """Return the motif registry, keyed by name."""
    return dict(_motif_registry())


def get_motif(name: str) -> Motif:
    """Look a motif up by name; raises ArscInputError naming the allowed ones."""
    registry = _motif_registry()
    if name not in registry:
        raise unknown("motif", name, registry)
    return registry[name]


@dataclass(frozen=True, order=True)
class Site:
    """One candidate dual-atom site.

    ``metal1`` sits on the pocket's first metal site (the binding metal of
    "top1" adsorption). For symmetric motifs the pair is stored in canonical
    order (by atomic number), so ``Site("Fe", "Co", ...)`` and
    ``Site("Co", "Fe", ...)`` are built as one candidate by
    :func:`make_site`.
    """

    metal1: str
    metal2: str
    motif: str
    support: str

    @property
    def id(self) -> str:
        """Stable identifier ``M1-M2_motif_support``, e.g. ``Fe-Co_qv-n6_graphene``."""
        return f"{self.metal1}-{self.metal2}_{self.motif}_{self.support}"

    @property
    def metals(self) -> tuple[str, str]:
        """The two metals, M1 first."""
        return (self.metal1, self.metal2)

    @property
    def homonuclear(self) -> bool:
        """Whether both metals are the same element."""
        return self.metal1 == self.metal2

    @classmethod
    def from_id(cls, site_id: str, elements: str = "default") -> Site:
        """Parse and validate a site identifier.

        For a symmetric motif the pair is put in canonical order, so
        ``Co-Fe_qv-n6_graphene`` and ``Fe-Co_qv-n6_graphene`` are one site.

        Raises
        ------
        ArscInputError
            If the id is malformed, or names an unknown metal, motif or
            support, or a motif/support pair that does not fit.
        """
        parts = site_id.split("_")
        pair = parts[0].split("-") if parts else []
        if len(parts) != 3 or len(pair) != 2:
            raise ArscInputError(
                f"malformed site id {site_id!r}; expected M1-M2_motif_support, "
                "e.g. Co-Fe_qv-n6_graphene"
            )
        return make_site(pair[0], pair[1], parts[1], parts[2], elements=elements)


def _z(symbol: str) -> int:
    return int(load_elements("default")["Z"].to_dict()[symbol])


def make_site(
    metal1: str,
    metal2: str,
    motif: str,
    support: str | None = None,
    *,
    elements: str = "default",
    canonical: bool = True,
) -> Site:
    """Validate the parts of a site and return it.

    Parameters
    ----------
    metal1, metal2
        Element symbols.
    motif
        Motif name.
    support
        Support name; the motif's first support when omitted.
    elements
        Element table that must hold both metals.
    canonical
        For a symmetric motif, put the pair in canonical order (lower atomic
        number first). With ``False`` a non-canonical order is an error.

    Raises
    ------
    ArscInputError
        For an unknown metal, motif or support, or a motif that cannot be
        carved into the support.
    """
    m1, m2 = check_metals([metal1], elements)[0], check_metals([metal2], elements)[0]
    mot = get_motif(motif)
    sup = support if support is not None else mot.supports[0]
    get_support(sup)
    if sup not in mot.supports:
        raise ArscInputError(
            f"motif {motif!r} does not fit support {sup!r}; it fits: {', '.join(mot.supports)}"
        )
    if mot.symmetric and _z(m1) > _z(m2):
        if not canonical:
            raise ArscInputError(
                f"site {m1}-{m2}_{motif}_{sup}: motif {motif!r} is symmetric, "
                f"so the pair is written in canonical order {m2}-{m1}"
            )
        m1, m2 = m2, m1
    return Site(m1, m2, motif, sup)


def binding_modes(site: Site, adsorbate: Adsorbate | str) -> tuple[str, ...]:
    """Binding modes of an adsorbate on a site, without symmetry duplicates.

    ``top2`` is dropped where it is equivalent to ``top1`` (homonuclear pair
    on a symmetric motif); ``bridge`` and ``side-on`` need a bonded metal
    pair; ``side-on`` needs an adsorbate that can lie flat (O2, N2).
    """
    ads = get_adsorbate(adsorbate) if isinstance(adsorbate, str) else adsorbate
    mot = get_motif(site.motif)
    modes = ["top1"]
    if not (site.homonuclear and mot.symmetric):
        modes.append("top2")
    if mot.pocket.bonded_pair:
        modes.append("bridge")
        if ads.side_on:
            modes.append("side-on")
    return tuple(modes)


def _select(kind: str, names: Sequence[str] | None, registry: Iterable[str]) -> tuple[str, ...]:
    allowed = tuple(registry)
    if names is None:
        return allowed
    out = []
    for name in names:
        if name not in allowed:
            raise unknown(kind, name, allowed)
        if name not in out:
            out.append(name)
    return tuple(out)


def _check_fit(
    mots: Sequence[str], sups: Sequence[str], motifs_named: bool, supports_named: bool
) -> None:
    """Every motif the user named fits a chosen support, and every named support a motif."""
    if motifs_named:
        for name in mots:
            fits = get_motif(name).supports
            if not any(s in fits for s in sups):
                raise ArscInputError(
                    f"motif {name!r} does not fit support {', '.join(sups)}; "
                    f"it fits: {', '.join(fits)}"
                )
    if supports_named:
        for sup in sups:
            if not any(sup in get_motif(m).supports for m in mots):
                hosted = [m for m, mot in _motif_registry().items() if sup in mot.supports]
                raise ArscInputError(
                    f"support {sup!r} holds none of the motifs {', '.join(mots)}; "
                    f"motifs on it: {', '.join(hosted) or 'none'}"
                )


def enumerate_sites(
    metals: Sequence[str] | None = None,
    motif_names: Sequence[str] | None = None,
    support_names: Sequence[str] | None = None,
    elements: str = "default",
) -> list[Site]:
    """Enumerate the candidate sites.

    Parameters
    ----------
    metals
        Metal symbols; default the authors' 20.
    motif_names, support_names
        Restrict to these motifs / supports; default all.
    elements
        Element table the metals must be in.

    Returns
    -------
    list of Site
        Symmetric motifs give each unordered pair once (homonuclear
        included), asymmetric ones every ordered pair; sorted by motif,
        support, then metals in the given order.

    Raises
    ------
    ArscInputError
        For an unknown metal, motif or support; a motif that was named but
        fits none of the supports asked for; or a support that was named but
        holds none of the motifs asked for (the message lists what fits).
    """
    mets = check_metals(list(metals) if metals is not None else list(AUTHORS_METALS), elements)
    mots = _select("motif", motif_names, _motif_registry())
    sups = _select("support", support_names, supports())
    _check_fit(mots, sups, motif_names is not None, support_names is not None)
    sites: list[Site] = []
    for mname in mots:
        mot = get_motif(mname)
        for sup in (s for s in sups if s in mot.supports):
            pairs = (
                itertools.combinations_with_replacement(mets, 2)
                if mot.symmetric
                else itertools.product(mets, mets)
            )
            sites.extend(make_site(a, b, mname, sup, elements=elements) for a, b in pairs)
    return sites


@dataclass(frozen=True)
class SpaceCounts:
    """How big a candidate space is.

    Attributes
    ----------
    sites
        Candidate sites.
    structures
        Bare sites plus every site-intermediate-mode structure.
    dft_calculations
        Calculations an exhaustive screen needs: one relaxation per
        structure plus one per gas-phase reference molecule.
    per_motif
        One row per (motif, support): sites, structures.
    """

    sites: int
    structures: int
    dft_calculations: int
    per_motif: pd.DataFrame


def count_space(sites: Sequence[Site], intermediates: Sequence[str] | None = None) -> SpaceCounts:
    """Count structures and DFT calculations for a list of sites.

    Parameters
    ----------
    sites
        Candidate sites (from :func:`enumerate_sites`).
    intermediates
        Adsorbate names; default every registered intermediate.
    """
    ads = [get_adsorbate(n) for n in _select("intermediate", intermediates, adsorbates())]
    rows: dict[tuple[str, str], list[int]] = {}
    for site in sites:
        n = 1 + sum(len(binding_modes(site, a)) for a in ads)
        row = rows.setdefault((site.motif, site.support), [0, 0])
        row[0] += 1
        row[1] += n
    table = pd.DataFrame(
        [(m, s, get_motif(m).symmetric, c[0], c[1]) for (m, s), c in rows.items()],
        columns=["motif", "support", "symmetric", "sites", "structures"],
    )
    n_struct = int(table["structures"].sum()) if len(table) else 0
    gas = {mol for a in ads for mol in a.gas_references}
    return SpaceCounts(len(sites), n_struct, n_struct + len(gas), table)
