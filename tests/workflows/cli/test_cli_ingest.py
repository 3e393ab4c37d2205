"""``arsc ingest vasp|gpaw`` as a user runs it (a real subprocess for exit codes and stdout)."""

import json
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from ase.build import fcc111
from ase.calculators.emt import EMT
from ase.io import Trajectory

from arsc.ingest import COLUMNS, read_table
from tests.paths import DATA as TEST_DATA
from tests.workflows.cli.helpers import arsc, run

DATA = TEST_DATA / "sac-hoer"


def test_help_lists_vasp_and_gpaw():
    out = arsc("ingest", "--help")
    assert out.returncode == 0
    assert "vasp" in out.stdout and "gpaw" in out.stdout


def test_ingest_vasp_writes_the_table_and_prints_causes_and_errors(tmp_path):
    csv = tmp_path / "e.csv"
    out = arsc("ingest", "vasp", str(DATA), "--bare", "substrate", "-o", str(csv), "-v")
    assert out.returncode == 0, out.stderr
    table = pd.read_csv(csv)
    assert list(table.columns) == list(COLUMNS) and len(table) == 8
    assert len(read_table(csv)) == 8
    lines = out.stdout.splitlines()
    assert any("LDAU" in ln and "│    4 │" in ln for ln in lines), out.stdout
    assert f"error: {DATA / '2N2_W_OH'}: OSZICAR is empty" in lines
    assert sum(ln.startswith("inconsistent: 1N1_Co ") for ln in lines) == 4
    assert "8 calculations, 3 sites, 2 bare-site runs: 3 consistent, 4 inconsistent, 1 read" in (
        out.stdout.replace("\n", " ")
    )


