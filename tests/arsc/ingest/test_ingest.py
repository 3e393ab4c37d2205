"""Ingestion of DFT results: real VASP folders (sac-hoer), ASE/GPAW files, the table, the check."""

import math
import os
import re
import shutil
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import ase
import pytest
from ase import Atoms
from ase.build import add_adsorbate, fcc111, molecule
from ase.calculators.emt import EMT
from ase.constraints import FixAtoms
from ase.io import Trajectory, write
from ase.optimize import BFGS

from arsc.errors import ArscInputError
from arsc.ingest import (
    COLUMNS,
    DftSettings,
    EnergyRow,
    NamePattern,
    check_consistency,
    ingest_gpaw,
    ingest_vasp,
    read_table,
    write_table,
)
from arsc.ingest.pattern import NameParts
from arsc.ingest.vasp import parse_oszicar_text, read_oszicar, read_vasp_folder
from tests.paths import DATA as TEST_DATA
from tests.paths import SAC_HOER

DATA = TEST_DATA / "sac-hoer"
FULL = SAC_HOER
ASE_VASP = Path(ase.__file__).parent / "test" / "testdata" / "vasp"
CO_SITE = ["1N1_Co_substrate", "1N1_Co_H", "1N1_Co_O", "1N1_Co_OH", "1N1_Co_OOH"]
SUBSTRATE = NamePattern("{site}_{adsorbate}", "substrate")


def ionic_lines(folder: Path) -> list[str]:
    """The OSZICAR's ionic lines, found without any of the code under test."""
    return [ln for ln in (folder / "OSZICAR").read_text().splitlines() if " F= " in ln]


def last_ionic(folder: Path) -> dict[str, float]:
    line = ionic_lines(folder)[-1].replace("d E =", "dE=")
    return {k: float(v) for k, v in re.findall(r"(\w+)=\s*(\S+)", line)}


def copy_site(tmp_path: Path, *names: str) -> Path:
    root = tmp_path / "calcs"
    for name in names:
        shutil.copytree(DATA / name, root / name)
        for f in (root / name).iterdir():
            f.chmod(0o644)
    return root


def edit_incar(folder: Path, set_tags: dict[str, str], drop: tuple[str, ...] = ()) -> None:
    lines = [
        ln
        for ln in (folder / "INCAR").read_text().splitlines()
        if ln.split("=")[0].strip() not in (*drop, *set_tags)
    ]
    lines += [f"{k} = {v}" for k, v in set_tags.items()]
    (folder / "INCAR").write_text("\n".join(lines) + "\n")


def by_name(rows: list[EnergyRow]) -> dict[str, EnergyRow]:
    return {f"{r.site}_{r.adsorbate}": r for r in rows}


# --- real VASP folders --------------------------------------------------------------


@pytest.mark.parametrize("name", CO_SITE)
def test_e0_f_steps_and_de_equal_the_oszicar_last_ionic_line(name):
    folder = DATA / name
    row = read_vasp_folder(folder, SUBSTRATE.parse(name))
    last = last_ionic(folder)
    assert row.e0 == last["E0"]
    assert row.f == last["F"]
    assert row.ionic_steps == len(ionic_lines(folder))
    assert row.last_de == (last["dE"] if row.ionic_steps > 1 else None)
    assert row.engine == "vasp"
    assert row.path == str(folder)


def test_settings_of_the_bare_run_with_u_and_an_adsorbate_run_without():
    bare = read_vasp_folder(DATA / "1N1_Co_substrate", NameParts("1N1_Co", "bare"))
    oh = read_vasp_folder(DATA / "1N1_Co_OH", NameParts("1N1_Co", "OH"))
    assert (bare.functional, bare.encut, bare.ispin, bare.ivdw, bare.dipole) == (
        "PBE",
        520.0,
        2,
        1,
        False,
    )
    assert bare.ldau and bare.u_values == "Co:3.32"
    assert not oh.ldau and oh.u_values == ""
    assert (oh.functional, oh.encut, oh.ispin, oh.ivdw) == ("PBE", 520.0, 2, 1)
    # CONTCAR atom counts: 127 for the bare site (Co C125 N1), plus O and H for OH
    assert (bare.natoms, oh.natoms) == (127, 129)
    assert bare.settings_hash != oh.settings_hash
    assert bare.settings_hash == DftSettings(**bare.settings.model_dump()).hash()


def test_lvdw_alone_and_lvdw_with_ivdw_1_are_both_d2_and_compare_equal():
    h = read_vasp_folder(DATA / "1N1_Co_H", NameParts("1N1_Co", "H"))  # LVDW only
    o = read_vasp_folder(DATA / "1N1_Co_O", NameParts("1N1_Co", "O"))  # LVDW + IVDW = 1
    assert "IVDW" not in (DATA / "1N1_Co_H" / "INCAR").read_text()
    assert h.ivdw == o.ivdw == 1
    assert h.settings_hash == o.settings_hash


