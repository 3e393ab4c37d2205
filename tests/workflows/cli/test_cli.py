"""The ``arsc`` command line as a user runs it (a real subprocess for exit codes and stderr)."""

import os
import re
from math import comb

import pandas as pd
import pytest

from arsc.elements import AUTHORS_METALS
from arsc.io import read_structure
from arsc.space import motifs
from tests.workflows.cli.helpers import arsc


def test_help_lists_every_verb_and_version():
    out = arsc("--help")
    assert out.returncode == 0
    for verb in ("space", "build", "elements"):
        assert re.search(rf"\b{verb}\b", out.stdout)
    ver = arsc("--version")
    assert ver.returncode == 0 and re.fullmatch(r"arsc \d+\.\d+\.\d+\S*\n", ver.stdout)


def test_space_defaults_print_210_pairs_per_symmetric_motif(tmp_path):
    out = arsc("space", "-o", str(tmp_path / "space.csv"))
    assert out.returncode == 0, out.stderr
    n = len(AUTHORS_METALS)
    for name, mot in motifs().items():
        row = re.search(
            rf"{re.escape(name)}[\s│]+\S+[\s│]+(yes|no)[\s│]+(\d+)[\s│]+(\d+)", out.stdout
        )
        assert row, name
        assert int(row.group(2)) == (comb(n, 2) + n if mot.symmetric else n * n)
    table = pd.read_csv(tmp_path / "space.csv")
    assert list(table.columns[:6]) == ["id", "metal1", "metal2", "motif", "support", "symmetric"]
    assert table["id"].is_unique
    total = int(re.search(r"sites: (\d+)", out.stdout).group(1))
    assert total == len(table)
    assert re.search(r"structures \(bare sites included\): \d+", out.stdout)
    assert re.search(r"exhaustive screen .*: \d+", out.stdout.replace("\n", " "))


def test_build_writes_by_suffix(tmp_path):
    out = arsc(
        "build",
        "Co-Fe_qv-n6_graphene",
        "--adsorbate",
        "OH",
        "--mode",
        "bridge",
        "-o",
        str(tmp_path / "x.extxyz"),
    )
    assert out.returncode == 0, out.stderr
    assert "Fe-Co_qv-n6_graphene" in out.stdout
    atoms = read_structure(tmp_path / "x.extxyz")
    assert atoms.info["mode"] == "bridge"
    assert arsc("build", "Fe-Co_qv-n6_graphene", "-o", str(tmp_path / "POSCAR")).returncode == 0
    assert (tmp_path / "POSCAR").read_text().strip()


def test_elements_prints_table_and_diff():
    out = arsc("elements", "--elements", "authors")
    assert out.returncode == 0 and "Pt" in out.stdout and "source:" in out.stdout
    diff = arsc("elements", "--diff")
    assert diff.returncode == 0 and re.search(r"\d+ values differ", diff.stdout)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["build", "Fe-Xx_qv-n6_graphene"], "unknown element 'Xx'"),
        (["build", "Fe-Co_qv-n9_graphene"], "unknown motif 'qv-n9'; allowed: qv-n6"),
        (["build", "Fe-Co_c2n-n6_graphene"], "motif 'c2n-n6' does not fit support 'graphene'"),
        (
            ["build", "Fe-Co_dv2-n8_graphene", "-a", "OH", "--mode", "bridge"],
            "mode not available 'bridge'",
        ),
        (["build", "Fe-Co_qv-n6_graphene", "-o", "x.png"], "cannot tell the structure format"),
        (["space", "--metals", "Fe,Unobtainium"], "unknown element 'Unobtainium'"),
        (["space", "--motifs", "hexagon"], "unknown motif 'hexagon'"),
        (["space", "--elements", "mine"], "'mine' is not one of 'default', 'authors'"),
        (["space", "--bogus"], "No such option: --bogus"),
        (["space", "--intermediates", "OOOH"], "unknown intermediate 'OOOH'"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, args, message):
    out = arsc(*args, cwd=tmp_path)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("arsc: error:")
    assert message in lines[0]


