"""Placements: distinct starts per binding mode, orientation and height; duplicates removed."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from arsc.errors import ArscInputError
from arsc.placements import (
    PlacementGrid,
    local_distances,
    orient,
    placement_defaults,
    placements,
    same_structure,
)
from arsc.space import Site, binding_modes
from arsc.structures import TAG_ADSORBATE, TAG_M1, TAG_M2, build, check_geometry

HETERO = Site.from_id("Fe-Co_qv-n6_graphene")
HOMO = Site.from_id("Fe-Fe_qv-n6_graphene")
#: The 4 x 4 graphene cell (30 atoms bare): fast, and the benchmark's cell.
SMALL = 5.0


def _c2(atoms):
    """Turn the whole site 180 degrees about the vertical through the metals' midpoint."""
    tags = atoms.get_tags()
    m1, m2 = (atoms.positions[np.flatnonzero(tags == t)[0]] for t in (TAG_M1, TAG_M2))
    centre = 0.5 * (m1 + m2)
    out = atoms.copy()
    out.positions[:, :2] = 2 * centre[:2] - atoms.positions[:, :2]
    return out


def test_the_grid_defaults_are_the_table_and_bad_grids_are_one_line_errors() -> None:
    table = placement_defaults()
    grid = PlacementGrid()
    assert table["k"] == 3
    assert grid.rotations == tuple(float(x) for x in table["rotations"])
    assert (grid.tilts, grid.heights, grid.tolerance) == ((0.0, 30.0), (0.0, 0.4), 0.1)
    with pytest.raises(ArscInputError, match="rotations must be a non-empty list") as err:
        PlacementGrid(rotations=())
    assert "\n" not in str(err.value)
    with pytest.raises(ArscInputError, match="tolerance"):
        PlacementGrid(tolerance=0.0)


def test_every_mode_the_site_allows_is_placed_and_every_start_is_a_valid_structure() -> None:
    starts = placements(HETERO, "OOH", min_image=SMALL)
    assert {p.mode for p in starts} == set(binding_modes(HETERO, "OOH"))
    for p in starts:
        assert check_geometry(p.atoms) == []
        assert p.atoms.info["placement"] == p.label
        assert p.atoms.info["mode"] == p.mode and p.atoms.info["adsorbate"] == "OOH"
    assert starts[0].label == "top1 t0 r0 h0"
    only = placements(HETERO, "OOH", ["bridge"], min_image=SMALL)
    assert {p.mode for p in only} == {"bridge"}
    with pytest.raises(ArscInputError, match="unknown binding mode 'ontop'"):
        placements(HETERO, "OOH", ["ontop"], min_image=SMALL)


def test_starts_are_pairwise_distinct() -> None:
    starts = placements(HETERO, "OH", min_image=SMALL)
    keys = [local_distances(p.atoms) for p in starts]
    for a, b in itertools.combinations(range(len(keys)), 2):
        assert not same_structure(keys[a], keys[b], PlacementGrid().tolerance), (
            starts[a].label,
            starts[b].label,
        )
    # the grid is 2 tilts x 4 rotations x 2 heights per mode; what is left is distinct
    assert 3 < len(starts) < 3 * 2 * 4 * 2


def test_turning_an_atom_or_an_upright_molecule_gives_no_new_start() -> None:
    """One O atom: tilts and turns change nothing, only the modes and heights count."""
    o = placements(HETERO, "O", min_image=SMALL)
    assert [p.label for p in o] == [
        f"{m} t0 r0 h{h:g}" for m in ("top1", "top2", "bridge") for h in (0.0, 0.4)
    ]
    # upright OH: the four turns without tilt are one start; tilted, they differ
    oh = [p.label for p in placements(HETERO, "OH", ["top1"], min_image=SMALL)]
    assert [x for x in oh if " t0 " in x and x.endswith("h0")] == ["top1 t0 r0 h0"]
    assert sum(" t30 " in x and x.endswith("h0") for x in oh) == 4


def test_symmetry_duplicates_are_removed_and_asymmetric_ones_kept() -> None:
    """On a homonuclear pair the pocket's two-fold turn maps bridge r0 onto bridge r180."""
    bridge = build(HOMO, "OOH", "bridge", min_image=SMALL)
    turned = orient(bridge, 0.0, 180.0, 0.0)
    image = _c2(bridge)
    # the turned start is the symmetry image of the first: same local distances
    assert np.allclose(local_distances(turned), local_distances(image), atol=1e-6)
    assert same_structure(local_distances(turned), local_distances(bridge), 0.1)
    labels = [p.label for p in placements(HOMO, "OOH", ["bridge"], min_image=SMALL)]
    assert "bridge t0 r0 h0" in labels and "bridge t0 r180 h0" not in labels
    # top1 and top2 of a homonuclear pair are one mode already (arsc.space.binding_modes)
    assert {p.mode for p in placements(HOMO, "OH", min_image=SMALL)} == {"top1", "bridge"}
    # on Fe-Co nothing maps top1 r90 onto r270: both stay
    hetero = [p.label for p in placements(HETERO, "OOH", ["top1"], min_image=SMALL)]
    assert {"top1 t0 r90 h0", "top1 t0 r270 h0"} <= set(hetero)


def test_orient_moves_only_the_adsorbate_about_its_binding_atom() -> None:
    atoms = build(HETERO, "OOH", "top1", min_image=SMALL)
    moved = orient(atoms, 30.0, 90.0, 0.4)
    ads = atoms.get_tags() == TAG_ADSORBATE
    assert np.allclose(moved.positions[~ads], atoms.positions[~ads])
    binding = np.flatnonzero(ads)[0]
    assert np.allclose(moved.positions[binding] - atoms.positions[binding], [0, 0, 0.4])
    # rigid: the adsorbate keeps its internal distances
    d0 = atoms.get_all_distances()[np.ix_(ads, ads)]
    assert np.allclose(moved.get_all_distances()[np.ix_(ads, ads)], d0)
    with pytest.raises(ArscInputError, match="adsorbed state"):
        orient(build(HETERO, None, min_image=SMALL), 0.0, 0.0, 0.0)
