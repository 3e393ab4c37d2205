import numpy as np
import pytest

from arsc.adsorbates import adsorbates
from arsc.errors import ArscInputError
from arsc.io import read_structure, to_structure, write_structure
from arsc.space import binding_modes, make_site, motifs
from arsc.structures import (
    MIN_IMAGE_DISTANCE,
    TAG_ADSORBATE,
    TAG_M1,
    TAG_M2,
    VACUUM,
    GeometryError,
    add_adsorbate,
    build,
    build_adsorbed,
    build_site,
    check_geometry,
    template,
)

# 3d/4d/5d, small and large radii, homonuclear and heteronuclear.
PAIRS = [("Fe", "Co"), ("Ni", "Ni"), ("Mo", "Pt"), ("Ti", "Ir"), ("Hf", "Pd")]


@pytest.mark.parametrize("motif", sorted(motifs()))
@pytest.mark.parametrize("pair", PAIRS, ids=["-".join(p) for p in PAIRS])
def test_every_structure_of_motif_and_pair_passes_the_checks(motif, pair):
    site = make_site(*pair, motif)
    bare = build(site)
    assert check_geometry(bare) == []
    n_bare = len(bare)
    for name, ads in adsorbates().items():
        for mode in binding_modes(site, name):
            atoms = build(site, name, mode)  # raises GeometryError on any failed check
            assert len(atoms) == n_bare + len(ads.symbols)
            assert atoms.cell.lengths()[2] - np.ptp(atoms.positions[:, 2]) >= VACUUM
            assert atoms.info["adsorbate"] == name and atoms.info["mode"] == mode


def test_supercell_keeps_metal_images_apart_and_c_is_common():
    for name in motifs():
        tpl = template(name, get_supports(name))
        cell = tpl.atoms.cell
        metals = tpl.atoms.positions[list(tpl.metal_indices)]
        for i in range(-1, 2):
            for j in range(-1, 2):
                if i or j:
                    shifted = metals + i * cell[0] + j * cell[1]
                    d = np.linalg.norm(metals[:, None] - shifted[None], axis=2)
                    assert d.min() >= MIN_IMAGE_DISTANCE
    assert len({template(n, get_supports(n)).atoms.cell[2, 2] for n in motifs()}) == 1


def get_supports(name):
    from arsc.space import get_motif

    return get_motif(name).supports[0]


def test_the_48_atom_model():
    atoms = build(make_site("Fe", "Co", "qv-n6"), min_image=9.5)
    assert atoms.get_chemical_formula(mode="hill") == "C40CoFeN6"
    assert np.allclose(atoms.cell.lengths()[:2], 12.3)


def test_first_shell_composition_follows_the_motif():
    def shell(motif):
        atoms = build(make_site("Fe", "Co", motif))
        return sorted(atoms[i].symbol for i in np.flatnonzero(atoms.get_tags() == 3))

    assert shell("qv-n6") == ["N"] * 6
    assert shell("qv-n4o2") == ["N"] * 4 + ["O"] * 2
    assert shell("qv-n4c2-m1") == ["C"] * 2 + ["N"] * 4
    assert shell("dv2-n8") == ["N"] * 8
    assert shell("dv2-n4c4-m1") == ["C"] * 4 + ["N"] * 4


def test_metals_and_moments_and_binding():
    atoms = build(make_site("Fe", "Co", "qv-n6"), "OOH", "top2")
    tags = atoms.get_tags()
    m1, m2 = np.flatnonzero(tags == TAG_M1)[0], np.flatnonzero(tags == TAG_M2)[0]
    assert atoms[m1].symbol == "Fe" and atoms[m2].symbol == "Co"
    mag = atoms.get_initial_magnetic_moments()
    assert mag[m1] == 4 and mag[m2] == 3  # high-spin d6, d7
    o = np.flatnonzero(tags == TAG_ADSORBATE)[0]
    assert atoms.get_distance(o, m2) < atoms.get_distance(o, m1)


