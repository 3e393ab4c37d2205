"""``arsc fit`` and ``arsc predict`` as a user runs them (in-process, real files)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arsc.model import load_model
from workflows.cli.main import main

DATA = Path(__file__).parents[1] / "data" / "model"


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")


def run(capsys, *args):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def space_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("space") / "space.csv"
    assert main(["space", "-m", "Fe,Co,Ni", "-o", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def orr_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "orr.json"
    args = ["fit", DATA / "synthetic_orr.csv", "-t", "dG", "-o", path, "--ensemble", "5"]
    assert main([str(a) for a in [*args, "--folds", "3", "--json"]]) == 0
    return path


def test_fit_json_prints_one_object_with_train_and_grouped_cv_metrics(capsys, tmp_path):
    model = tmp_path / "pfess.json"
    code, out, err = run(
        capsys, "fit", DATA / "pfess_demo.csv", "--target", "property", "-o", model,
        "--elements", "authors", "--groups", "metal1", "--ensemble", "4", "--json",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    fit = summary["intermediates"]["property"]
    assert summary["groups"] == "metal1" and summary["schema_version"] == 2
    assert fit["train"]["n"] == 56 and fit["cv"]["n"] == 56
    assert fit["cv"]["rmse"] > 0 and 0 < fit["train"]["r2"] <= 1
    assert load_model(model).element_table == "authors"


def test_fit_prints_a_table_of_train_and_cv_errors(capsys, tmp_path):
    code, out, _ = run(
        capsys, "fit", DATA / "pfess_demo.csv", "-t", "property", "-o", tmp_path / "m.json",
        "--ensemble", "2", "--folds", "3",
    )  # fmt: skip
    assert code == 0
    assert "CV RMSE" in out and "property: a=" in out and "wrote" in out


def test_fit_variant_auto_reports_every_variant_and_marks_one(capsys, tmp_path):
    code, out, err = run(
        capsys, "fit", DATA / "pfess_demo.csv", "-t", "property", "-o", tmp_path / "m.json",
        "--variant", "auto", "--ensemble", "0", "--folds", "3", "--json",
    )  # fmt: skip
    assert code == 0, err
    variants = json.loads(out)["variants"]
    assert [v["variant"] for v in variants] == ["base", "coord-metal", "pair", "full", "hier"]
    assert sum(v["chosen"] for v in variants) == 1


def test_predict_scores_the_space_table_wide_with_uncertainty(
    capsys, orr_model, space_csv, tmp_path
):
    pred = tmp_path / "pred.csv"
    code, out, err = run(capsys, "predict", orr_model, space_csv, "-o", pred, "--json")
    assert code == 0, err
    summary = json.loads(out)
    space = pd.read_csv(space_csv)
    table = pd.read_csv(pred)
    assert summary["rows"] == len(space) == len(table)
    assert summary["predictions"] == 3 * len(space)
    assert set(summary["ignored_columns"]) == {"coord_O1", "coord_O2", "coord_S1", "coord_S2",
                                                "coord_B1", "coord_B2"}  # fmt: skip
    for z in ("OH", "O", "OOH"):
        assert table[f"dG_{z}"].notna().all() and (table[f"dG_{z}_std"] > 0).all()
        assert (table[f"phi_{z}"] > 0).all() and table[f"phi_opt_{z}"].notna().all()
    assert list(table["id"]) == list(space["id"])


def test_predict_long_layout_for_chosen_intermediates(capsys, orr_model, space_csv, tmp_path):
    pred = tmp_path / "pred.csv"
    code, out, _ = run(
        capsys, "predict", orr_model, space_csv, "-o", pred, "-i", "OH,OOH", "--layout", "long",
        "--reaction", "OER",
    )  # fmt: skip
    assert code == 0
    table = pd.read_csv(pred)
    assert len(table) == 2 * len(pd.read_csv(space_csv))
    assert set(table["intermediate"]) == {"OH", "OOH"}
    assert {"prediction", "uncertainty", "phi", "phi_opt"} <= set(table.columns)
    assert "predictions" in out


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["predict", "{missing}", "{table}", "-o", "{out}"], "cannot be read"),
        (["predict", "{model}", "{table}", "-o", "{out}", "-i", "NH3"], "unknown intermediate"),
        (["predict", "{model}", "{table}", "-o", "{out}", "--reaction", "XRR"], "unknown reaction"),
        (["fit", "{table}", "-t", "dG", "-o", "{out}"], "unknown target column 'dG'"),
        (["fit", "{train}", "-t", "dG", "-o", "{out}", "--folds", "1"], "--folds"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, orr_model, space_csv, tmp_path, args, match):
    paths = {
        "missing": tmp_path / "nope.json",
        "table": space_csv,
        "model": orr_model,
        "out": tmp_path / "out.csv",
        "train": DATA / "synthetic_orr.csv",
    }
    code, _, err = run(capsys, *(a.format(**paths) for a in args))
    assert code == 2
    assert err.startswith("arsc: error:") and match in err and err.count("\n") == 1


def test_predict_explain_prints_and_writes_additive_contributions(capsys, tmp_path):
    model = tmp_path / "hier.json"
    code, _, err = run(
        capsys, "fit", DATA / "pfess_demo.csv", "-t", "property", "-o", model, "--folds", "3",
    )  # fmt: skip
    assert code == 0, err
    pred = tmp_path / "pred.csv"
    code, out, err = run(capsys, "predict", model, DATA / "pfess_demo.csv", "-o", pred, "--explain")
    assert code == 0, err
    assert "prediction = R + A + S + C" in out
    table = pd.read_csv(pred)
    parts = table[["R_property", "A_property", "S_property", "C_property"]].sum(axis=1)
    assert np.allclose(parts, table["prediction"], atol=1e-5)


def test_predict_explain_with_a_power_law_model_is_a_one_line_error(capsys, tmp_path):
    model = tmp_path / "base.json"
    args = ["fit", DATA / "pfess_demo.csv", "-t", "property", "-o", model, "--variant", "base"]
    assert run(capsys, *args, "--ensemble", "0", "--folds", "3")[0] == 0
    code, _, err = run(
        capsys, "predict", model, DATA / "pfess_demo.csv", "-o", tmp_path / "p.csv", "--explain"
    )
    assert code == 2
    assert (
        err.startswith("arsc: error: explain needs a hierarchical model") and err.count("\n") == 1
    )


def test_fit_and_predict_refuse_to_overwrite_their_own_inputs(capsys, tmp_path):
    table = tmp_path / "train.csv"
    table.write_bytes((DATA / "pfess_demo.csv").read_bytes())
    before = table.read_bytes()
    code, _, err = run(capsys, "fit", table, "-t", "property", "-o", table)
    assert code == 2 and "is an input of this command" in err and err.count("\n") == 1
    assert table.read_bytes() == before
    model = tmp_path / "m.json"
    assert run(capsys, "fit", table, "-t", "property", "-o", model, "--folds", "3")[0] == 0
    saved = model.read_bytes()
    code, _, err = run(capsys, "predict", model, table, "-o", model)
    assert code == 2 and "is an input of this command" in err
    assert model.read_bytes() == saved
    code, _, err = run(capsys, "predict", model, table, "-o", tmp_path)
    assert code == 2 and "is a folder" in err