def test_convergence_flags_of_a_finished_relaxation():
    row = read_vasp_folder(DATA / "1N1_Co_OH", NameParts("1N1_Co", "OH"))
    # NSW = 1000, 4 ionic steps, EDIFFG < 0 (force criterion), last SCF well below NELM
    assert row.converged and not row.nsw_reached


def test_nsw_reached_when_ionic_steps_hit_nsw(tmp_path):
    root = copy_site(tmp_path, "1N1_Co_OH")
    edit_incar(root / "1N1_Co_OH", {"NSW": "4"})
    row = read_vasp_folder(root / "1N1_Co_OH", NameParts("1N1_Co", "OH"))
    assert row.nsw_reached and not row.converged


def test_real_site_with_u_only_on_the_bare_run_is_flagged_and_the_empty_oszicar_reported():
    result = ingest_vasp(DATA, bare="substrate")
    rows = by_name(result.rows)
    assert len(result.rows) == 8 and result.skipped == []
    assert rows["1N1_Co_bare"].consistent and rows["1N1_Co_bare"].reason == ""
    for ads in ("H", "O", "OH", "OOH"):
        assert not rows[f"1N1_Co_{ads}"].consistent
        assert rows[f"1N1_Co_{ads}"].reason == "LDAU False vs bare True"
    assert rows["1N1_Cu_OH"].consistent and rows["1N1_Cu_bare"].consistent
    broken = rows["2N2_W_OH"]
    assert not broken.consistent and broken.e0 is None
    assert broken.reason == f"{DATA / '2N2_W_OH'}: OSZICAR is empty"
    assert result.errors == [broken.reason]
    summary = result.summary()
    assert summary.by_cause == {"LDAU": 4, "read error": 1}
    assert (summary.inconsistent, summary.read_errors, summary.consistent) == (4, 1, 3)


# --- constructed inconsistencies (copies of real folders with an edited INCAR) ------

EDITS = [
    ({"IVDW": "11"}, (), "IVDW 11 vs bare 1"),
    ({}, ("LVDW", "IVDW"), "IVDW 0 vs bare 1"),
    ({"ENCUT": "400"}, (), "ENCUT 400 vs bare 520"),
    ({"GGA": "RP"}, (), "functional RPBE vs bare PBE"),
    ({"ISPIN": "1"}, (), "ISPIN 1 vs bare 2"),
    ({"LDIPOL": ".TRUE.", "IDIPOL": "3"}, (), "dipole True vs bare False"),
    (
        {"LDAU": ".TRUE.", "LDAUU": "4.0 0 0 0 0", "LDAUL": "2 -1 -1 -1 -1", "LDAUJ": "0 0 0 0 0"},
        (),
        "LDAU True vs bare False",
    ),
    ({"ENCUT": "450", "IVDW": "12"}, (), "ENCUT 450 vs bare 520; IVDW 12 vs bare 1"),
]


@pytest.mark.parametrize(("set_tags", "drop", "reason"), EDITS, ids=[e[2] for e in EDITS])
def test_edited_adsorbate_incar_is_flagged_with_its_cause(tmp_path, set_tags, drop, reason):
    root = copy_site(tmp_path, "1N1_Cu_substrate", "1N1_Cu_OH")
    edit_incar(root / "1N1_Cu_OH", set_tags, drop)
    rows = by_name(ingest_vasp(root, bare="substrate").rows)
    assert rows["1N1_Cu_bare"].consistent
    assert not rows["1N1_Cu_OH"].consistent
    assert rows["1N1_Cu_OH"].reason == reason


def test_different_u_value_on_both_runs_is_flagged_as_u(tmp_path):
    root = copy_site(tmp_path, "1N1_Co_substrate", "1N1_Co_OH")
    # OH species order (POTCAR_info): Co H C N O
    edit_incar(
        root / "1N1_Co_OH",
        {"LDAU": ".TRUE.", "LDAUU": "4.0 0 0 0 0", "LDAUL": "2 -1 -1 -1 -1", "LDAUJ": "0 0 0 0 0"},
    )
    rows = by_name(ingest_vasp(root, bare="substrate").rows)
    assert rows["1N1_Co_OH"].u_values == "Co:4"
    assert rows["1N1_Co_OH"].reason == "U Co:4 vs bare Co:3.32"


def test_site_without_bare_run_gets_no_bare_site_run(tmp_path):
    root = copy_site(tmp_path, "1N1_Cu_OH")
    (row,) = ingest_vasp(root, bare="substrate").rows
    assert not row.consistent and row.reason == "no bare-site run"