def test_ingest_vasp_json_is_exactly_one_object(tmp_path):
    csv = tmp_path / "e.csv"
    out = arsc("ingest", "vasp", str(DATA), "--bare", "substrate", "-o", str(csv), "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["by_cause"] == {"LDAU": 4, "read error": 1}
    assert (doc["rows"], doc["sites"], doc["inconsistent"], doc["read_errors"]) == (8, 3, 4, 1)
    assert doc["errors"] == [f"{DATA / '2N2_W_OH'}: OSZICAR is empty"]
    assert doc["output"] == str(csv)
    assert (doc["skipped"], doc["skipped_paths"]) == (0, [])


def test_ingest_vasp_reports_skipped_names(tmp_path):
    out = arsc("ingest", "vasp", str(DATA), "-o", str(tmp_path / "e.csv"))
    assert out.returncode == 0, out.stderr
    skipped = [ln for ln in out.stdout.splitlines() if ln.startswith("skipped")]
    assert len(skipped) == 2  # the two substrate folders without --bare substrate
    assert all(ln.endswith("_substrate") for ln in skipped)


def test_bad_root_and_bad_pattern_exit_2_with_one_line(tmp_path):
    out = arsc("ingest", "vasp", str(tmp_path / "nope"), "-o", str(tmp_path / "e.csv"))
    assert out.returncode == 2
    assert out.stderr.startswith("arsc: error: ") and out.stderr.count("\n") == 1
    out = arsc("ingest", "vasp", str(DATA), "--pattern", "{site}_{ads}")
    assert out.returncode == 2
    assert "unknown field {ads}" in out.stderr and out.stderr.count("\n") == 1


def test_ingest_gpaw_reads_an_emt_stand_in_trajectory(tmp_path):
    """EMT stands in for GPAW (no DFT): the command reads any ASE file the same way."""
    slab = fcc111("Cu", size=(2, 2, 2), vacuum=5.0)
    slab.calc = EMT()
    energy = slab.get_potential_energy()
    (tmp_path / "runs").mkdir()
    with Trajectory(tmp_path / "runs" / "cu111_bare.traj", "w") as traj:
        traj.write(slab)
    csv = tmp_path / "e.csv"  # outside the tree it reads
    out = arsc("ingest", "gpaw", str(tmp_path / "runs"), "-o", str(csv), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["rows"] == 1
    (row,) = read_table(csv)
    assert (row.engine, row.site, row.adsorbate, row.consistent) == ("gpaw", "cu111", "bare", True)
    assert abs(row.e0 - energy) < 1e-12


# --- bad input: one line on stderr, exit 2, nothing overwritten (in process) ---------


def refused(capsys, *args) -> str:
    code, _, err = run(capsys, *args)
    assert code == 2, err
    assert err.startswith("arsc: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def copy_tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    shutil.copytree(DATA, root)
    for f in root.rglob("*"):
        f.chmod(0o755 if f.is_dir() else 0o644)
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_output_inside_the_tree_is_refused_and_no_input_is_touched(capsys, tmp_path):
    root = copy_tree(tmp_path)
    before = snapshot(root)
    err = refused(capsys, "ingest", "vasp", root, "-o", root / "1N1_Cu_OH" / "INCAR", "--force")
    assert "lies inside" in err and "INCAR" in err
    refused(capsys, "ingest", "vasp", root, "-o", root / "energies.csv")
    refused(capsys, "ingest", "gpaw", root, "-o", root / "x" / "e.csv")
    assert snapshot(root) == before


def test_output_that_is_a_folder_or_under_a_file_or_read_only_is_refused(
    capsys, tmp_path, monkeypatch
):
    assert "is a folder" in refused(capsys, "ingest", "vasp", DATA, "-o", tmp_path)
    (tmp_path / "f").write_text("x")
    assert "is a file, not a folder" in refused(
        capsys, "ingest", "vasp", DATA, "-o", tmp_path / "f" / "e.csv"
    )
    real_access = os.access
    monkeypatch.setattr(  # a read-only output folder (as root, chmod would not stop writes)
        os, "access", lambda path, mode: Path(path) != tmp_path and real_access(path, mode)
    )
    assert "not writable" in refused(capsys, "ingest", "vasp", DATA, "-o", tmp_path / "e.csv")
    assert not (tmp_path / "e.csv").exists()


def test_an_existing_file_of_another_kind_needs_force(capsys, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    err = refused(capsys, "ingest", "vasp", DATA, "--bare", "substrate", "-o", notes)
    assert "--force" in err
    assert notes.read_text() == "my notes\n"
    code, _, err = run(
        capsys, "ingest", "vasp", DATA, "--bare", "substrate", "-o", notes, "--force"
    )
    assert code == 0, err
    assert len(read_table(notes)) == 8
    # an energies table it wrote is replaced without --force, atomically (no temp file left)
    code, _, err = run(capsys, "ingest", "vasp", DATA, "--bare", "substrate", "-o", notes)
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_broken_runs_become_error_rows_and_the_summary_counts_them(capsys, tmp_path):
    root = copy_tree(tmp_path)
    (root / "1N1_Cu_OH" / "CONTCAR").write_bytes(bytes(range(256)) * 8)
    incar = root / "1N1_Co_H" / "INCAR"
    incar.write_text(incar.read_text() + "ENCUT = abc\n")
    osz = root / "1N1_Co_O" / "OSZICAR"
    lines = osz.read_text().splitlines(keepends=True)
    lines[-1] = re.sub(r"E0= \S+", "E0= NaN", lines[-1])
    osz.write_text("".join(lines))
    (root / "1N1_Co_OOH" / "OSZICAR").unlink()
    (root / "1N1_Co_OOH" / "OSZICAR").mkdir()
    csv = tmp_path / "e.csv"
    code, out, err = run(capsys, "ingest", "vasp", root, "--bare", "substrate", "-o", csv, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["rows"], doc["read_errors"], doc["by_cause"]["read error"]) == (8, 5, 5)
    reasons = dict(r.split(": ", 1) for r in doc["errors"])
    assert reasons[str(root / "1N1_Cu_OH")].startswith("CONTCAR holds binary data")
    assert reasons[str(root / "1N1_Co_H")].startswith("INCAR tag ENCUT = abc (line")
    assert reasons[str(root / "1N1_Co_O")].startswith("OSZICAR gives E0 = nan")
    assert reasons[str(root / "1N1_Co_OOH")] == "OSZICAR is a folder, not a file"
    table = read_table(csv)
    assert sum(not r.readable for r in table) == 5 and len(table) == 8
    code, out, err = run(capsys, "ingest", "vasp", root, "--bare", "substrate", "-o", csv)
    assert code == 0, err
    assert "5 read errors" in " ".join(out.split())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["vasp", "{tmp}/nope"], "does not exist"),
        (["vasp", "{tmp}/notes.txt"], "is a file; give the folder"),
        (["gpaw", "{tmp}/notes.txt"], "is not an ASE file"),
        (["vasp", "{tmp}/empty"], "no VASP calculation folders"),
        (["gpaw", "{tmp}/empty"], "no ASE files"),
        (["vasp", "{data}", "--pattern", "{site}"], "--pattern: name pattern '{site}' needs"),
        (["vasp", "{data}", "--pattern", "{site}_{adsorbate}["], "'[' without ']'"),
        (["vasp", "{data}", "--bare", "OH"], "--bare: bare-site token 'OH' is an intermediate"),
        (["vasp", "{data}", "--bare", ""], "--bare: bare-site token '' is not a name part"),
        (["vasp", "{data}", "--pattern", "{adsorbate}/{site}"], "none of the 8 VASP"),
        (["gpaw", "{data}", "--engine", "dft"], "'dft' is not one of"),
    ],
)
def test_bad_roots_patterns_and_tokens_are_one_line_errors_and_write_nothing(
    capsys, tmp_path, args, message
):
    (tmp_path / "notes.txt").write_text("hi\n")
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out" / "e.csv"
    filled = [
        a.format(tmp=tmp_path, data=DATA) if "{tmp}" in a or a == "{data}" else a for a in args
    ]
    err = refused(capsys, "ingest", *filled, "-o", out)
    assert message in err, err
    assert not out.exists()


def test_a_tree_where_nothing_can_be_read_writes_the_reasons_and_exits_2(capsys, tmp_path):
    root = tmp_path / "tree"
    shutil.copytree(DATA / "2N2_W_OH", root / "2N2_W_OH")
    csv = tmp_path / "e.csv"
    code, out, err = run(capsys, "ingest", "vasp", root, "-o", csv)
    assert code == 2
    assert err == (
        f"arsc: error: none of the 1 calculations under {str(root)!r} could be read; "
        f"the reasons are in {str(csv)!r}\n"
    )
    (row,) = read_table(csv)
    assert row.reason == f"{root / '2N2_W_OH'}: OSZICAR is empty"
    assert "1 read errors" in " ".join(out.split())
