"""DAC-specific anomaly checks on a relaxed structure.

A relaxation can end in a structure that is no longer the state it was meant
to be: a metal that left its pocket, two metals that aggregated into a
dimer, an adsorbate that desorbed, dissociated or moved to another binding
mode (top -> bridge). :func:`check_anomalies`
compares the initial and final structures (tags and ``info`` as set by
:func:`arsc.structures.build`) with the motif's template and the adsorbate's
template geometry and returns one flag per problem, ``"<code>: <details>"``,
for :attr:`workflows.schemas.CalcDoc.anomalies`. Thresholds and their
reasons are data (``workflows/data/anomalies.yaml``).

Examples
--------
>>> from arsc.space import Site
>>> from arsc.structures import build
>>> atoms = build(Site.from_id("Fe-Co_qv-n6_graphene"), "OH", min_image=9.5)
>>> check_anomalies(atoms, atoms)
[]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import cache
from importlib.resources import files

import numpy as np
from ase import Atoms
from ase.data import covalent_radii
from ase.geometry import find_mic

from arsc.adsorbates import get_adsorbate
from arsc.limits import MIN_IMAGE_DISTANCE
from arsc.structures import TAG_ADSORBATE, TAG_M1, TAG_M2, template

METAL_LEFT_POCKET = "metal_left_pocket"
METAL_OUT_OF_PLANE = "metal_out_of_plane"
PAIR_AGGREGATED = "pair_aggregated"
ADSORBATE_DESORBED = "adsorbate_desorbed"
ADSORBATE_DISSOCIATED = "adsorbate_dissociated"
ADSORBATE_MOVED = "adsorbate_moved"


@dataclass(frozen=True)
class Thresholds:
    """Thresholds of the checks (Angstrom or dimensionless; see ``anomalies.yaml``)."""

    metal_shell_tolerance: float
    metal_out_of_plane: float
    pair_bonded_factor: float
    pair_shrink_fraction: float
    desorbed_tolerance: float
    dissociated_factor: float
    intramolecular_bond_factor: float
    site_bond_factor: float

    @classmethod
    @cache
    def default(cls) -> Thresholds:
        """Thresholds from ``workflows/data/anomalies.yaml``."""
        import yaml

        data = yaml.safe_load(files("workflows.data").joinpath("anomalies.yaml").read_text())
        return cls(**{f.name: float(data[f.name]["value"]) for f in fields(cls)})


def _vector(atoms: Atoms, i: int, j: np.ndarray | list[int]) -> np.ndarray:
    """Minimum-image vectors from atom i to atoms j, Angstrom."""
    vec, _ = find_mic(atoms.positions[j] - atoms.positions[i], atoms.cell, atoms.pbc)
    return np.asarray(vec)


def _dist(atoms: Atoms, i: int, j: np.ndarray | list[int]) -> np.ndarray:
    return np.asarray(np.linalg.norm(_vector(atoms, i, j), axis=-1))


def _metal(atoms: Atoms, tag: int) -> int | None:
    idx = np.flatnonzero(atoms.get_tags() == tag)
    return int(idx[0]) if idx.size else None


def _radius(atoms: Atoms, i: int) -> float:
    return float(covalent_radii[atoms.numbers[i]])


def _metals(atoms: Atoms) -> list[tuple[str, int]]:
    out = []
    for label, tag in (("M1", TAG_M1), ("M2", TAG_M2)):
        m = _metal(atoms, tag)
        if m is not None:
            out.append((label, m))
    return out


def _shells(final: Atoms) -> list[tuple[str, int, list[int], np.ndarray]]:
    """(label, metal index, first-shell indices, ideal distances) from the motif template."""
    info = final.info
    if "motif" not in info or "support" not in info:
        return []
    tpl = template(info["motif"], info["support"], float(info.get("min_image", MIN_IMAGE_DISTANCE)))
    if len(final) < len(tpl.atoms):
        return []
    out = []
    for (label, m), shell, ideal in zip(_metals(final), tpl.metal_shell, tpl.ideal, strict=False):
        out.append((label, m, list(shell), np.asarray(ideal)))
    return out


def metal_left_pocket(initial: Atoms, final: Atoms, th: Thresholds) -> list[str]:
    """Flag a metal-first-shell bond longer than its template value + tolerance."""
    flags = []
    for label, m, shell, ideal in _shells(final):
        if not shell:
            continue
        excess = _dist(final, m, shell) - ideal
        k = int(np.argmax(excess))
        if excess[k] > th.metal_shell_tolerance:
            j = shell[k]
            flags.append(
                f"{METAL_LEFT_POCKET}: {label} {final[m].symbol}-{final[j].symbol}{j} "
                f"{ideal[k] + excess[k]:.2f} A > template {ideal[k]:.2f} + "
                f"{th.metal_shell_tolerance} A"
            )
    return flags


def metal_out_of_plane(initial: Atoms, final: Atoms, th: Thresholds) -> list[str]:
    """Flag a metal displaced from the mean plane of its first shell by more than the threshold."""
    flags = []
    for label, m, shell, _ in _shells(final):
        if not shell:
            continue
        height = -float(_vector(final, m, shell)[:, 2].mean())
        if abs(height) > th.metal_out_of_plane:
            flags.append(
                f"{METAL_OUT_OF_PLANE}: {label} {final[m].symbol} {height:+.2f} A from the "
                f"plane of its first shell (limit {th.metal_out_of_plane} A)"
            )
    return flags


def pair_aggregated(initial: Atoms, final: Atoms, th: Thresholds) -> list[str]:
    """Flag metals that became bonded, or whose distance shrank by more than the threshold."""
    metals = _metals(final)
    if len(metals) < 2 or len(_metals(initial)) < 2:
        return []
    (_, m1), (_, m2) = metals
    d0 = float(_dist(initial, m1, [m2])[0])
    d1 = float(_dist(final, m1, [m2])[0])
    bonded = th.pair_bonded_factor * (_radius(final, m1) + _radius(final, m2))
    pair = f"{final[m1].symbol}-{final[m2].symbol}"
    if d0 > bonded >= d1:
        return [f"{PAIR_AGGREGATED}: {pair} {d0:.2f} -> {d1:.2f} A, now bonded (< {bonded:.2f} A)"]
    if d1 < (1.0 - th.pair_shrink_fraction) * d0:
        return [
            f"{PAIR_AGGREGATED}: {pair} {d0:.2f} -> {d1:.2f} A, shrank by more than "
            f"{100 * th.pair_shrink_fraction:.0f} %"
        ]
    return []


def _adsorbate(final: Atoms) -> tuple[np.ndarray, np.ndarray] | None:
    """(adsorbate atom indices, template positions) or None for a bare site."""
    name = final.info.get("adsorbate")
    idx = np.flatnonzero(final.get_tags() == TAG_ADSORBATE)
    if not name or name == "bare" or not idx.size:
        return None
    ads = get_adsorbate(name)
    side_on = final.info.get("mode") == "side-on" and ads.side_on_positions is not None
    ref = np.array(ads.side_on_positions if side_on else ads.positions)
    if len(ref) != idx.size:
        return None
    return idx, ref


def _binding_atoms(final: Atoms) -> list[int]:
    """Return the adsorbate atoms bound to the site: the first one, the first two side-on."""
    found = _adsorbate(final)
    if found is None:
        return []
    idx = found[0]
    return [int(i) for i in (idx[:2] if final.info.get("mode") == "side-on" else idx[:1])]


def adsorbate_desorbed(initial: Atoms, final: Atoms, th: Thresholds) -> list[str]:
    """Flag binding atom(s) farther than bond length + tolerance from every metal."""
    metals = _metals(final)
    if not metals:
        return []
    flags = []
    for b in _binding_atoms(final):
        gaps = [
            float(_dist(final, b, [m])[0]) - (_radius(final, b) + _radius(final, m))
            for _, m in metals
        ]
        if min(gaps) > th.desorbed_tolerance:
            flags.append(
                f"{ADSORBATE_DESORBED}: {final.info['adsorbate']} binding atom "
                f"{final[b].symbol}{b} {min(gaps):.2f} A beyond bonding distance to every metal "
                f"(limit {th.desorbed_tolerance} A)"
            )
    return flags


def adsorbate_dissociated(initial: Atoms, final: Atoms, th: Thresholds) -> list[str]:
    """Flag an adsorbate bond stretched beyond factor x its template length."""
    found = _adsorbate(final)
    if found is None:
        return []
    idx, ref = found
    radii = covalent_radii[final.numbers[idx]]
    ref_d = np.linalg.norm(ref[:, None] - ref[None, :], axis=2)
    flags = []
    for a in range(len(idx)):
        for b in range(a + 1, len(idx)):
            if ref_d[a, b] > th.intramolecular_bond_factor * (radii[a] + radii[b]):
                continue
            d = float(_dist(final, int(idx[a]), [int(idx[b])])[0])
            if d > th.dissociated_factor * ref_d[a, b]:
                i, j = int(idx[a]), int(idx[b])
                flags.append(
                    f"{ADSORBATE_DISSOCIATED}: {final.info['adsorbate']} "
                    f"{final[i].symbol}{i}-{final[j].symbol}{j} {d:.2f} A > "
                    f"{th.dissociated_factor} x {ref_d[a, b]:.2f} A"
                )
    return flags


def _bound_metals(atoms: Atoms, b: int, metals: list[tuple[str, int]], factor: float) -> list[str]:
    """Labels (``Fe1``) of the metals the atom ``b`` is bonded to."""
    return [
        f"{atoms[m].symbol}{m}"
        for _, m in metals
        if float(_dist(atoms, b, [m])[0]) < factor * (_radius(atoms, b) + _radius(atoms, m))
    ]


def adsorbate_moved(initial: Atoms, final: Atoms, th: Thresholds) -> list[str]:
    """Flag a binding atom bonded to another set of metals than at the start (top -> bridge, ...).

    The state then no longer is the binding mode it was built as; a binding
    atom bonded to no metal at the end is left to :func:`adsorbate_desorbed`.
    """
    metals = _metals(final)
    if not metals or len(initial) != len(final):
        return []
    flags = []
    for b in _binding_atoms(final):
        before = _bound_metals(initial, b, metals, th.site_bond_factor)
        after = _bound_metals(final, b, metals, th.site_bond_factor)
        if after and after != before:
            flags.append(
                f"{ADSORBATE_MOVED}: {final.info['adsorbate']} {final.info.get('mode', '')} "
                f"binding atom {final[b].symbol}{b} bonded to {'+'.join(before) or 'no metal'} "
                f"at the start, to {'+'.join(after)} at the end"
            )
    return flags


Check = Callable[[Atoms, Atoms, Thresholds], list[str]]

#: Every check, by flag code.
CHECKS: dict[str, Check] = {
    METAL_LEFT_POCKET: metal_left_pocket,
    METAL_OUT_OF_PLANE: metal_out_of_plane,
    PAIR_AGGREGATED: pair_aggregated,
    ADSORBATE_DESORBED: adsorbate_desorbed,
    ADSORBATE_DISSOCIATED: adsorbate_dissociated,
    ADSORBATE_MOVED: adsorbate_moved,
}


def check_anomalies(
    initial: Atoms, final: Atoms, thresholds: Thresholds | None = None
) -> list[str]:
    """Run every DAC anomaly check on a relaxation's initial and final structures.

    Parameters
    ----------
    initial, final
        Structures with the same atoms in the same order (tags 1/2 metals,
        3 first shell, 4 adsorbate; ``info`` motif, support, min_image,
        adsorbate, mode). Checks whose information is missing (a gas molecule,
        a structure without tags) are skipped.
    thresholds
        Default: :meth:`Thresholds.default`.

    Returns
    -------
    list of str
        One ``"<code>: <details>"`` flag per problem found; empty if none.
    """
    th = thresholds or Thresholds.default()
    flags: list[str] = []
    for check in CHECKS.values():
        flags.extend(check(initial, final, th))
    return flags