def test_several_bare_runs_the_lowest_e0_is_the_reference(tmp_path):
    root = copy_site(tmp_path, "1N1_Cu_substrate", "1N1_Cu_OH")
    shutil.copytree(root / "1N1_Cu_substrate", root / "1N1_Cu_bare")
    edit_incar(root / "1N1_Cu_bare", {"ENCUT": "400"})
    osz = root / "1N1_Cu_bare" / "OSZICAR"
    osz.write_text(osz.read_text().replace("E0= -.", "E0= -.2"))  # E0 -1160 -> -2116 eV
    rows = {r.path: r for r in ingest_vasp(root, bare="substrate").rows}
    assert rows[str(root / "1N1_Cu_bare")].consistent
    assert rows[str(root / "1N1_Cu_OH")].reason == "ENCUT 520 vs bare 400"
    assert rows[str(root / "1N1_Cu_substrate")].reason == "ENCUT 520 vs bare 400"


# --- robustness ---------------------------------------------------------------------


def _truncate(path: Path, keep: float = 0.5, cut_tail: int = 0) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)] if not cut_tail else data[:-cut_tail])


def _cut_in_last_key(path: Path) -> None:
    text = path.read_text()
    path.write_text(text[: text.rstrip().rfind("\n") + 4])  # "...\nLVD"


def _junk_bytes(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 4)


def _as_folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _as_broken_link(path: Path) -> None:
    path.unlink()
    path.symlink_to(path.parent / "no-such-file")


def _replace_energy(path: Path, value: str) -> None:
    text = path.read_text()
    last = text.rstrip("\n").rsplit("\n", 1)[-1]
    path.write_text(text.replace(last, re.sub(r"E0= \S+", f"E0= {value}", last)))


CORRUPTIONS = [
    ("OSZICAR", lambda p: p.write_text(""), "OSZICAR is empty"),
    ("OSZICAR", lambda p: _truncate(p, cut_tail=25), "OSZICAR is truncated (its last line"),
    ("OSZICAR", lambda p: _replace_energy(p, "NaN"), "OSZICAR gives E0 = nan in the last"),
    ("OSZICAR", lambda p: _replace_energy(p, "inf"), "OSZICAR gives E0 = inf in the last"),
    ("OSZICAR", _as_folder, "OSZICAR is a folder, not a file"),
    ("OSZICAR", _as_broken_link, "OSZICAR is a broken link"),
    ("OSZICAR", _junk_bytes, "OSZICAR holds binary data, not text"),
    ("INCAR", lambda p: p.write_text(""), "INCAR is empty"),
    ("INCAR", lambda p: _cut_in_last_key(p), "INCAR line "),
    ("INCAR", lambda p: edit_incar(p.parent, {"ENCUT": "abc"}), "INCAR tag ENCUT = abc (line"),
    ("INCAR", lambda p: edit_incar(p.parent, {"ENCUT": "52O"}), "INCAR tag ENCUT = 52O (line"),
    ("INCAR", lambda p: edit_incar(p.parent, {"ENCUT": "nan"}), "INCAR tag ENCUT = nan (line"),
    ("INCAR", lambda p: edit_incar(p.parent, {"ENCUT": "-5"}), "INCAR tag ENCUT = -5 is not a"),
    ("INCAR", lambda p: edit_incar(p.parent, {"ISPIN": "3"}), "INCAR tag ISPIN = 3 is not 1 or 2"),
    ("INCAR", lambda p: edit_incar(p.parent, {"IVDW": "x"}), "INCAR tag IVDW = x (line"),
    ("INCAR", lambda p: edit_incar(p.parent, {"NSW": "1.5"}), "INCAR tag NSW = 1.5 (line"),
    ("INCAR", lambda p: edit_incar(p.parent, {"LDAU": "maybe"}), "INCAR tag LDAU = Maybe is not"),
    (
        "INCAR",
        lambda p: edit_incar(p.parent, {"LDAU": ".TRUE.", "LDAUU": "4 x"}),
        "INCAR tag LDAUU = 4 x (line",
    ),
    ("INCAR", _as_folder, "INCAR is a folder, not a file"),
    ("INCAR", _junk_bytes, "INCAR holds binary data"),
    ("CONTCAR", lambda p: p.write_text(""), "CONTCAR is empty"),
    ("CONTCAR", lambda p: _truncate(p, keep=0.3), "CONTCAR is not a readable structure"),
    ("CONTCAR", lambda p: p.write_text("junk\nmore junk\n1 2 3\n"), "CONTCAR is not a readable"),
    ("CONTCAR", _junk_bytes, "CONTCAR holds binary data, not text"),
    ("CONTCAR", _as_folder, "CONTCAR is a folder, not a file"),
    ("POTCAR_info", _as_folder, "POTCAR_info is a folder, not a file"),
    ("INCAR", lambda p: p.unlink(), "no INCAR (needed for the settings)"),
]


def _is_clean(reason: str) -> bool:
    """One printable line, no exception class name, no repr of bytes or numpy scalars."""
    return (
        reason.isprintable()
        and "Error" not in reason
        and "b'" not in reason
        and "np." not in reason
        and "\\x" not in reason
    )


