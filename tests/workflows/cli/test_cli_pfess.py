"""``arsc pfess`` as a user runs it (a real subprocess for exit codes, stdout and stderr)."""

import json
import re

import pandas as pd
import pytest

from tests.paths import DATA
from tests.workflows.cli.helpers import arsc

DEMO = DATA / "pfess-demo" / "pairs.csv"


def test_json_is_one_object_with_the_best_1d_descriptor():
    out = arsc(
        "pfess", str(DEMO), "--target", "property", "--elements", "authors", "--top", "2", "--json"
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)  # the whole of stdout is one JSON object
    assert doc["n_features_generated"] == 1_620_486
    assert 0 < doc["n_features_clean"] < doc["n_features_generated"]
    assert doc["elapsed_s"] > 0
    best = doc["results"][0]
    assert best["formulas"] == ["abs(Rx - Rx**2) * (Sx / nx**2)"]
    assert best["r2"] >= 0.9239
    assert best["rmse"] == pytest.approx(0.0947, abs=5e-4)
    assert best["cv_rmse"] > best["rmse"]
    assert best["groups"] == "pair"
    assert len(best["coefficients"]) == 1 and isinstance(best["intercept"], float)
    assert len(doc["results"]) == 2


def test_table_prints_formula_r2_rmse_and_cv_rmse():
    out = arsc(
        "pfess", str(DEMO), "-t", "property", "--elements", "authors", "--space", "authors",
        "--groups", "metal1", "--top", "1",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if "abs(Rx - Rx**2)" in line)
    cells = [c.strip() for c in row.replace("│", "|").split("|") if c.strip()]
    assert cells[:3] == ["1", "1", "abs(Rx - Rx**2) * (Sx / nx**2)"]
    r2, rmse, cv = (float(c) for c in cells[-3:])
    assert r2 == pytest.approx(0.92393, abs=1e-5) and rmse == pytest.approx(0.0947, abs=1e-4)
    assert cv > rmse
    assert "166779 generated, 156788 clean" in out.stdout
    assert "leave one group out over metal1 groups" in out.stdout


@pytest.mark.parametrize(
    ("edit", "args", "message"),
    [
        (None, ["--target", "dG"], "no target column 'dG'"),
        (
            None,
            ["--target", "property", "--dim", "4"],
            r"--dim 4 is out of range; allowed: \[1, 3\]",
        ),
        ({(6, "metal1"): "Qq"}, ["--target", "property"], "row 7 of .*unknown metal 'Qq'"),
        ({(0, "property"): "high"}, ["--target", "property"], "row 1 of .*value 'high' is not a"),
    ],
)
def test_bad_input_prints_one_line_and_exits_2(tmp_path, edit, args, message):
    data = DEMO
    if edit:
        frame = pd.read_csv(DEMO).astype(object)
        for (row, col), value in edit.items():
            frame.loc[row, col] = value
        data = tmp_path / "bad.csv"
        frame.to_csv(data, index=False)
    out = arsc("pfess", str(data), "--elements", "authors", *args)
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("arsc: error: ")
    assert re.search(message, lines[0]), lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cv-folds", "1"], "--cv-folds 1 is out of range; allowed: [2, 1000]"),
        (["--cv-folds", "1001"], "--cv-folds 1001 is out of range"),
        (["--time-limit", "-1"], "--time-limit -1 is out of range; allowed: (0, 1e+06] s"),
        (["--time-limit", "0"], "--time-limit 0 is out of range"),
        (["--time-limit", "nan"], "--time-limit nan is out of range"),
        (["--dim", "0"], "--dim 0 is out of range; allowed: [1, 3]"),
        (["--top", "0"], "--top 0 is out of range"),
        (["--sis", "0"], "--sis 0 is out of range"),
        (["--beam", "-1"], "--beam -1 is out of range"),
        (["--n-estimators", "0"], "--n-estimators 0 is out of range"),
        (["--jobs", "0"], "--jobs 0 is out of range"),
    ],
)
def test_numeric_options_are_bounded_in_process(capsys, args, message):
    from workflows.cli.main import main

    code = main(["pfess", str(DEMO), "-t", "property", *args])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("arsc: error: ") and err.count("\n") == 1
    assert message in err


def test_a_missing_file_or_a_folder_is_named(capsys, tmp_path):
    from workflows.cli.main import main

    for path, message in ((tmp_path / "none.csv", "does not exist"), (tmp_path, "is a folder")):
        assert main(["pfess", str(path), "-t", "property"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"arsc: error: data file {str(path)!r} {message}")