def test_checks_catch_broken_structures():
    site = make_site("Fe", "Co", "qv-n6")
    atoms = build(site, "OH", "top1")
    clash = atoms.copy()
    clash.positions[-2] = clash.positions[0] + [0.5, 0, 0]  # O onto a carbon
    assert any("apart" in p for p in check_geometry(clash))
    wrong = atoms.copy()
    i1 = np.flatnonzero(atoms.get_tags() == TAG_M1)[0]
    i2 = np.flatnonzero(atoms.get_tags() == TAG_M2)[0]
    wrong.positions[-2:, :2] = atoms.positions[i2, :2]  # OH now on M2
    assert any("not the intended metal" in p for p in check_geometry(wrong))
    moved = atoms.copy()
    moved.positions[i1, :2] += 0.6  # metal out of its pocket
    assert any("first-shell" in p for p in check_geometry(moved))
    thin = atoms.copy()
    thin.cell[2, 2] = 10.0
    assert any("vacuum" in p for p in check_geometry(thin))


def test_bad_modes():
    with pytest.raises(ArscInputError, match=r"mode not available 'bridge'.*available: top1, top2"):
        build(make_site("Fe", "Co", "dv2-n8"), "OH", "bridge")
    with pytest.raises(ArscInputError, match="unknown mode 'top9'"):
        build(make_site("Fe", "Co", "qv-n6"), "OH", "top9")
    with pytest.raises(ArscInputError, match="unknown intermediate 'OOOH'"):
        build(make_site("Fe", "Co", "qv-n6"), "OOOH")
    assert issubclass(GeometryError, ArscInputError)


def test_extxyz_roundtrip_keeps_everything(tmp_path):
    atoms = build(make_site("Mo", "Pt", "qv-n4s2"), "O2", "side-on")
    back = read_structure(write_structure(atoms, tmp_path / "s.extxyz"))
    assert back.get_chemical_symbols() == atoms.get_chemical_symbols()
    assert np.allclose(back.positions, atoms.positions)
    assert np.allclose(back.cell[:], atoms.cell[:])
    assert np.allclose(back.get_initial_magnetic_moments(), atoms.get_initial_magnetic_moments())
    assert (back.get_tags() == atoms.get_tags()).all()
    assert back.info["site_id"] == atoms.info["site_id"]
    assert back.info["mode"] == "side-on"
    assert check_geometry(back) == []


@pytest.mark.parametrize("name", ["POSCAR", "s.vasp", "s.cif"])
def test_other_formats_keep_cell_and_positions(tmp_path, name):
    atoms = build(make_site("Fe", "Co", "c2n-n6", "c2n"), "OH", "bridge")
    back = read_structure(write_structure(atoms, tmp_path / name))
    assert back.get_chemical_formula() == atoms.get_chemical_formula()
    assert np.allclose(back.cell.lengths(), atoms.cell.lengths(), atol=1e-4)
    d_back = back.get_all_distances(mic=True)
    assert np.allclose(
        np.sort(d_back.ravel()), np.sort(atoms.get_all_distances(mic=True).ravel()), atol=1e-3
    )


def test_unknown_suffix_and_pymatgen(tmp_path):
    atoms = build(make_site("Fe", "Co", "qv-n6"))
    with pytest.raises(ArscInputError, match=r"cannot tell the structure format of .*\.png"):
        write_structure(atoms, tmp_path / "s.png")
    struct = to_structure(atoms)
    assert len(struct) == len(atoms)
    assert struct.site_properties["magmom"][-1] == atoms.get_initial_magnetic_moments()[-1]


def test_coordination_counts_match_the_built_first_shell():
    from arsc.structures import coordination

    for name in motifs():
        site = make_site("Fe", "Co", name)
        atoms = build(site)
        tags = atoms.get_tags()
        counts = coordination(name, site.support)
        for k, tag in ((1, TAG_M1), (2, TAG_M2)):
            m = np.flatnonzero(tags == tag)[0]
            shell = [
                i for i in np.flatnonzero(tags == 3) if atoms.get_distance(m, i, mic=True) < 2.7
            ]
            got = {el: sum(atoms[i].symbol == el for i in shell) for el in "NCOSB"}
            assert got == {el: counts[f"coord_{el}{k}"] for el in "NCOSB"}, name