@pytest.mark.parametrize(
    ("name", "corrupt", "message"), CORRUPTIONS, ids=[c[2] for c in CORRUPTIONS]
)
def test_a_broken_file_gives_an_error_row_and_the_rest_still_ingests(
    tmp_path, name, corrupt, message
):
    root = copy_site(tmp_path, "1N1_Cu_substrate", "1N1_Cu_OH")
    corrupt(root / "1N1_Cu_OH" / name)
    result = ingest_vasp(root, bare="substrate")
    rows = by_name(result.rows)
    bad = rows["1N1_Cu_OH"]
    assert bad.e0 is None and not bad.consistent
    assert bad.reason.startswith(f"{root / '1N1_Cu_OH'}: {message}"), bad.reason
    assert _is_clean(bad.reason), bad.reason
    assert result.errors == [bad.reason]
    assert result.summary().read_errors == 1
    assert rows["1N1_Cu_bare"].consistent and rows["1N1_Cu_bare"].e0 is not None


def test_numeric_incar_tags_are_read_from_the_raw_text_not_pymatgens_guess(tmp_path):
    root = copy_site(tmp_path, "1N1_Co_OH")
    folder = root / "1N1_Co_OH"
    # pymatgen alone reads EDIFF = 1D-5 as 1.0; LDAUU 2*0 is Fortran's repeat count
    edit_incar(
        folder,
        {"EDIFF": "1D-5", "LDAU": "T", "LDAUU": "4.0 4*0", "LDAUL": "2 4*-1", "ENCUT": "450."},
    )
    row = read_vasp_folder(folder, NameParts("1N1_Co", "OH"))
    assert (row.encut, row.u_values) == (450.0, "Co:4")


def test_a_fifo_instead_of_an_oszicar_is_an_error_row_not_a_hang(tmp_path):
    root = copy_site(tmp_path, "1N1_Cu_substrate", "1N1_Cu_OH")
    osz = root / "1N1_Cu_OH" / "OSZICAR"
    osz.unlink()
    os.mkfifo(osz)
    rows = by_name(ingest_vasp(root, bare="substrate").rows)
    assert rows["1N1_Cu_OH"].reason == f"{root / '1N1_Cu_OH'}: OSZICAR is not a regular file"


def test_an_unexpected_reader_failure_is_an_error_row(tmp_path, monkeypatch):
    import arsc.ingest.vasp as vasp

    def explode(path):
        raise ZeroDivisionError("deep inside a parser")

    root = copy_site(tmp_path, "1N1_Cu_substrate", "1N1_Cu_OH")
    monkeypatch.setitem(vasp.OUTPUT_READERS, "OSZICAR", explode)
    result = ingest_vasp(root, bare="substrate")
    assert len(result.rows) == 2 and result.summary().read_errors == 2
    assert all("unexpected ZeroDivisionError" in r.reason for r in result.rows)
    assert all("deep inside" not in r.reason for r in result.rows)


def test_every_broken_run_is_an_error_row_and_the_summary_counts_them(tmp_path):
    root = copy_site(tmp_path, *CO_SITE, "1N1_Cu_substrate", "1N1_Cu_OH")
    _junk_bytes(root / "1N1_Cu_OH" / "CONTCAR")
    edit_incar(root / "1N1_Co_H", {"ENCUT": "abc"})
    _replace_energy(root / "1N1_Co_O" / "OSZICAR", "NaN")
    _as_folder(root / "1N1_Co_OOH" / "OSZICAR")
    result = ingest_vasp(root, bare="substrate")
    summary = result.summary()
    assert (summary.rows, summary.read_errors, summary.consistent) == (7, 4, 2)
    assert summary.by_cause["read error"] == 4
    assert sorted(r.site + "_" + r.adsorbate for r in result.rows if not r.readable) == [
        "1N1_Co_H",
        "1N1_Co_O",
        "1N1_Co_OOH",
        "1N1_Cu_OH",
    ]
    assert all(_is_clean(e) for e in result.errors)


def test_oszicar_without_header_falls_back_to_the_tolerant_reader(tmp_path):
    from pymatgen.io.vasp import Oszicar

    text = (DATA / "1N1_Co_OH" / "OSZICAR").read_text()
    body = "\n".join(text.splitlines()[1:]) + "\n"  # no "N E dE ..." header
    body = body.replace("RMM:   8 ", "RMM:   8 ***garbled*** ", 1)
    path = tmp_path / "OSZICAR"
    path.write_text(body)
    with pytest.raises(IndexError):  # pymatgen's reader needs the header
        Oszicar(path)
    hist = read_oszicar(path)
    last = last_ionic(DATA / "1N1_Co_OH")
    assert (hist.e0, hist.f, hist.ionic_steps, hist.last_de) == (
        last["E0"],
        last["F"],
        4,
        last["dE"],
    )


def test_tolerant_reader_agrees_with_pymatgen_on_every_copied_folder():
    for name in (*CO_SITE, "1N1_Cu_substrate", "1N1_Cu_OH"):
        path = DATA / name / "OSZICAR"
        assert parse_oszicar_text(path.read_text()) == read_oszicar(path), name


