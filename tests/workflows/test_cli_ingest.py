"""``arsc ingest vasp|gpaw`` as a user runs it (a real subprocess for exit codes and stdout)."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
from ase.build import fcc111
from ase.calculators.emt import EMT
from ase.io import Trajectory

from arsc.ingest import COLUMNS, read_table

DATA = Path(__file__).parents[1] / "data" / "sac-hoer"


def arsc(*args):
    return subprocess.run(
        [sys.executable, "-m", "workflows.cli.main", *args],
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "PATH": ""},
    )


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
    with Trajectory(tmp_path / "cu111_bare.traj", "w") as traj:
        traj.write(slab)
    csv = tmp_path / "e.csv"
    out = arsc("ingest", "gpaw", str(tmp_path), "-o", str(csv), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["rows"] == 1
    (row,) = read_table(csv)
    assert (row.engine, row.site, row.adsorbate, row.consistent) == ("gpaw", "cu111", "bare", True)
    assert abs(row.e0 - energy) < 1e-12
