"""Structure builders for dual-atom sites: bare sites and adsorbed intermediates.

A site (:class:`arsc.space.Site`) becomes an :class:`ase.Atoms` in three steps:
a cached *template* is carved once per (motif, support) (supercell, removed
atoms, first shell, metal positions); the metals and first-shell elements are
set; an adsorbate is placed in a binding mode. Every structure passes
:func:`check_geometry` before it is returned.

Conventions
-----------
* The sheet lies in the xy plane; adsorbates point to +z.
* Atom order: support atoms, M1, M2, adsorbate atoms.
* ``tags``: 0 support, 1 M1, 2 M2, 3 first-shell atom, 4 adsorbate.
* ``info``: ``site_id``, ``motif``, ``support``, ``min_image``; adsorbed
  states add ``adsorbate`` and ``mode``.
* Initial magnetic moments: ``max(1, min(d, 10 - d))`` on a metal with d
  d-electrons (its high-spin moment, at least 1 to seed spin polarisation);
  adsorbate moments from ``adsorbates.yaml``; 0 elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
from ase import Atoms
from ase.data import atomic_numbers, covalent_radii
from ase.geometry import get_distances

from arsc.adsorbates import Adsorbate, adsorbates, get_adsorbate
from arsc.elements import d_block, load_elements
from arsc.errors import ArscInputError
from arsc.io import plain
from arsc.limits import MAX_ATOMS, MIN_IMAGE_DISTANCE, MIN_IMAGE_RANGE
from arsc.space import MODES, Site, binding_modes, get_motif
from arsc.supports import get_support

#: Vacuum between the top of a structure and the next periodic image, Angstrom.
VACUUM = 15.0
#: Shortest allowed distance to an H atom / between other atoms, Angstrom.
MIN_DISTANCE_H = 0.9
MIN_DISTANCE = 1.2
#: Allowed deviation of a metal-first-shell distance from the template's, Angstrom.
SHELL_TOLERANCE = 0.3

TAG_SUPPORT, TAG_M1, TAG_M2, TAG_SHELL, TAG_ADSORBATE = 0, 1, 2, 3, 4


class GeometryError(ArscInputError):
    """A built structure fails a geometry check."""


@dataclass(frozen=True)
class Template:
    """A pocket carved into a support supercell, metals not yet chosen.

    Attributes
    ----------
    atoms
        Support atoms (first shell still the pocket's shell element) and two
        placeholder metal atoms at the end; cell and pbc final.
    shell
        Indices of first-shell atoms by role (``m1``, ``m2``, ``shared``).
    metal_shell
        For each metal, the indices of its first-shell atoms.
    ideal
        For each metal, its distances to ``metal_shell`` atoms, Angstrom.
    repeat
        Supercell size n (n x n primitive cells).
    """

    atoms: Atoms
    shell: dict[str, tuple[int, ...]]
    metal_shell: tuple[tuple[int, ...], tuple[int, ...]]
    ideal: tuple[np.ndarray, np.ndarray]
    repeat: int

    @property
    def metal_indices(self) -> tuple[int, int]:
        """Indices of M1 and M2."""
        n = len(self.atoms)
        return (n - 2, n - 1)


def _max_height() -> float:
    """Tallest adsorbate extent above the sheet over all metals and modes, Angstrom."""
    table = load_elements("default")
    # the d-block metals set it, so that the extra rows of the table do not move every cell
    r_metal = max(covalent_radii[int(z)] for z in table["Z"][d_block(table)])
    best = 0.0
    for ads in adsorbates().values():
        bond = r_metal + covalent_radii[atomic_numbers[ads.binding_element]]
        best = max(best, bond + max(p[2] for p in ads.positions))
    return best


def cell_height() -> float:
    """Cell height c (Angstrom) for every structure: VACUUM + tallest adsorbate, rounded up."""
    return float(math.ceil(VACUUM + _max_height()))


def _min_image_distance(cell: np.ndarray, metals: np.ndarray) -> float:
    """Shortest distance between a metal and a metal of another in-plane image."""
    best = np.inf
    for i in range(-2, 3):
        for j in range(-2, 3):
            if i == 0 and j == 0:
                continue
            shift = i * cell[0] + j * cell[1]
            d = np.linalg.norm(metals[:, None, :] - (metals[None, :, :] + shift), axis=2)
            best = min(best, float(d.min()))
    return best


def _carve(motif_name: str, support_name: str, n: int) -> tuple[Atoms, np.ndarray]:
    """Remove the pocket's atoms from an n x n sheet; return it and the nominal metal sites."""
    pocket = get_motif(motif_name).pocket
    prim = get_support(support_name).primitive()
    sheet = prim.repeat((n, n, 1))
    a1, a2 = prim.cell[0], prim.cell[1]
    origin = (n // 2) * (a1 + a2)
    remove = []
    for i, j, k in pocket.removed:
        target = prim.positions[k] + origin + i * a1 + j * a2
        _, d = get_distances(target, sheet.positions, sheet.cell, pbc=sheet.pbc)
        idx = int(np.argmin(d[0]))
        if d[0, idx] > 0.1:  # pragma: no cover - data error
            raise RuntimeError(f"pocket {pocket.name}: no atom at removed site {(i, j, k)}")
        remove.append(idx)
    del sheet[sorted(set(remove))]
    metals = np.array([origin + f1 * a1 + f2 * a2 for f1, f2 in pocket.metal_sites])
    return sheet, metals


def pair_distances(atoms: Atoms, other: np.ndarray | None = None) -> np.ndarray:
    """Minimum-image distances, in-plane periodic (the sheet's images along c are far).

    Parameters
    ----------
    atoms
        Structure whose cell's first two vectors are periodic.
    other
        Positions to measure from (Angstrom); default the atoms' own.

    Returns
    -------
    numpy.ndarray
        ``(len(other), len(atoms))`` distances, Angstrom.
    """
    pos = atoms.positions
    src = pos if other is None else np.atleast_2d(other)
    cell = atoms.cell[:]
    diff = src[:, None, :] - pos[None, :, :]
    frac = diff @ np.linalg.inv(cell)
    frac[..., :2] -= np.round(frac[..., :2])
    diff = frac @ cell
    best = np.full(diff.shape[:2], np.inf)
    dz2 = diff[..., 2] ** 2
    for i in (-1, 0, 1):
        for j in (-1, 0, 1):
            sx, sy = i * cell[0, :2] + j * cell[1, :2]
            np.minimum(best, (diff[..., 0] + sx) ** 2 + (diff[..., 1] + sy) ** 2, out=best)
    return np.asarray(np.sqrt(best + dz2))


def _coordination(sheet: Atoms) -> np.ndarray:
    """Count the bonded neighbours of each atom (within 1.2 x the sum of covalent radii)."""
    dist = pair_distances(sheet)
    radii = covalent_radii[sheet.numbers]
    bonded = dist < 1.2 * (radii[:, None] + radii[None, :])
    np.fill_diagonal(bonded, False)
    return np.asarray(bonded.sum(axis=1))


def check_min_image(min_image: float) -> float:
    """Check a metal-image distance against :data:`MIN_IMAGE_RANGE` (Angstrom).

    Raises
    ------
    ArscInputError
        For NaN, an infinity, or a value outside the range, naming the limits.
    """
    lo, hi = MIN_IMAGE_RANGE
    try:
        value = float(min_image)
    except (TypeError, ValueError):
        raise ArscInputError(f"min_image {min_image!r} is not a number (Angstrom)") from None
    if not (math.isfinite(value) and lo <= value <= hi):
        raise ArscInputError(
            f"min_image {plain(min_image)} Angstrom is out of range; allowed: "
            f"[{lo:g}, {hi:g}] Angstrom"
        )
    return value


def _check_size(support_name: str, n: int, n_primitive: int, min_image: float) -> None:
    """Refuse a supercell of more than :data:`MAX_ATOMS` atoms before it is built."""
    atoms = n * n * n_primitive
    if atoms > MAX_ATOMS:
        raise ArscInputError(
            f"min_image {plain(min_image)} Angstrom needs a {n} x {n} {support_name} supercell "
            f"of about {atoms} atoms; the limit is {MAX_ATOMS} atoms: use a smaller min_image"
        )


@cache
def template(motif_name: str, support_name: str, min_image: float = MIN_IMAGE_DISTANCE) -> Template:
    """Carve (once, cached) the pocket of a motif into a support supercell.

    The supercell is the smallest n x n repeat of the primitive cell in which
    every metal is at least ``min_image`` (Angstrom) from every periodic
    image of either metal. The default, 10 A, gives a 6 x 6 graphene cell for
    the qv pocket; ``min_image=9.5`` gives the 48-atom 5 x 5 model.

    Raises
    ------
    ArscInputError
        If ``min_image`` is outside :data:`MIN_IMAGE_RANGE` or the supercell
        would hold more than :data:`MAX_ATOMS` atoms (checked before building).
    """
    min_image = check_min_image(min_image)
    pocket = get_motif(motif_name).pocket
    prim = get_support(support_name).primitive()
    n = max(1, math.ceil(min_image / np.linalg.norm(prim.cell[0])))
    while True:
        _check_size(support_name, n, len(prim), min_image)
        sheet, metals = _carve(motif_name, support_name, n)
        if _min_image_distance(sheet.cell[:], metals) >= min_image:
            break
        n += 1
    _, dist = get_distances(metals, sheet.positions, sheet.cell, pbc=sheet.pbc)
    near = (dist <= pocket.shell_cutoff) & (_coordination(sheet) < 3)
    roles = {
        "m1": tuple(int(i) for i in np.flatnonzero(near[0] & ~near[1])),
        "m2": tuple(int(i) for i in np.flatnonzero(near[1] & ~near[0])),
        "shared": tuple(int(i) for i in np.flatnonzero(near[0] & near[1])),
    }
    metal_shell = (roles["m1"] + roles["shared"], roles["m2"] + roles["shared"])
    c = cell_height()
    z0 = (c - _max_height()) / 2.0
    sheet.positions[:, 2] = z0
    metals[:, 2] = z0
    atoms = sheet + Atoms("X2", positions=metals)
    atoms.set_cell([sheet.cell[0], sheet.cell[1], [0.0, 0.0, c]])
    atoms.pbc = True
    tags = np.zeros(len(atoms), dtype=int)
    tags[[i for idx in roles.values() for i in idx]] = TAG_SHELL
    tags[-2:] = [TAG_M1, TAG_M2]
    atoms.set_tags(tags)
    ideal = tuple(
        get_distances(atoms.positions[m], atoms.positions[list(s)], atoms.cell, atoms.pbc)[1][0]
        for m, s in zip((-2, -1), metal_shell, strict=True)
    )
    return Template(atoms, roles, metal_shell, (ideal[0], ideal[1]), n)


#: First-shell elements counted by :func:`coordination`.
SHELL_ELEMENTS: tuple[str, ...] = ("N", "C", "O", "S", "B")


@cache
def coordination(motif_name: str, support_name: str) -> dict[str, int]:
    """First-shell composition of each metal of a motif.

    Returns
    -------
    dict
        ``coord_<El><k>``: number of first-shell atoms of element El bound to
        metal k (1 or 2), for every El in :data:`SHELL_ELEMENTS`; shared
        atoms count for both metals. ``coord_<El>_shared``: how many of them are
        shared (bound to both metals), the site-resolved part of the shell.
        For example ``qv-n6`` gives ``coord_N1 = coord_N2 = 4`` and
        ``coord_N_shared = 2``.
    """
    motif = get_motif(motif_name)
    tpl = template(motif_name, support_name)
    role_of = {i: role for role, idx in tpl.shell.items() for i in idx}
    out = {f"coord_{el}{k}": 0 for k in ("1", "2", "_shared") for el in SHELL_ELEMENTS}
    for k, shell in enumerate(tpl.metal_shell, start=1):
        for i in shell:
            out[f"coord_{motif.shell_element(role_of[i])}{k}"] += 1
    out[f"coord_{motif.shell_element('shared')}_shared"] += len(tpl.shell["shared"])
    return out


@cache
def _metal_magmoms() -> dict[str, float]:
    table = load_elements("default")
    return {str(sym): float(max(1, min(d, 10 - d))) for sym, d in table["d"].items()}


def build_site(site: Site, min_image: float = MIN_IMAGE_DISTANCE) -> Atoms:
    """Build the bare site, ready for relaxation.

    Parameters
    ----------
    site
        The candidate site.
    min_image
        Smallest allowed metal-to-periodic-image distance, Angstrom (sets the
        supercell size); within :data:`MIN_IMAGE_RANGE`.

    Returns
    -------
    ase.Atoms
        The supercell with the pocket, first-shell substitutions, metals,
        tags, initial magnetic moments and ``info`` (see module docstring).
    """
    motif = get_motif(site.motif)
    tpl = template(site.motif, site.support, min_image)
    atoms = tpl.atoms.copy()
    symbols = atoms.get_chemical_symbols()
    for role, idx in tpl.shell.items():
        for i in idx:
            symbols[i] = motif.shell_element(role)
    i1, i2 = tpl.metal_indices
    symbols[i1], symbols[i2] = site.metal1, site.metal2
    atoms.set_chemical_symbols(symbols)
    mags = np.zeros(len(atoms))
    mags[i1], mags[i2] = _metal_magmoms()[site.metal1], _metal_magmoms()[site.metal2]
    atoms.set_initial_magnetic_moments(mags)
    atoms.info.update(
        {"site_id": site.id, "motif": site.motif, "support": site.support, "min_image": min_image}
    )
    return atoms


def _bond(metal: str, element: str) -> float:
    return float(covalent_radii[atomic_numbers[metal]] + covalent_radii[atomic_numbers[element]])


def _frame(x_axis: np.ndarray) -> np.ndarray:
    """Rotation matrix mapping the adsorbate frame (x lean, z up) to the cell."""
    x = np.array([x_axis[0], x_axis[1], 0.0])
    x /= np.linalg.norm(x)
    z = np.array([0.0, 0.0, 1.0])
    return np.array([x, np.cross(z, x), z])


def _placement(bare: Atoms, ads: Adsorbate, mode: str) -> np.ndarray:
    """Cartesian positions of the adsorbate atoms for a binding mode."""
    i1, i2 = (int(np.flatnonzero(bare.get_tags() == t)[0]) for t in (TAG_M1, TAG_M2))
    p1, p2 = bare.positions[i1], bare.positions[i2]
    m1, m2 = bare[i1].symbol, bare[i2].symbol
    axis = p2 - p1
    d_mm = float(np.linalg.norm(axis[:2]))
    local = np.array(ads.side_on_positions if mode == "side-on" else ads.positions)
    if mode in ("top1", "top2"):
        here, other, metal = (p1, p2, m1) if mode == "top1" else (p2, p1, m2)
        rot = _frame(here - other)
        anchor = here + np.array([0.0, 0.0, _bond(metal, ads.binding_element)])
        return np.asarray(anchor + local @ rot)
    bond = 0.5 * (_bond(m1, ads.binding_element) + _bond(m2, ads.binding_element))
    half = 0.5 * d_mm
    if mode == "side-on":
        half = 0.5 * (d_mm - float(np.ptp(local[:, 0])))
        rot = _frame(axis)
    else:
        rot = _frame(np.cross([0.0, 0.0, 1.0], axis))
    height = math.sqrt(max(bond**2 - half**2, (0.5 * bond) ** 2))
    anchor = 0.5 * (p1 + p2) + [0.0, 0.0, height]
    return np.asarray(anchor + local @ rot)


def build_adsorbed(
    site: Site, adsorbate: str, mode: str = "top1", min_image: float = MIN_IMAGE_DISTANCE
) -> Atoms:
    """Build a site with one adsorbate in a binding mode.

    Parameters
    ----------
    site
        The candidate site.
    adsorbate
        Intermediate name, e.g. ``"OH"``.
    mode
        ``top1``, ``top2``, ``bridge`` or ``side-on``.
    min_image
        As for :func:`build_site`.

    Raises
    ------
    ArscInputError
        If the mode is unknown or not available for this site and adsorbate
        (the message lists the available ones).
    """
    return add_adsorbate(build_site(site, min_image), adsorbate, mode)


def add_adsorbate(bare: Atoms, adsorbate: str, mode: str = "top1") -> Atoms:
    """Place one adsorbate on a bare site, as built or relaxed (e.g. by DFT).

    The adsorbate sits where :func:`build_adsorbed` puts it, relative to the
    metals' current positions, so that adsorbed states can start from a
    relaxed bare site.

    Parameters
    ----------
    bare
        A bare site with the tags and ``info["site_id"]`` of :func:`build_site`
        (positions may have moved); not modified.
    adsorbate, mode
        As for :func:`build_adsorbed`.

    Raises
    ------
    ArscInputError
        If ``bare`` carries no site id, or the mode is unknown or not
        available for this site and adsorbate (the message lists the available ones).
    """
    if "site_id" not in bare.info:
        raise ArscInputError("add_adsorbate needs a bare site from build_site (info['site_id'])")
    site = Site.from_id(str(bare.info["site_id"]))
    ads = get_adsorbate(adsorbate)
    available = binding_modes(site, ads)
    if mode not in available:
        why = "unknown mode" if mode not in MODES else "mode not available"
        raise ArscInputError(
            f"{why} {mode!r} for {adsorbate} on {site.id}; available: {', '.join(available)}"
        )
    atoms = bare.copy()
    part = ads.atoms(side_on=mode == "side-on")
    part.positions = _placement(atoms, ads, mode)
    part.set_tags([TAG_ADSORBATE] * len(part))
    mags = np.concatenate(
        [atoms.get_initial_magnetic_moments(), part.get_initial_magnetic_moments()]
    )
    info = dict(atoms.info)
    atoms += part
    atoms.set_initial_magnetic_moments(mags)
    atoms.info = {**info, "adsorbate": adsorbate, "mode": mode}
    return atoms


def build(
    site: Site,
    adsorbate: str | None = None,
    mode: str = "top1",
    *,
    min_image: float = MIN_IMAGE_DISTANCE,
    check: bool = True,
) -> Atoms:
    """Build the bare site (``adsorbate=None``) or an adsorbed state, checked.

    See :func:`build_site` and :func:`build_adsorbed` for the parameters.

    Raises
    ------
    ArscInputError
        If ``min_image`` is outside :data:`MIN_IMAGE_RANGE` (Angstrom) or the
        supercell would exceed :data:`MAX_ATOMS` atoms; checked before building.
    GeometryError
        If ``check`` and the structure fails :func:`check_geometry`.
    """
    min_image = check_min_image(min_image)
    if adsorbate is None:
        atoms = build_site(site, min_image)
    else:
        atoms = build_adsorbed(site, adsorbate, mode, min_image)
    if check:
        problems = check_geometry(atoms)
        if problems:
            what = "bare" if adsorbate is None else f"{adsorbate} {mode}"
            raise GeometryError(f"{atoms.info['site_id']} {what}: " + "; ".join(problems))
    return atoms


def check_geometry(atoms: Atoms) -> list[str]:
    """Check a built structure; return the problems found (empty if none).

    Checks: vacuum >= ``VACUUM``; metal-image distance >= ``info["min_image"]``;
    no two atoms closer than ``MIN_DISTANCE_H`` (either is H) or
    ``MIN_DISTANCE`` (neither is), except bonded atoms inside one adsorbate,
    whose distances must instead match the adsorbate's template within
    0.05 A; every metal-first-shell distance within ``SHELL_TOLERANCE`` of
    the motif's template; the adsorbate's binding atom closest to the
    intended metal(s).
    """
    problems: list[str] = []
    tags = atoms.get_tags()
    pos = atoms.positions
    c = float(atoms.cell[2, 2])
    vac = c - float(np.ptp(pos[:, 2]))
    if vac < VACUUM - 1e-6:
        problems.append(f"vacuum {vac:.2f} A < {VACUUM} A")
    metals = np.flatnonzero((tags == TAG_M1) | (tags == TAG_M2))
    min_image = float(atoms.info.get("min_image", MIN_IMAGE_DISTANCE))
    img = _min_image_distance(atoms.cell[:], pos[metals])
    if img < min_image - 1e-6:
        problems.append(f"metal periodic images {img:.2f} A apart < {min_image} A")
    dist = pair_distances(atoms)
    ads = tags == TAG_ADSORBATE
    is_h = np.array(atoms.get_chemical_symbols()) == "H"
    limit = np.where(is_h[:, None] | is_h[None, :], MIN_DISTANCE_H, MIN_DISTANCE)
    intra = ads[:, None] & ads[None, :]
    bad = np.argwhere(np.triu((dist < limit) & ~intra, k=1))
    for i, j in bad[:3]:
        problems.append(f"atoms {i}{atoms[i].symbol}-{j}{atoms[j].symbol} {dist[i, j]:.2f} A apart")
    problems.extend(_check_shell(atoms, dist))
    if ads.any():
        problems.extend(_check_adsorbate(atoms, dist))
    return problems


def _check_shell(atoms: Atoms, dist: np.ndarray) -> list[str]:
    info = atoms.info
    tpl = template(info["motif"], info["support"], float(info.get("min_image", MIN_IMAGE_DISTANCE)))
    out = []
    tags = atoms.get_tags()
    for k, tag in enumerate((TAG_M1, TAG_M2)):
        m = int(np.flatnonzero(tags == tag)[0])
        got = dist[m, list(tpl.metal_shell[k])]
        dev = np.abs(got - tpl.ideal[k])
        if dev.size and dev.max() > SHELL_TOLERANCE:
            out.append(f"M{k + 1}-first-shell distance off the motif's by {dev.max():.2f} A")
    return out


def _check_adsorbate(atoms: Atoms, dist: np.ndarray) -> list[str]:
    info = atoms.info
    ads = get_adsorbate(info["adsorbate"])
    mode = info["mode"]
    tags = atoms.get_tags()
    idx = np.flatnonzero(tags == TAG_ADSORBATE)
    out = []
    ref = np.array(ads.side_on_positions if mode == "side-on" else ads.positions)
    ref_d = np.linalg.norm(ref[:, None] - ref[None, :], axis=2)
    if np.abs(dist[np.ix_(idx, idx)] - ref_d).max() > 0.05:
        out.append(f"{ads.name} internal geometry differs from its template")
    m1 = int(np.flatnonzero(tags == TAG_M1)[0])
    m2 = int(np.flatnonzero(tags == TAG_M2)[0])
    host = np.flatnonzero(tags != TAG_ADSORBATE)
    binders = idx[:2] if mode == "side-on" else idx[:1]
    intended = {"top1": {m1}, "top2": {m2}, "bridge": {m1, m2}, "side-on": {m1, m2}}[mode]
    nearest: set[int] = set()
    for b in binders:
        order = host[np.argsort(dist[b, host])]
        nearest.update(int(i) for i in order[: 2 if mode == "bridge" else 1])
    if nearest != intended:
        out.append(
            f"{ads.name} {mode}: binding atom nearest to atoms {sorted(nearest)}, "
            f"not the intended metal(s) {sorted(intended)}"
        )
    return out


def space_table(sites: Sequence[Site]) -> pd.DataFrame:
    """One row per site: id, metals, motif, support, symmetric flag, pocket, first shells.

    The table is also an ARSC input table: ``metal1`` is the binding metal
    of top1 adsorption, and ``coord_<El><k>`` count the first-shell atoms of
    element El bound to metal k (see :func:`coordination`).
    """
    return pd.DataFrame(
        [
            {
                "id": s.id,
                "metal1": s.metal1,
                "metal2": s.metal2,
                "motif": s.motif,
                "support": s.support,
                "symmetric": get_motif(s.motif).symmetric,
                "pocket": get_motif(s.motif).pocket.name,
                **coordination(s.motif, s.support),
            }
            for s in sites
        ]
    )


def site_states(site: Site, intermediates: Sequence[str]) -> list[tuple[str | None, str | None]]:
    """Return (adsorbate, mode) of every state of a site: the bare site (None, None) first.

    Each intermediate comes in every binding mode the site allows
    (:func:`arsc.space.binding_modes`, symmetry duplicates removed).

    Examples
    --------
    >>> site_states(Site.from_id("Fe-Fe_qv-n6_graphene"), ["OH"])
    [(None, None), ('OH', 'top1'), ('OH', 'bridge')]
    """
    states: list[tuple[str | None, str | None]] = [(None, None)]
    for ads in intermediates:
        states.extend((ads, mode) for mode in binding_modes(site, ads))
    return states