def test_oszicar_without_ionic_line_is_an_error(tmp_path):
    root = copy_site(tmp_path, "1N1_Cu_OH")
    osz = root / "1N1_Cu_OH" / "OSZICAR"
    osz.write_text("".join(ln for ln in osz.read_text().splitlines(True) if "F=" not in ln))
    (row,) = ingest_vasp(root, bare="substrate").rows
    assert "no ionic step" in row.reason and row.e0 is None


def test_folder_name_not_matching_the_pattern_is_skipped_and_reported(tmp_path):
    root = copy_site(tmp_path, "1N1_Cu_substrate", "1N1_Cu_OH")
    shutil.copytree(root / "1N1_Cu_OH", root / "1N1_Cu_OHX")
    result = ingest_vasp(root, bare="substrate")
    assert result.skipped == [str(root / "1N1_Cu_OHX")]
    assert len(result.rows) == 2


def test_without_bare_token_the_substrate_folders_are_skipped(tmp_path):
    root = copy_site(tmp_path, "1N1_Cu_substrate", "1N1_Cu_OH")
    result = ingest_vasp(root)
    assert result.skipped == [str(root / "1N1_Cu_substrate")]
    assert result.rows[0].reason == "no bare-site run"


def test_missing_root_and_empty_tree_raise_input_errors(tmp_path):
    with pytest.raises(ArscInputError, match="does not exist"):
        ingest_vasp(tmp_path / "nope")
    with pytest.raises(ArscInputError, match="no VASP calculation folders"):
        ingest_vasp(tmp_path)


# --- vasprun.xml and OUTCAR (real files shipped with ASE's test data) ---------------


def _ase_file(name: str) -> Path:
    path = ASE_VASP / name
    if not path.is_file():
        pytest.skip(f"ASE's VASP test data {name} is not installed with ase")
    return path


def test_vasprun_is_preferred_and_gives_energies_settings_and_atoms(tmp_path):
    folder = tmp_path / "site_OH"
    folder.mkdir()
    shutil.copy(_ase_file("vasprun_pstress.xml"), folder / "vasprun.xml")
    (folder / "OSZICAR").write_text("   1 F= -.1E+01 E0= -.1E+01  d E =-.1E+01\n")
    row = read_vasp_folder(folder, NameParts("site", "OH"))
    root = ET.parse(folder / "vasprun.xml").getroot()
    energy = {i.get("name"): float(i.text) for i in root.find("calculation/energy")}
    assert row.e0 == pytest.approx(energy["e_0_energy"], abs=1e-8)
    assert row.f == energy["e_fr_energy"]
    assert row.natoms == len(root.find("structure[@name='finalpos']/varray[@name='positions']"))
    assert row.functional == "LDA"  # POTCAR "PAW C 22Mar2012", no GGA tag
    assert (row.ispin, row.ionic_steps, row.converged) == (1, 1, True)


def test_truncated_vasprun_is_an_error_row(tmp_path):
    root = tmp_path / "calcs"
    folder = root / "site_OH"
    folder.mkdir(parents=True)
    shutil.copy(_ase_file("vasprun_pstress.xml"), folder / "vasprun.xml")
    _truncate(folder / "vasprun.xml", keep=0.6)
    (row,) = ingest_vasp(root).rows
    assert row.reason == (
        f"{folder}: vasprun.xml is not a complete vasprun.xml (truncated or malformed XML)"
    )


def test_outcar_gives_sigma_zero_and_free_energy(tmp_path):
    folder = tmp_path / "site_bare"
    folder.mkdir()
    shutil.copy(_ase_file("OUTCAR_example_1"), folder / "OUTCAR")
    (folder / "INCAR").write_text("ENCUT = 300\nISPIN = 2\nGGA = PE\n")
    row = read_vasp_folder(folder, NameParts("site", "bare"))
    text = (folder / "OUTCAR").read_text()
    f = float(re.findall(r"free  energy   TOTEN  =\s+(\S+)", text)[-1])
    e0 = float(re.findall(r"energy\(sigma->0\) =\s+(\S+)", text)[-1])
    assert (row.e0, row.f) == (e0, f)
    assert (row.functional, row.encut, row.ispin) == ("PBE", 300.0, 2)


