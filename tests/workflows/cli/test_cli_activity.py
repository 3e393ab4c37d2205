"""``arsc activity``: free energies and overpotentials from an energies table."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.paths import DATA as TEST_DATA
from workflows.cli.main import main

DATA = TEST_DATA / "thermo"
SYNTHETIC = str(DATA / "energies_synthetic.csv")


def run(capsys, *args):
    code = main(["activity", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_orr_writes_the_per_site_table_and_prints_a_summary(capsys, tmp_path):
    out_csv = tmp_path / "activity.csv"
    code, out, err = run(capsys, SYNTHETIC, "--references", "vasp-pbe", "-o", str(out_csv))
    assert code == 0, err
    table = pd.read_csv(out_csv, keep_default_na=False, na_values=[""]).set_index("site")
    for col in ("overpotential", "limiting_step", "U_L", "consistent", "reason", "dG_OH", "dG_O"):
        assert col in table.columns
    assert table.loc["handcalc", "overpotential"] == pytest.approx(0.43)
    assert table.loc["handcalc", "U_L"] == pytest.approx(0.80)
    assert table.loc["handcalc", "limiting_step"] == "*OH + H2O -> 2 H2O"
    assert math.isnan(table.loc["no_ooh", "overpotential"])
    assert "no OOH calculation for site no_ooh" in table.loc["no_ooh", "reason"]
    assert not table.loc["flagged", "consistent"]
    assert "orr: 5 sites, 3 computed, 2 NaN" in out
    assert "NaN because OOH: no calculation: 1 sites" in out
    assert "ideal" in out and "best sites" in out


def test_json_prints_exactly_one_object_with_nulls_for_nan(capsys):
    code, out, _ = run(
        capsys, SYNTHETIC, "--references", "vasp-pbe", "-r", "bifunctional", "--json"
    )
    assert code == 0
    doc = json.loads(out)  # the whole stdout is one JSON object
    assert doc["reaction"] == "bifunctional" and doc["sites"] == 5
    assert doc["computed"] == 3 and doc["nan"] == 2
    rows = {r["site"]: r for r in doc["results"]}
    assert rows["handcalc"]["overpotential"] == pytest.approx(1.00)
    assert rows["handcalc"]["eta_orr"] == pytest.approx(0.43)
    assert rows["handcalc"]["eta_oer"] == pytest.approx(0.57)
    assert rows["no_ooh"]["overpotential"] is None
    assert doc["best"][0]["site"] == "ideal"


def test_energy_f_and_include_inconsistent_options(capsys):
    code, out, _ = run(
        capsys,
        SYNTHETIC,
        "--references",
        "vasp-pbe",
        "--energy",
        "f",
        "--include-inconsistent",
        "--json",
    )
    assert code == 0
    doc = json.loads(out)
    rows = {r["site"]: r for r in doc["results"]}
    assert doc["energy"] == "f" and doc["include_inconsistent"] is True
    assert rows["handcalc"]["overpotential"] == pytest.approx(0.53)
    assert rows["flagged"]["overpotential"] == pytest.approx(0.43)
    assert rows["flagged"]["consistent"] is False


def test_references_from_a_user_file(capsys, tmp_path):
    refs = tmp_path / "mine.yaml"
    refs.write_text(
        "name: mine\nsource: test\nenergies: {H2O: -14.22, H2: -6.77}\ncorrections: {H: 0.24}\n"
    )
    code, out, _ = run(capsys, SYNTHETIC, "--references", str(refs), "-r", "her", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["references"] == "mine"
    rows = {r["site"]: r for r in doc["results"]}
    assert rows["handcalc"]["overpotential"] == pytest.approx(0.20)


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["-r", "xyz"], "unknown reaction 'xyz'; allowed: orr, oer, her, crr, nrr, bifunctional"),
        (["--references", "nope"], "unknown references"),
        (["--references", "gpaw-template"], "is a template"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(capsys, args, pattern):
    base = [SYNTHETIC, "--references", "vasp-pbe"]
    code, _, err = run(capsys, *base, *args)
    assert code == 2
    assert err.startswith("arsc: error: ") and pattern in err
    assert err.count("\n") == 1


def test_missing_table_is_refused_by_the_real_command(tmp_path):
    """A real subprocess, for the exit code and stderr a user sees."""
    proc = subprocess.run(
        [sys.executable, "-m", "workflows.cli.main", "activity", str(tmp_path / "none.csv"),
         "--references", "vasp-pbe"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.startswith("arsc: error: energies table") and "does not exist" in proc.stderr


def test_output_never_replaces_an_input_or_a_file_it_did_not_write(capsys, tmp_path, monkeypatch):
    energies = tmp_path / "E.csv"
    energies.write_bytes(Path(SYNTHETIC).read_bytes())
    before = energies.read_bytes()
    code, _, err = run(capsys, energies, "--references", "vasp-pbe", "-o", energies)
    assert code == 2 and "is an input of this command" in err and err.count("\n") == 1
    assert energies.read_bytes() == before
    other = tmp_path / "other.csv"
    other.write_text("site,note\na,mine\n")
    code, _, err = run(capsys, energies, "--references", "vasp-pbe", "-o", other)
    assert code == 2 and "pass --force" in err
    assert other.read_text() == "site,note\na,mine\n"
    code, _, err = run(capsys, energies, "--references", "vasp-pbe", "-o", tmp_path)
    assert code == 2 and "is a folder" in err
    out = tmp_path / "activity.csv"
    assert run(capsys, energies, "--references", "vasp-pbe", "-o", out)[0] == 0
    assert run(capsys, energies, "--references", "vasp-pbe", "-o", out, "-r", "oer")[0] == 0
    assert set(pd.read_csv(out)["reaction"]) == {"oer"}
    assert run(capsys, energies, "--references", "vasp-pbe", "-o", other, "--force")[0] == 0
    assert "overpotential" in pd.read_csv(other).columns
    assert sorted(p.name for p in tmp_path.iterdir()) == ["E.csv", "activity.csv", "other.csv"]
    monkeypatch.setattr("os.access", lambda p, mode, *a, **k: not mode & os.W_OK)  # read-only
    code, _, err = run(capsys, energies, "--references", "vasp-pbe", "-o", tmp_path / "n.csv")
    assert code == 2 and "not writable" in err and err.count("\n") == 1


def test_a_folder_as_the_energies_table_is_named(capsys, tmp_path):
    code, _, err = run(capsys, tmp_path, "--references", "vasp-pbe")
    assert code == 2
    assert err == f"arsc: error: energies table {str(tmp_path)!r} is a folder; give a file\n"
