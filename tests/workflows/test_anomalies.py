"""DAC anomaly checks on hand-made distorted structures built with arsc.structures.build."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from ase.build import molecule

from arsc.space import Site
from arsc.structures import TAG_ADSORBATE, TAG_M1, TAG_M2, build
from workflows.anomalies import (
    ADSORBATE_DESORBED,
    ADSORBATE_DISSOCIATED,
    ADSORBATE_MOVED,
    CHECKS,
    METAL_LEFT_POCKET,
    METAL_OUT_OF_PLANE,
    PAIR_AGGREGATED,
    Thresholds,
    check_anomalies,
)

SITE = Site.from_id("Fe-Co_qv-n6_graphene")


def _codes(flags: list[str]) -> set[str]:
    return {f.split(":", 1)[0] for f in flags}


def _index(atoms, tag: int) -> int:
    return int(np.flatnonzero(atoms.get_tags() == tag)[0])


@pytest.fixture(scope="module")
def bare():
    return build(SITE, min_image=9.5)


@pytest.fixture(scope="module")
def oh():
    return build(SITE, "OH", "top1", min_image=9.5)


def test_built_bare_and_adsorbed_structures_have_no_flags(bare, oh) -> None:
    assert check_anomalies(bare, bare) == []
    assert check_anomalies(oh, oh) == []


def test_metal_lifted_2_angstrom_left_pocket_and_out_of_plane(bare) -> None:
    final = bare.copy()
    final.positions[_index(final, TAG_M1), 2] += 2.0
    flags = check_anomalies(bare, final)
    assert _codes(flags) == {METAL_LEFT_POCKET, METAL_OUT_OF_PLANE}
    assert all(f.split(": ", 1)[1].startswith("M1") for f in flags)


def test_moderate_pucker_of_1_angstrom_is_not_flagged(bare) -> None:
    final = bare.copy()
    final.positions[_index(final, TAG_M2), 2] -= 1.0
    assert check_anomalies(bare, final) == []


def test_metal_shifted_in_plane_left_pocket_but_not_out_of_plane(bare) -> None:
    final = bare.copy()
    m1, m2 = _index(final, TAG_M1), _index(final, TAG_M2)
    away = final.positions[m1] - final.positions[m2]
    final.positions[m1] += 1.0 * away / np.linalg.norm(away)
    assert _codes(check_anomalies(bare, final)) == {METAL_LEFT_POCKET}


def test_pair_distance_shrunk_by_27_percent_is_aggregated(bare) -> None:
    final = bare.copy()
    m1, m2 = _index(final, TAG_M1), _index(final, TAG_M2)
    mid = 0.5 * (final.positions[m1] + final.positions[m2])
    for m in (m1, m2):  # 2.46 A -> 1.80 A
        final.positions[m] = mid + (final.positions[m] - mid) * (1.80 / 2.46)
    flags = [f for f in check_anomalies(bare, final) if f.startswith(PAIR_AGGREGATED)]
    assert len(flags) == 1
    assert "shrank" in flags[0]


def test_pair_that_became_bonded_is_aggregated(bare) -> None:
    # a non-bonded initial pair (M2 moved 3 A away) that ends at the bonded distance
    initial = bare.copy()
    m1, m2 = _index(initial, TAG_M1), _index(initial, TAG_M2)
    axis = initial.positions[m2] - initial.positions[m1]
    initial.positions[m2] += 3.0 * axis / np.linalg.norm(axis)
    flags = [f for f in check_anomalies(initial, bare) if f.startswith(PAIR_AGGREGATED)]
    assert len(flags) == 1
    assert "now bonded" in flags[0]


def test_adsorbate_moved_3_angstrom_up_is_desorbed_not_dissociated(oh) -> None:
    final = oh.copy()
    final.positions[final.get_tags() == TAG_ADSORBATE, 2] += 3.0
    assert _codes(check_anomalies(oh, final)) == {ADSORBATE_DESORBED}


def test_oh_tilted_into_the_fe_co_bridge_has_moved(oh) -> None:
    """The geometry CHGNet gave *OH top1 on the DFT-relaxed site (docs/engines.md)."""
    final = oh.copy()
    fe, co = _index(final, TAG_M1), _index(final, TAG_M2)
    o, h = np.flatnonzero(final.get_tags() == TAG_ADSORBATE)
    # O at 1.87 A from Fe and 2.12 A from Co, in the plane of the pair axis
    p_fe, p_co = final.positions[fe], final.positions[co]
    axis = (p_co - p_fe) / np.linalg.norm(p_co - p_fe)
    d = float(np.linalg.norm(p_co - p_fe))
    x = (1.87**2 - 2.12**2 + d**2) / (2 * d)
    final.positions[o] = p_fe + x * axis + [0.0, 0.0, np.sqrt(1.87**2 - x**2)]
    final.positions[h] = final.positions[o] + [0.0, 0.0, 0.98]
    flags = check_anomalies(oh, final)
    assert _codes(flags) == {ADSORBATE_MOVED}
    assert f"Fe{fe} at the start, to Fe{fe}+Co{co} at the end" in flags[0]


def test_oh_leaning_on_its_own_metal_has_not_moved(oh) -> None:
    final = oh.copy()
    final.positions[final.get_tags() == TAG_ADSORBATE] += [0.3, 0.0, -0.1]
    assert ADSORBATE_MOVED not in _codes(check_anomalies(oh, final))


def test_oh_bond_stretched_to_1_5_angstrom_is_dissociated_not_desorbed(oh) -> None:
    final = oh.copy()
    o, h = np.flatnonzero(final.get_tags() == TAG_ADSORBATE)
    final.positions[h] = final.positions[o] + [0.0, 0.0, 1.5]
    flags = check_anomalies(oh, final)
    assert _codes(flags) == {ADSORBATE_DISSOCIATED}
    assert "O" in flags[0] and "H" in flags[0]


def test_oh_bond_stretched_by_20_percent_is_not_dissociated(oh) -> None:
    final = oh.copy()
    o, h = np.flatnonzero(final.get_tags() == TAG_ADSORBATE)
    final.positions[h] = final.positions[o] + [0.0, 0.0, 1.2 * 0.98]
    assert check_anomalies(oh, final) == []


def test_side_on_n2_split_is_dissociated() -> None:
    initial = build(SITE, "N2", "side-on", min_image=9.5)
    final = initial.copy()
    n1, n2 = np.flatnonzero(final.get_tags() == TAG_ADSORBATE)
    final.positions[n2] += 0.5 * (final.positions[n2] - final.positions[n1])
    assert _codes(check_anomalies(initial, final)) == {ADSORBATE_DISSOCIATED}


def test_gas_molecule_without_tags_or_motif_has_no_flags() -> None:
    h2o = molecule("H2O")
    h2o.center(vacuum=5.0)
    assert check_anomalies(h2o, h2o) == []


def test_thresholds_come_from_data_file_with_a_reason_each() -> None:
    from importlib.resources import files

    data = yaml.safe_load(files("workflows.data").joinpath("anomalies.yaml").read_text())
    th = Thresholds.default()
    for name, entry in data.items():
        assert entry["reason"].strip()
        assert getattr(th, name) == entry["value"]


def test_every_check_is_registered_under_its_flag_code() -> None:
    assert set(CHECKS) == {
        METAL_LEFT_POCKET,
        METAL_OUT_OF_PLANE,
        PAIR_AGGREGATED,
        ADSORBATE_DESORBED,
        ADSORBATE_DISSOCIATED,
        ADSORBATE_MOVED,
    }


def test_custom_thresholds_change_the_verdict(bare) -> None:
    final = bare.copy()
    final.positions[_index(final, TAG_M2), 2] -= 1.0
    strict = Thresholds(**{**Thresholds.default().__dict__, "metal_out_of_plane": 0.5})
    assert _codes(check_anomalies(bare, final, strict)) == {METAL_OUT_OF_PLANE}