# --- name patterns ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "bare", "name", "expected"),
    [
        ("{site}_{adsorbate}", "substrate", "1N1_Co_OH", ("1N1_Co", "OH", "")),
        ("{site}_{adsorbate}", "substrate", "1N1_Co_OOH", ("1N1_Co", "OOH", "")),
        ("{site}_{adsorbate}", "substrate", "1N1_Co_substrate", ("1N1_Co", "bare", "")),
        (
            "{site}_{adsorbate}",
            "bare",
            "Fe-Co_qv-n6_graphene_bare",
            ("Fe-Co_qv-n6_graphene", "bare", ""),
        ),
        (
            "{site}[_{adsorbate}[_{mode}]]",
            "bare",
            "Co-Fe_qv-n6_graphene_OH_top1",
            ("Co-Fe_qv-n6_graphene", "OH", "top1"),
        ),
        (
            "{site}[_{adsorbate}[_{mode}]]",
            "bare",
            "Co-Fe_qv-n6_graphene",
            ("Co-Fe_qv-n6_graphene", "bare", ""),
        ),
        ("{site}/{adsorbate}", "bare", "runs/Fe-Co_qv-n6/OH", ("Fe-Co_qv-n6", "OH", "")),
        ("{adsorbate}-{mode}@{site}", "bare", "OOH-top1@Fe_Co", ("Fe_Co", "OOH", "top1")),
        ("{site}_{adsorbate}_{mode}", "bare", "Fe_Co_O2_side-on", ("Fe_Co", "O2", "side-on")),
        ("{adsorbate}@{site}", "bare", "N2H@Fe_Co", ("Fe_Co", "N2H", "")),
    ],
)
def test_pattern_splits_names(pattern, bare, name, expected):
    parts = NamePattern(pattern, bare).parse(name)
    assert (parts and (parts.site, parts.adsorbate, parts.mode)) == expected


def test_pattern_rejects_unknown_adsorbate_token():
    assert NamePattern("{site}_{adsorbate}").parse("1N1_Co_substrate") is None
    assert NamePattern("{site}_{adsorbate}").parse("1N1_Co_XYZ") is None


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("{site}_{ads}", "unknown field {ads}"),
        ("{site}", "needs the field {adsorbate}"),
        ("{site}_{adsorbate}_{site}", "appears twice"),
        ("{site}[_{adsorbate}", "'[' without ']'"),
        ("{site}_{adsorbate}]", "']' without '['"),
        ("{site_{adsorbate}", "unbalanced"),
    ],
)
def test_bad_patterns_raise_one_line_input_errors(pattern, message):
    with pytest.raises(ArscInputError, match=re.escape(message)):
        NamePattern(pattern).regex  # noqa: B018


# --- the table ----------------------------------------------------------------------


def test_table_round_trip_keeps_every_value_and_column_order(tmp_path):
    rows = ingest_vasp(DATA, bare="substrate").rows
    path = write_table(rows, tmp_path / "e.csv")
    assert path.read_text().splitlines()[0].split(",") == list(COLUMNS)
    assert read_table(path) == rows


