"""Placements: several distinct starting geometries of one adsorbate on one site.

A relaxation ends in the minimum nearest its start, and on a dual-atom site
the minima of one intermediate lie eV apart (*OH on Fe-Co relaxed from two
starts ended 0.41 eV apart: docs/engines.md). So every intermediate starts
from several placements: each binding mode the site allows
(:func:`arsc.space.binding_modes`), and in each mode the adsorbate tilted,
turned about the vertical and raised (:class:`PlacementGrid`; defaults in
``arsc/data/protocols.yaml``, ``placements``). Starts that fail
:func:`arsc.structures.check_geometry` are left out, and so are symmetry
duplicates: two structures are one when the local distances of
:func:`local_distances` agree within a tolerance, which holds for mirror
images and for turns of a molecule that is symmetric about its axis.

Pure geometry (ASE); the MLIP screening of the starts is
:mod:`workflows.placements`.

Examples
--------
>>> from arsc.space import Site
>>> starts = placements(Site.from_id("Fe-Co_qv-n6_graphene"), "O", min_image=5.0)
>>> [p.label for p in starts if p.height == 0]  # one atom: tilts and turns are one start
['top1 t0 r0 h0', 'top2 t0 r0 h0', 'bridge t0 r0 h0']
>>> len(starts)  # each also raised by 0.4 A
6
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import Any

import numpy as np
from ase import Atoms

from arsc.errors import ArscInputError
from arsc.limits import MIN_IMAGE_DISTANCE
from arsc.space import MODES, Site, binding_modes
from arsc.structures import (
    TAG_ADSORBATE,
    TAG_M1,
    TAG_M2,
    add_adsorbate,
    build,
    check_geometry,
    pair_distances,
)


@cache
def _table() -> dict[str, Any]:
    import yaml

    data = yaml.safe_load(files("arsc.data").joinpath("protocols.yaml").read_text())
    return dict(data["placements"])


def placement_defaults() -> dict[str, Any]:
    """Return the ``placements`` section of ``arsc/data/protocols.yaml`` (k, grid, tolerance)."""
    return dict(_table())


def _floats(key: str) -> tuple[float, ...]:
    return tuple(float(x) for x in _table()[key])


@dataclass(frozen=True)
class PlacementGrid:
    """The orientations and heights tried in every binding mode.

    Attributes
    ----------
    tilts
        Angles from the built orientation, degrees, about the horizontal axis
        through the binding atom(s) perpendicular to the lean direction.
    rotations
        Angles about the vertical axis through the binding atom(s), degrees
        (after the tilt).
    heights
        Added to the built height of the adsorbate, Angstrom.
    tolerance
        Two structures whose local distances (:func:`local_distances`) differ
        by less, Angstrom, are one.
    neighbours
        Nearest atoms of each element counted in the local distances.
    """

    tilts: tuple[float, ...] = field(default_factory=lambda: _floats("tilts"))
    rotations: tuple[float, ...] = field(default_factory=lambda: _floats("rotations"))
    heights: tuple[float, ...] = field(default_factory=lambda: _floats("heights"))
    tolerance: float = field(default_factory=lambda: float(_table()["tolerance"]))
    neighbours: int = field(default_factory=lambda: int(_table()["neighbours"]))

    def __post_init__(self) -> None:
        for name in ("tilts", "rotations", "heights"):
            values = getattr(self, name)
            if not values or not all(np.isfinite(values)):
                raise ArscInputError(
                    f"placement grid: {name} must be a non-empty list of finite numbers"
                )
        if not (np.isfinite(self.tolerance) and self.tolerance > 0):
            raise ArscInputError(f"placement grid: tolerance {self.tolerance} must be > 0 Angstrom")
        if self.neighbours < 1:
            raise ArscInputError(f"placement grid: neighbours {self.neighbours} must be >= 1")


@dataclass(frozen=True)
class Placement:
    """One start of an adsorbate on a site.

    Attributes
    ----------
    mode
        Binding mode (``top1``, ``top2``, ``bridge``, ``side-on``).
    tilt, rotation
        Degrees (see :class:`PlacementGrid`).
    height
        Angstrom added to the built height.
    atoms
        The structure (``info["placement"]`` holds :attr:`label`).
    """

    mode: str
    tilt: float
    rotation: float
    height: float
    atoms: Atoms = field(compare=False, repr=False)

    @property
    def label(self) -> str:
        """Short name, e.g. ``top1 t30 r90 h0.4``."""
        return f"{self.mode} t{self.tilt:g} r{self.rotation:g} h{self.height:g}"


def _rotation(axis: np.ndarray, degrees: float) -> np.ndarray:
    """Rotation matrix about a unit axis (right hand), acting on row vectors from the right."""
    a = np.radians(degrees)
    x, y, z = axis / np.linalg.norm(axis)
    c, s, t = np.cos(a), np.sin(a), 1.0 - np.cos(a)
    mat = np.array(
        [
            [t * x * x + c, t * x * y - s * z, t * x * z + s * y],
            [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
            [t * x * z - s * y, t * y * z + s * x, t * z * z + c],
        ]
    )
    return mat.T


def orient(atoms: Atoms, tilt: float, rotation: float, height: float) -> Atoms:
    """Return a copy with the adsorbate (tag 4) tilted, turned and raised about its binding atom(s).

    The pivot is the binding atom (the mean of the first two adsorbate atoms
    side-on); the tilt axis is horizontal and perpendicular to the
    adsorbate's lean (from the pivot to its centroid; from M1 to M2 when it
    stands upright).
    """
    out = atoms.copy()
    idx = np.flatnonzero(out.get_tags() == TAG_ADSORBATE)
    if not idx.size:
        raise ArscInputError("orient needs an adsorbed state (atoms tagged 4)")
    pos = out.positions[idx]
    pivot = pos[:2].mean(axis=0) if out.info.get("mode") == "side-on" else pos[0]
    lean = pos.mean(axis=0) - pivot
    lean[2] = 0.0
    if np.linalg.norm(lean) < 1e-6:  # upright: tilt towards M2, a direction of the site
        m1, m2 = (out.positions[np.flatnonzero(out.get_tags() == t)[0]] for t in (TAG_M1, TAG_M2))
        lean = np.array([m2[0] - m1[0], m2[1] - m1[1], 0.0])
    tilt_axis = np.cross([0.0, 0.0, 1.0], lean)
    rel = pos - pivot
    rel = rel @ _rotation(tilt_axis, tilt) @ _rotation(np.array([0.0, 0.0, 1.0]), rotation)
    out.positions[idx] = pivot + rel + np.array([0.0, 0.0, height])
    return out


def local_distances(atoms: Atoms, neighbours: int = 3, cutoff: float = 6.0) -> np.ndarray:
    """Return the local-environment distances of the metals and the adsorbate, Angstrom.

    For each metal and each adsorbate atom, and for each element of the
    structure, the ``neighbours`` shortest distances to atoms of that
    element (in-plane periodic; capped at ``cutoff``). Metals of one element
    are ordered by their distances, adsorbate atoms keep their order. The
    array is invariant under the site's symmetry operations (a turn that
    swaps two like metals, a mirror), so two structures are one when their
    arrays agree within a tolerance.
    """
    tags = atoms.get_tags()
    metals = np.flatnonzero((tags == TAG_M1) | (tags == TAG_M2))
    keys = np.concatenate([metals, np.flatnonzero(tags == TAG_ADSORBATE)])
    dist = pair_distances(atoms, atoms.positions[keys])
    symbols = np.array(atoms.get_chemical_symbols())
    rows = []
    for row, i in zip(dist, keys, strict=True):
        row = row.copy()
        row[i] = np.inf
        parts = []
        for element in sorted(set(symbols)):
            near = np.minimum(np.sort(row[symbols == element])[:neighbours], cutoff)
            parts.append(np.pad(near, (0, neighbours - near.size), constant_values=cutoff))
        rows.append(np.concatenate(parts))
    head = sorted(zip(symbols[metals], rows[: metals.size], strict=True), key=_metal_order)
    return np.concatenate([r for _, r in head] + rows[metals.size :])


def _metal_order(item: tuple[str, np.ndarray]) -> tuple[str, tuple[float, ...]]:
    return str(item[0]), tuple(np.round(item[1], 2))


def same_structure(a: np.ndarray, b: np.ndarray, tolerance: float) -> bool:
    """Whether two :func:`local_distances` arrays are one structure (within ``tolerance``, A)."""
    return a.shape == b.shape and float(np.max(np.abs(a - b))) < tolerance


def _modes(site: Site, adsorbate: str, modes: Sequence[str] | None) -> list[str]:
    available = binding_modes(site, adsorbate)
    if modes is None:
        return list(available)
    for mode in modes:
        if mode not in MODES:
            raise ArscInputError(f"unknown binding mode {mode!r}; allowed: {', '.join(MODES)}")
    return [m for m in available if m in modes]


def placements(
    site: Site,
    adsorbate: str,
    modes: Sequence[str] | None = None,
    grid: PlacementGrid | None = None,
    *,
    min_image: float = MIN_IMAGE_DISTANCE,
) -> list[Placement]:
    """Return the distinct starts of an adsorbate on a site, mode by mode.

    Parameters
    ----------
    site
        The site.
    adsorbate
        Intermediate name (``adsorbates.yaml``).
    modes
        Binding modes to use (None: every mode the site allows); modes the
        site does not allow for this adsorbate are skipped.
    grid
        Tilts, rotations and heights (default :class:`PlacementGrid`).
    min_image
        Smallest metal-image distance of the supercell, Angstrom.

    Returns
    -------
    list of Placement
        In order mode, tilt, rotation, height; a start that fails
        :func:`arsc.structures.check_geometry` or repeats an earlier one
        (within ``grid.tolerance``) is left out.

    Raises
    ------
    ArscInputError
        Unknown adsorbate or binding mode, or a bad ``min_image``.
    """
    grid = grid or PlacementGrid()
    bare = build(site, None, min_image=min_image)
    kept: list[tuple[Placement, np.ndarray]] = []
    for mode in _modes(site, adsorbate, modes):
        base = add_adsorbate(bare, adsorbate, mode)
        for tilt in grid.tilts:
            for rotation in grid.rotations:
                for height in grid.heights:
                    atoms = orient(base, tilt, rotation, height)
                    if check_geometry(atoms):
                        continue
                    key = local_distances(atoms, grid.neighbours)
                    if any(same_structure(key, k, grid.tolerance) for _, k in kept):
                        continue
                    start = Placement(mode, tilt, rotation, height, atoms)
                    atoms.info["placement"] = start.label
                    kept.append((start, key))
    return [p for p, _ in kept]
