"""The ``arsc`` command line as a user runs it (a real subprocess for exit codes and stderr)."""

import re
import subprocess
import sys
from math import comb

import pandas as pd
import pytest

from arsc.elements import AUTHORS_METALS
from arsc.io import read_structure
from arsc.space import motifs


def arsc(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "workflows.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"COLUMNS": "200", "PATH": ""},
    )


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