def test_read_table_names_a_missing_column_and_a_bad_value(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("site,adsorbate,e0\nx,OH,-1\n")
    with pytest.raises(ArscInputError, match=r"lacks column.*engine"):
        read_table(path)
    rows = ingest_vasp(DATA, bare="substrate").rows
    write_table(rows[:1], path)
    path.write_text(path.read_text().replace(str(rows[0].e0), "minus-one"))
    with pytest.raises(ArscInputError, match=r"line 2: column e0 value 'minus-one'"):
        read_table(path)


def test_check_consistency_leaves_its_input_unchanged():
    rows = ingest_vasp(DATA, bare="substrate").rows
    stale = [
        r.model_copy(update={"consistent": True, "reason": ""}) if r.readable else r for r in rows
    ]
    checked = check_consistency(stale)
    assert checked == rows
    assert all(r.consistent for r in stale if r.readable)


# --- GPAW / ASE files ---------------------------------------------------------------


def _emt_relaxation(path: Path, adsorbate: Atoms | None, steps: int = 3) -> list[float]:
    """A tiny EMT relaxation (EMT stands in for GPAW: same ASE file path, no DFT)."""
    slab = fcc111("Cu", size=(2, 2, 2), vacuum=5.0)
    slab.set_constraint(FixAtoms(indices=list(range(4))))
    if adsorbate is not None:
        add_adsorbate(slab, adsorbate, 1.9, "fcc")
    slab.calc = EMT()
    energies = []
    with Trajectory(path, "w", slab) as traj:
        opt = BFGS(slab, logfile=None)
        opt.attach(lambda: energies.append(slab.get_potential_energy()))
        opt.attach(traj)
        opt.run(fmax=0.05, steps=steps)
    return energies


def test_emt_stand_in_trajectories_ingest_as_gpaw_rows_with_sidecar_settings(tmp_path):
    """EMT replaces GPAW here (no DFT); the ASE trajectory path read is the same."""
    e_bare = _emt_relaxation(tmp_path / "cu111_bare.traj", None, steps=40)
    e_oh = _emt_relaxation(tmp_path / "cu111_OH.traj", Atoms("OH", [(0, 0, 0), (0, 0, 0.98)]))
    (tmp_path / "settings.json").write_text('{"functional": "EMT", "encut": 0}')
    (tmp_path / "cu111_OH.json").write_text('{"ivdw": 12}')
    result = ingest_gpaw(tmp_path)
    rows = by_name(result.rows)
    bare, oh = rows["cu111_bare"], rows["cu111_OH"]
    assert bare.engine == oh.engine == "gpaw"
    assert bare.e0 == pytest.approx(e_bare[-1], abs=1e-12)
    assert oh.e0 == pytest.approx(e_oh[-1], abs=1e-12)
    assert oh.ionic_steps == len(e_oh) and oh.last_de == pytest.approx(e_oh[-1] - e_oh[-2])
    assert (bare.functional, bare.encut, bare.ivdw, oh.ivdw) == ("EMT", 0.0, 0, 12)
    assert bare.converged  # 40 steps reach fmax 0.05 on this slab
    assert not oh.converged and oh.natoms == 10
    assert bare.consistent and oh.reason == "IVDW 12 vs bare 0"


def test_ase_file_without_energy_is_an_error_row(tmp_path):
    write(tmp_path / "site_OH.extxyz", molecule("H2O"))
    (row,) = ingest_gpaw(tmp_path).rows
    assert row.reason == f"{tmp_path / 'site_OH.extxyz'}: no energy in the file"


def test_ase_ingest_as_mlip_engine(tmp_path):
    _emt_relaxation(tmp_path / "cu111_bare.traj", None, steps=1)
    (row,) = ingest_gpaw(tmp_path, engine="mlip").rows
    assert row.engine == "mlip"


@pytest.mark.gpaw
def test_real_gpaw_lcao_run_read_from_gpw_and_traj_alike(tmp_path):
    gpaw = pytest.importorskip("gpaw")
    atoms = molecule("H2")
    atoms.center(vacuum=2.5)
    atoms.calc = gpaw.GPAW(mode="lcao", basis="sz(dzp)", xc="PBE", h=0.3, txt=None)
    energy = atoms.get_potential_energy()
    atoms.calc.write(tmp_path / "h2_bare.gpw")
    (tmp_path / "traj").mkdir()
    with Trajectory(tmp_path / "traj" / "h2_bare.traj", "w") as traj:
        traj.write(atoms)
    rows = ingest_gpaw(tmp_path).rows
    assert len(rows) == 2
    for row in rows:
        assert row.e0 == pytest.approx(energy, abs=1e-9)
        assert (row.functional, row.ispin, row.encut, row.ldau) == ("PBE", 1, None, False)
    assert rows[0].settings_hash == rows[1].settings_hash


def test_gpaw_parameters_give_cutoff_u_and_dipole(tmp_path):
    """Stored GPAW parameters (written by ASE as a real GPAW run would) map onto the settings."""
    from ase.calculators.singlepoint import SinglePointCalculator

    atoms = molecule("H2")
    atoms.calc = SinglePointCalculator(atoms, energy=-1.0, free_energy=-1.1)
    atoms.calc.name = "gpaw"
    atoms.calc.parameters = {
        "xc": "RPBE",
        "mode": {"name": "pw", "ecut": 400},
        "spinpol": True,
        "setups": {"Fe": ":d,4.0", "H": "paw"},
        "poissonsolver": {"dipolelayer": "xy"},
    }
    with Trajectory(tmp_path / "x_H.traj", "w") as traj:
        traj.write(atoms)
    (row,) = ingest_gpaw(tmp_path).rows
    assert (row.e0, row.f) == (-1.0, -1.1)
    assert (row.functional, row.encut, row.ispin) == ("RPBE", 400.0, 2)
    assert (row.ldau, row.u_values, row.dipole) == (True, "Fe:4", True)


# --- the full public data set (slow) -------------------------------------------------


@pytest.mark.slow
def test_full_sac_hoer_every_folder_ingested_or_reported():
    if not FULL.is_dir():
        pytest.skip(f"{FULL} is not present (the full sac-hoer data set)")
    folders = sorted(p for p in FULL.iterdir() if (p / "OSZICAR").is_file())
    start = time.perf_counter()
    result = ingest_vasp(FULL, bare="substrate")
    seconds = time.perf_counter() - start
    summary = result.summary()
    print(f"\nsac-hoer: {len(folders)} folders in {seconds:.1f} s; {summary.model_dump()}")
    assert sorted([r.path for r in result.rows] + result.skipped) == [str(p) for p in folders]
    assert result.skipped == []
    assert all(r.readable or r.reason.startswith(r.path + ": ") for r in result.rows)
    assert {r.site for r in result.rows if r.adsorbate == "bare"} == {r.site for r in result.rows}
    e0 = {r.path: r.e0 for r in result.rows}
    for folder in folders:
        lines = ionic_lines(folder)
        expected = float(lines[-1].split("E0=")[1].split()[0]) if lines else None
        assert e0[str(folder)] == expected, folder


# --- bad input: ASE files, roots, names, the table -----------------------------------


def _single_point(path: Path, energy: float, **info) -> None:
    from ase.calculators.singlepoint import SinglePointCalculator

    atoms = molecule("H2")
    atoms.info.update(info)
    atoms.calc = SinglePointCalculator(atoms, energy=energy)
    write(path, atoms)


ASE_BREAKAGES = [
    ("nan energy", lambda p: _single_point(p, math.nan), "the last frame's energy is nan"),
    ("inf energy", lambda p: _single_point(p, math.inf), "the last frame's energy is inf"),
    ("folder", lambda p: p.mkdir(), "is a folder, not a file"),
    ("junk", lambda p: p.write_bytes(bytes(range(256)) * 4), "cannot read it as an ASE file"),
    ("empty", lambda p: p.write_bytes(b""), "file is empty"),
    ("bad fmax", lambda p: _single_point(p, -1.0, fmax="x"), "setting fmax = x is not"),
    ("bad steps", lambda p: _single_point(p, -1.0, steps=-3), "setting steps = -3 is not"),
    ("bad ispin", lambda p: _single_point(p, -1.0, ispin="two"), "setting ispin = two is not"),
    ("nan encut", lambda p: _single_point(p, -1.0, encut=math.nan), "setting encut = nan is not"),
]


@pytest.mark.parametrize(
    ("what", "make", "message"), ASE_BREAKAGES, ids=[b[0] for b in ASE_BREAKAGES]
)
def test_a_broken_ase_file_is_an_error_row_and_the_rest_still_ingests(
    tmp_path, what, make, message
):
    _single_point(tmp_path / "x_bare.extxyz", -2.0)
    make(tmp_path / "x_OH.extxyz")
    result = ingest_gpaw(tmp_path)
    rows = by_name(result.rows)
    assert rows["x_bare"].readable and rows["x_bare"].consistent
    bad = rows["x_OH"]
    assert not bad.readable and message in bad.reason, bad.reason
    assert bad.reason.startswith(str(tmp_path / "x_OH.extxyz"))
    assert _is_clean(bad.reason), bad.reason
    assert result.summary().read_errors == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "settings.json is not valid JSON (line 1, column 2)"),
        ("[1, 2]", "settings.json is not a JSON object of settings"),
        (None, "settings.json is a folder, not a file"),
    ],
)
def test_a_broken_settings_json_is_an_error_row(tmp_path, content, message):
    _single_point(tmp_path / "x_OH.extxyz", -1.0)
    if content is None:
        (tmp_path / "settings.json").mkdir()
    else:
        (tmp_path / "settings.json").write_text(content)
    (row,) = ingest_gpaw(tmp_path).rows
    assert not row.readable and row.reason.startswith(str(tmp_path / message)), row.reason
    assert _is_clean(row.reason)