# ---- bad input in-process: one line, exit 2, nothing written or overwritten ------------
def run_main(capsys, *args):
    from workflows.cli.main import main

    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def refused(capsys, *args, match=""):
    code, _, err = run_main(capsys, *args)
    assert code == 2, err
    assert err.startswith("arsc: error: ") and err.count("\n") == 1, err
    assert match in err and "Traceback" not in err and "np." not in err
    return err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", ""], "--metals '' has an empty item"),
        (["--motifs", ""], "--motifs '' has an empty item"),
        (["--supports", "graphene,"], "--supports 'graphene,' has an empty item"),
        (["-i", ""], "--intermediates '' has an empty item"),
        (
            ["--motifs", "c2n-n6", "--supports", "graphene"],
            "motif 'c2n-n6' does not fit support graphene; it fits: c2n",
        ),
    ],
)
def test_space_refuses_empty_items_and_misfit_motifs(capsys, tmp_path, args, message):
    refused(capsys, "space", *args, "-o", tmp_path / "s.csv", match=message)
    assert list(tmp_path.iterdir()) == []


def test_space_output_discipline(capsys, tmp_path, monkeypatch):
    notes = tmp_path / "notes.csv"
    notes.write_text("my,own\n1,2\n")
    refused(capsys, "space", "-m", "Fe", "-o", notes, match="pass --force")
    assert notes.read_text() == "my,own\n1,2\n"
    refused(capsys, "space", "-m", "Fe", "-o", tmp_path, match="is a folder")
    refused(capsys, "space", "-m", "Fe", "-o", notes / "x.csv", match="is a file, not a folder")
    site = tmp_path / "space.csv"
    assert run_main(capsys, "space", "-m", "Fe", "-o", site)[0] == 0
    assert run_main(capsys, "space", "-m", "Fe,Co", "-o", site)[0] == 0  # its own file: replaced
    assert len(pd.read_csv(site)) > 1
    assert run_main(capsys, "space", "-m", "Fe", "-o", notes, "--force")[0] == 0
    assert list(pd.read_csv(notes).columns[:2]) == ["id", "metal1"]
    monkeypatch.setattr("os.access", lambda p, mode, *a, **k: not mode & os.W_OK)  # read-only
    refused(capsys, "space", "-m", "Fe", "-o", tmp_path / "new.csv", match="not writable")
    assert not (tmp_path / "new.csv").exists()


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf", "-inf", "4.9", "40.1", "200", "1e999"])
def test_build_min_image_is_bounded(capsys, tmp_path, value):
    out = tmp_path / "b.extxyz"
    refused(capsys, "build", "Fe-Co_qv-n6_graphene", "--min-image", value, "-o", out,
            match="allowed: [5, 40] Angstrom")  # fmt: skip
    assert not out.exists()


def test_build_output_discipline(capsys, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("mine\n")
    site = "Fe-Co_qv-n6_graphene"
    refused(capsys, "build", site, "-o", notes, match="is not a structure file")
    assert notes.read_text() == "mine\n"
    refused(capsys, "build", site, "-o", tmp_path, match="is a folder")
    refused(capsys, "build", site, "-o", notes / "POSCAR", match="is a file, not a folder")
    poscar = tmp_path / "POSCAR"
    assert run_main(capsys, "build", site, "--min-image", "9.5", "-o", poscar)[0] == 0
    assert run_main(capsys, "build", site, "--min-image", "9.5", "-o", poscar)[0] == 0  # replaced
    assert len(read_structure(poscar)) == 48
    assert sorted(p.name for p in tmp_path.iterdir()) == ["POSCAR", "notes.txt"]
    other = tmp_path / "other.extxyz"
    other.write_text("not a structure\n")
    assert run_main(capsys, "build", site, "-o", other, "--force")[0] == 0
    assert read_structure(other).info["site_id"] == site