def test_add_adsorbate_on_the_built_site_equals_build_adsorbed() -> None:
    site = make_site("Fe", "Co", "qv-n6")
    bare = build_site(site, min_image=9.5)
    placed = add_adsorbate(bare, "OOH", "top2")
    built = build_adsorbed(site, "OOH", "top2", min_image=9.5)
    assert np.allclose(placed.positions, built.positions)
    assert list(placed.get_tags()) == list(built.get_tags())
    assert placed.info == built.info
    assert len(bare) == 48  # the input is not modified


def test_add_adsorbate_follows_the_metal_of_a_relaxed_site() -> None:
    site = make_site("Fe", "Co", "qv-n6")
    bare = build_site(site, min_image=9.5)
    moved = bare.copy()
    m1 = int(np.flatnonzero(moved.get_tags() == TAG_M1)[0])
    shift = np.array([0.1, -0.05, 0.3])
    moved.positions[m1] += shift
    before = add_adsorbate(bare, "OH", "top1")
    after = add_adsorbate(moved, "OH", "top1")
    ads = after.get_tags() == TAG_ADSORBATE
    assert ads.sum() == 2
    # the O sits above M1 at the same bond length; the frame follows the M1-M2 axis
    o_after = after.positions[ads][0] - after.positions[m1]
    o_before = before.positions[ads][0] - before.positions[m1]
    assert np.linalg.norm(o_after) == pytest.approx(np.linalg.norm(o_before))
    assert o_after[:2] == pytest.approx([0.0, 0.0], abs=1e-9)


def test_add_adsorbate_needs_a_site_and_an_available_mode() -> None:
    bare = build_site(make_site("Fe", "Co", "qv-n6"), min_image=9.5)
    anonymous = bare.copy()
    anonymous.info = {}
    with pytest.raises(ArscInputError, match="site_id"):
        add_adsorbate(anonymous, "OH")
    with pytest.raises(ArscInputError, match="available: "):
        add_adsorbate(bare, "OH", "hollow")


@pytest.mark.parametrize("value", [-1.0, 0.0, float("nan"), float("inf"), 4.9, 40.5, 200.0])
def test_min_image_outside_its_range_is_refused_before_building(value):
    site = make_site("Fe", "Co", "qv-n6")
    with pytest.raises(ArscInputError, match=r"allowed: \[5, 40\] Angstrom") as err:
        build(site, min_image=value)
    assert "np." not in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ArscInputError, match=r"out of range"):
        build_site(site, min_image=value)


def test_a_supercell_over_the_atom_limit_is_refused_before_it_is_built(monkeypatch):
    import arsc.structures as structures

    monkeypatch.setattr(structures, "MAX_ATOMS", 40)
    carved = []
    monkeypatch.setattr(structures, "_carve", lambda *a: carved.append(a))
    with pytest.raises(ArscInputError, match=r"supercell of about \d+ atoms; the limit is 40"):
        build(make_site("Fe", "Co", "qv-n6"), min_image=12.25)
    assert carved == []


def test_write_structure_is_atomic_and_poscar_keeps_its_format(tmp_path, monkeypatch):
    atoms = build(make_site("Fe", "Co", "qv-n6"), min_image=9.5)
    poscar = write_structure(atoms, tmp_path / "POSCAR")
    assert len(read_structure(poscar)) == len(atoms)
    before = poscar.read_bytes()

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("ase.io.write", broken)
    with pytest.raises(ArscInputError, match=r"cannot write .*POSCAR.*No space left"):
        write_structure(atoms, poscar)
    assert poscar.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["POSCAR"]


def test_io_helpers_show_plain_values_and_name_bad_input_files(tmp_path):
    from arsc.io import csv_header, input_file, plain

    assert [plain(v) for v in (np.float64("nan"), np.int64(-3), np.str_("x"), 2.5)] == [
        "nan", "-3", "'x'", "2.5",
    ]  # fmt: skip
    with pytest.raises(ArscInputError, match=r"^table '.*' is a folder; give a file$"):
        input_file(tmp_path, "table")
    with pytest.raises(ArscInputError, match=r"^table '.*none.csv' does not exist$"):
        input_file(tmp_path / "none.csv", "table")
    (tmp_path / "t.csv").write_text("a, b,c\n1,2,3\n")
    assert csv_header(tmp_path / "t.csv") == ["a", "b", "c"]
    assert csv_header(tmp_path / "none.csv") == []