def test_roots_that_are_missing_or_the_wrong_kind_of_file_raise(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hi\n")
    with pytest.raises(ArscInputError, match="is a file; give the folder that holds the VASP"):
        ingest_vasp(text)
    with pytest.raises(ArscInputError, match=r"is not an ASE file \(.traj"):
        ingest_gpaw(text)
    with pytest.raises(ArscInputError, match="no ASE files"):
        ingest_gpaw(tmp_path)
    _single_point(tmp_path / "x_OH.extxyz", -1.0)
    (row,) = ingest_gpaw(tmp_path / "x_OH.extxyz").rows  # one file is a valid root
    assert row.e0 == -1.0


def test_a_tree_where_no_name_matches_the_pattern_raises_with_the_hint(tmp_path):
    root = copy_site(tmp_path, "1N1_Cu_substrate")
    with pytest.raises(ArscInputError, match=r"none of the 1 VASP .* matches the name pattern"):
        ingest_vasp(root)
    with pytest.raises(ArscInputError, match="none of the 2 VASP"):
        ingest_vasp(copy_site(tmp_path / "b", "1N1_Cu_OH", "1N1_Co_OH"), "{site}-{adsorbate}")


@pytest.mark.parametrize(
    ("bare", "message"),
    [
        ("", "bare-site token '' is not a name part"),
        ("OH", "bare-site token 'OH' is an intermediate"),
        ("a/b", "is not a name part"),
        (" substrate", "is not a name part"),
    ],
)
def test_bad_bare_tokens_raise_one_line_input_errors(tmp_path, bare, message):
    with pytest.raises(ArscInputError, match=re.escape(message)):
        ingest_vasp(DATA, bare=bare)


def test_write_table_is_atomic_and_a_failure_keeps_the_old_table(tmp_path, monkeypatch):
    rows = ingest_vasp(DATA, bare="substrate").rows
    path = write_table(rows, tmp_path / "sub" / "e.csv")
    before = path.read_bytes()
    assert sorted(p.name for p in path.parent.iterdir()) == ["e.csv"]

    def no_rename(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(ArscInputError, match=r"cannot write .*No space left on device"):
        write_table(rows[:1], path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["e.csv"]


def test_a_nan_energy_row_is_not_readable():
    row = EnergyRow(site="s", adsorbate="OH", engine="vasp", path="p", e0=math.nan, ispin=2, ivdw=0)
    assert not row.readable
