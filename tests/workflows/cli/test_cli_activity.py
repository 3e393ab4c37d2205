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
        "sources: {H2O: typical VASP PBE, H2: typical VASP PBE, H: Norskov 2005}\n"
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


# ---------------------------------------------------------------- corrections and diagrams
CRR_DG = {"COOH": 0.40, "CO": 0.10, "OCHO": 0.90, "H": 0.50, "CHO": 1.00, "COH": 1.20}


def crr_table(tmp_path, dg=CRR_DG, refs_name="vasp-pbe"):
    """An energies CSV whose free energies with the packaged vasp-pbe table are ``dg`` (eV)."""
    from arsc.thermo import load_network, load_references

    refs, net = load_references(refs_name), load_network()
    rows = [{"site": "s1", "adsorbate": "bare", "e0": -300.0}]
    for x, value in dg.items():
        shift = sum(n * refs.energy(m, x) for m, n in net.intermediates[x].items())
        rows.append(
            {"site": "s1", "adsorbate": x, "e0": -300.0 + value - refs.correction(x) + shift}
        )
    path = tmp_path / "crr.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def user_refs(tmp_path, extra="", corrections="{H: 0.24}", sources="{H2O: a, H2: b, CO2: c, H: d}"):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "name: mine\nsource: test\nenergies: {H2O: -14.22, H2: -6.77, CO2: -22.96}\n"
        f"corrections: {corrections}\nsources: {sources}\n{extra}"
    )
    return path


@pytest.mark.parametrize(
    ("extra", "corrections", "sources", "pattern"),
    [
        ("", "{H: 0.24, XY: 0.1}", "{H2O: a, H2: b, CO2: c, H: d, XY: e}",
         "corrections: unknown intermediate in corrections 'XY'"),
        ("temperature: -10\n", "{H: 0.24}", "{H2O: a, H2: b, CO2: c, H: d}",
         "temperature: must be > 0 (got -10)"),
        ("", "{H: 0.24}", "{H2O: a, H2: b, CO2: c}", "no source for corrections.H"),
    ],
)  # fmt: skip
def test_bad_references_table_is_one_line_and_exit_2(capsys, tmp_path, extra, corrections,
                                                      sources, pattern):  # fmt: skip
    refs = user_refs(tmp_path, extra, corrections, sources)
    code, _, err = run(capsys, SYNTHETIC, "--references", refs, "-r", "her")
    assert code == 2
    assert err.startswith("arsc: error: references file") and pattern in err
    assert str(refs) in err and err.count("\n") == 1


def test_missing_correction_is_refused_unless_allowed_and_then_marked(capsys, tmp_path):
    energies = crr_table(tmp_path)
    refs = user_refs(tmp_path)
    code, _, err = run(capsys, energies, "--references", refs, "-r", "crr")
    assert code == 2 and err.count("\n") == 1
    assert (
        "references 'mine' have no free-energy correction for *COOH, *CO, *CHO, *COH, *OCHO" in err
    )
    assert "--allow-uncorrected" in err
    out_csv = tmp_path / "crr-activity.csv"
    code, out, err = run(capsys, energies, "--references", refs, "-r", "crr", "--allow-uncorrected",
                         "-o", out_csv)  # fmt: skip
    assert code == 0, err
    assert "UNCORRECTED: no free-energy correction for COOH, CO, CHO, COH, OCHO" in out
    table = pd.read_csv(out_csv, keep_default_na=False)
    assert table.loc[0, "uncorrected"] == "COOH, CO, CHO, COH, OCHO"
    code, out, _ = run(capsys, energies, "--references", refs, "-r", "crr", "--allow-uncorrected",
                       "--json")  # fmt: skip
    doc = json.loads(out)
    assert doc["uncorrected"] == ["COOH", "CO", "CHO", "COH", "OCHO"]
    assert doc["uncorrected_sites"] == 1 and doc["results"][0]["uncorrected"].startswith("COOH")


def test_packaged_table_corrects_every_crr_and_nrr_intermediate(capsys, tmp_path):
    code, out, err = run(capsys, crr_table(tmp_path), "--references", "vasp-pbe", "-r", "crr",
                         "--json")  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["uncorrected"] == []
    row = doc["results"][0]
    assert row["dG_COOH"] == pytest.approx(0.40) and row["product"] == "CO"
    assert row["overpotential"] == pytest.approx(0.30) and row["limiting_step"] == "CO2 -> *COOH"


