"""``arsc fit`` and ``arsc predict`` as a user runs them (in-process, real files)."""

import json

import numpy as np
import pandas as pd
import pytest

from arsc.model import load_model
from tests.paths import DATA as TEST_DATA
from tests.workflows.cli.helpers import run
from workflows.cli.main import main

DATA = TEST_DATA / "model"


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")


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


def one_line_error(capsys, *args, match=""):
    code, _, err = run(capsys, *args)
    assert code == 2, err
    assert err.startswith("arsc: error: ") and err.count("\n") == 1, err
    assert match in err and "np." not in err
    return err


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        (
            "--ensemble",
            "1000000000000",
            "--ensemble 1000000000000 is out of range; allowed: [0, 1000]",
        ),
        ("--ensemble", "-1", "--ensemble -1 is out of range"),
        ("--folds", "1001", "--folds 1001 is out of range; allowed: [2, 1000]"),
        ("--seed", "-1", "--seed -1 is out of range; allowed: 0 to 4294967295"),
        ("--seed", str(2**40), "--seed 1099511627776 is out of range"),
    ],
)
def test_fit_numeric_options_are_bounded(capsys, tmp_path, option, value, message):
    out = tmp_path / "m.json"
    one_line_error(capsys, "fit", DATA / "pfess_demo.csv", "-t", "property", "-o", out,
                   option, value, match=message)  # fmt: skip
    assert not out.exists()


def test_fit_refuses_a_header_only_table_and_a_one_row_intermediate(capsys, tmp_path):
    header = tmp_path / "header.csv"
    header.write_text("metal1,metal2,coord_N1,coord_C1,intermediate,dG\n")
    out = tmp_path / "m.json"
    one_line_error(capsys, "fit", header, "-t", "dG", "-o", out, match="has no rows")
    table = pd.read_csv(DATA / "synthetic_orr.csv")
    foo = tmp_path / "foo.csv"
    pd.concat([table, table.iloc[:1].assign(intermediate="FOO")]).to_csv(foo, index=False)
    message = "intermediate 'FOO' has 1 row; fitting it needs at least"
    err = one_line_error(capsys, "fit", foo, "-t", "dG", "-o", out, match=message)
    assert "free parameters of variant 'hier'" in err
    assert not out.exists()


def test_fit_and_predict_refuse_missing_inputs_and_folders(capsys, tmp_path, orr_model):
    out = tmp_path / "m.json"
    one_line_error(capsys, "fit", tmp_path / "none.csv", "-t", "dG", "-o", out,
                   match="table '" + str(tmp_path / "none.csv") + "' does not exist")  # fmt: skip
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    one_line_error(capsys, "fit", folder, "-t", "dG", "-o", out, match="is a folder")
    one_line_error(capsys, "predict", orr_model, folder, "-o", tmp_path / "p.csv",
                   match="is a folder")  # fmt: skip
    one_line_error(capsys, "predict", folder, DATA / "synthetic_orr.csv", "-o",
                   tmp_path / "p.csv", match=str(folder))  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.csv"]


def test_fit_and_predict_replace_only_their_own_outputs_unless_forced(
    capsys, tmp_path, orr_model, space_csv
):
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": 1}\n')
    fit = ["fit", DATA / "pfess_demo.csv", "-t", "property", "--variant", "base",
           "--ensemble", "0", "--folds", "2"]  # fmt: skip
    one_line_error(capsys, *fit, "-o", notes, match="is not a model file (JSON)")
    assert notes.read_text() == '{"mine": 1}\n'
    assert run(capsys, *fit, "-o", notes, "--force")[0] == 0
    assert run(capsys, *fit, "-o", notes)[0] == 0  # now a model file: replaced without --force
    assert load_model(notes).variant == "base"

    # a table the command did not write (here a copy of the training table) is not replaced
    train = tmp_path / "train_copy.csv"
    train.write_bytes((DATA / "synthetic_orr.csv").read_bytes())
    before = train.read_bytes()
    one_line_error(capsys, "predict", orr_model, space_csv, "-o", train,
                   match="is not a prediction table")  # fmt: skip
    assert train.read_bytes() == before
    pred = tmp_path / "pred.csv"
    assert run(capsys, "predict", orr_model, space_csv, "-o", pred)[0] == 0
    assert run(capsys, "predict", orr_model, space_csv, "-o", pred, "--layout", "long")[0] == 0
    assert run(capsys, "predict", orr_model, space_csv, "-o", train, "--force")[0] == 0
    assert "phi_opt_OH" in pd.read_csv(train).columns
    one_line_error(capsys, "predict", orr_model, space_csv, "-o", pred, "-i", "",
                   match="--intermediates '' has an empty item")  # fmt: skip