def test_diagram_is_drawn_for_the_named_site(capsys, tmp_path):
    energies = crr_table(tmp_path)
    png = tmp_path / "crr.png"
    code, out, err = run(capsys, energies, "--references", "vasp-pbe", "-r", "crr",
                         "--diagram", png, "--site", "s1")  # fmt: skip
    assert code == 0, err
    assert "drew the crr diagram of s1" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, _ = run(
        capsys, SYNTHETIC, "--references", "vasp-pbe", "-r", "orr", "--diagram", png, "--json"
    )  # fmt: skip  (replaces its own PNG)
    assert code == 0 and json.loads(out)["diagram"] == {"path": str(png), "site": "ideal"}


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["--diagram", "{tmp}/d.png", "--site", "nope"], "--site 'nope' is not in the energies"),
        (["--site", "ideal"], "--site names the site of --diagram"),
        (["--diagram", SYNTHETIC], "is an input of this command"),
    ],
)  # fmt: skip
def test_bad_diagram_options_are_one_line(capsys, tmp_path, args, pattern):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code, _, err = run(capsys, SYNTHETIC, "--references", "vasp-pbe", *args)
    assert code == 2 and pattern in err and err.count("\n") == 1


def corrections_cli(capsys, *args):
    """Run the ``corrections`` verb of this module as ``arsc`` would (errors: one line, 2)."""
    import typer

    from arsc.errors import ArscInputError
    from workflows.cli.activity import register

    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    try:
        app(["corrections", *map(str, args)], standalone_mode=False)
        code = 0
    except ArscInputError as exc:
        print(f"arsc: error: {exc}", file=sys.stderr)
        code = 2
    out = capsys.readouterr()
    return code, out.out, out.err


def toy_adsorbed_state(path):
    """Five atoms: a Cu4 plaquette with one H on top, tagged and named as `arsc build` does."""
    from ase import Atoms
    from ase.io import write

    from arsc.structures import TAG_ADSORBATE

    atoms = Atoms("Cu4H", positions=[[0, 0, 5], [2.5, 0, 5], [0, 2.5, 5], [2.5, 2.5, 5],
                                     [1.25, 1.25, 6.1]], cell=[9, 9, 14], pbc=True)  # fmt: skip
    atoms.set_tags([0, 0, 0, 0, TAG_ADSORBATE])
    atoms.info.update({"site_id": "toy-Cu4", "adsorbate": "H", "mode": "top1"})
    write(path, atoms)
    return path


def test_corrections_with_chgnet_give_a_table_activity_reads(capsys, tmp_path):
    """Real CHGNet on a 5-atom toy state (*H on Cu4) and H2: a table `arsc activity` takes."""
    pytest.importorskip("chgnet", reason="the MLIP extra (scripts/install.sh installs it)")
    state = toy_adsorbed_state(tmp_path / "H.extxyz")
    out = tmp_path / "mine.yaml"
    code, text, err = corrections_cli(capsys, state, "-o", out, "--scratch", tmp_path / "s",
                                      "--json")  # fmt: skip
    assert code == 0, err
    doc = json.loads(text)
    from arsc.thermo.references import read_references

    refs = read_references(out)
    assert set(doc["corrections"]) == {"H"} and refs.corrections["H"] == doc["corrections"]["H"]
    assert 0.0 < refs.corrections["H"] < 0.5  # ZPE of one H minus half of H2's, TS of 1/2 H2
    assert "CHGNet" in refs.source_of("corrections", "H") or "chgnet" in refs.source_of(
        "corrections", "H"
    )
    assert refs.corrections["OH"] == 0.35  # kept from the base table, with its source
    species = {(a["species"], a["kind"]) for a in doc["analyses"]}
    assert species == {("H", "adsorbate"), ("H2", "gas")}
    h = next(a for a in doc["analyses"] if a["species"] == "H")
    assert h["displaced"] == [4] and len(h["frequencies_cm"]) == 3
    code, _, err = run(capsys, SYNTHETIC, "--references", out, "-r", "her")
    assert code == 0, err


def test_corrections_refuses_a_structure_without_adsorbate(capsys, tmp_path):
    from ase.build import bulk
    from ase.io import write

    path = tmp_path / "bare.extxyz"
    write(path, bulk("Cu", cubic=True))
    code, _, err = corrections_cli(capsys, path, "-o", tmp_path / "o.yaml")
    assert code == 2 and err.count("\n") == 1
    assert "does not name its adsorbate" in err
    code, _, err = corrections_cli(capsys, path, "-o", path)
    assert code == 2 and "is an input of this command" in err
