"""``arsc validate`` as a user runs it: table, --json, --plot, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from workflows.cli.main import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def csvs(tmp_path):
    pred = pd.DataFrame(
        {
            "site": ["a", "a", "b", "b", "c", "x"],
            "intermediate": ["OH", "O", "OH", "O", "OH", "OH"],
            "prediction": [0.1, 1.0, 0.4, 2.0, 0.9, 5.0],
        }
    )
    dft = pd.DataFrame(
        {
            "site": ["a", "a", "b", "b", "c", "d"],
            "intermediate": ["OH", "O", "OH", "O", "OH", "O"],
            "dG": [0.0, 1.5, 0.5, 1.5, 1.0, 3.0],
        }
    )
    pred.to_csv(tmp_path / "pred.csv", index=False)
    dft.to_csv(tmp_path / "dft.csv", index=False)
    return tmp_path / "pred.csv", tmp_path / "dft.csv"


def test_json_prints_one_object_with_counts_overall_and_groups(csvs, tmp_path, capsys):
    plot = tmp_path / "parity.png"
    code = main(["validate", *map(str, csvs), "--k", "2", "--plot", str(plot), "--json"])
    assert code == 0
    out = capsys.readouterr().out
    doc = json.loads(out)  # the whole of stdout is one JSON object
    assert doc["n_matched"] == 5 and doc["n_unmatched"] == 2
    assert doc["overall"]["mae"] == pytest.approx(0.26)
    assert doc["overall"]["k"] == 2
    assert set(doc["groups"]) == {"intermediate=O", "intermediate=OH"}
    assert doc["groups"]["intermediate=O"]["r2"] is None
    data = plot.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 1000


def test_table_output_names_groups_and_unmatched(csvs, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["validate", *map(str, csvs), "--best", "high"]) == 0
    out = capsys.readouterr().out
    for text in ("overall", "intermediate=OH", "intermediate=O", "MAE (eV)", "Spearman"):
        assert text in out
    assert "5 matched, 2 unmatched" in " ".join(out.split())
    assert "highest values best" in " ".join(out.split())


def test_on_and_value_options(csvs, capsys):
    code = main(
        ["validate", *map(str, csvs), "--on", "site,intermediate", "--value-dft", "dG", "--json"]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["keys"] == ["site", "intermediate"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--value-pred", "phi"], "prediction table lacks value column 'phi'"),
        (["--on", "pair"], "prediction table lacks key column 'pair'"),
        (["--value-dft", "eta"], "DFT table lacks value column 'eta'"),
    ],
)
def test_bad_columns_exit_2_with_one_line(csvs, capsys, args, message):
    assert main(["validate", *map(str, csvs), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("arsc: error: ") and message in err
    assert err.count("\n") == 1


def test_empty_join_exits_2_in_a_real_process(csvs, tmp_path):
    other = tmp_path / "other.csv"
    pd.DataFrame({"site": ["q"], "intermediate": ["OH"], "dG": [0.0]}).to_csv(other, index=False)
    run = subprocess.run(
        [sys.executable, "-m", "workflows.cli.main", "validate", str(csvs[0]), str(other)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2
    assert run.stderr.startswith("arsc: error: no row of the prediction table matches")
    assert run.stdout == ""


def _refused(capsys, *args, match=""):
    assert main(["validate", *map(str, args)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("arsc: error: ") and err.count("\n") == 1 and match in err, err
    assert "np." not in err


def test_plot_never_replaces_an_input_or_a_file_it_did_not_write(csvs, tmp_path, capsys):
    pred, dft = csvs
    before = pred.read_bytes()
    _refused(capsys, pred, dft, "--plot", pred, match="is an input of this command")
    assert pred.read_bytes() == before
    notes = tmp_path / "notes.png"
    notes.write_text("not an image")
    _refused(capsys, pred, dft, "--plot", notes, match="is not a PNG image")
    assert notes.read_text() == "not an image"
    _refused(capsys, pred, dft, "--plot", tmp_path, match="is a folder")
    assert main(["validate", str(pred), str(dft), "--plot", str(notes), "--force"]) == 0
    assert notes.read_bytes().startswith(PNG_MAGIC)
    assert main(["validate", str(pred), str(dft), "--plot", str(notes)]) == 0  # its own PNG
    capsys.readouterr()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dft.csv", "notes.png", "pred.csv"]


@pytest.mark.parametrize("value", ["inf", "-inf"])
def test_an_infinite_prediction_names_file_row_and_column(csvs, capsys, value):
    pred, dft = csvs
    table = pd.read_csv(pred)
    table.loc[2, "prediction"] = float(value)
    table.to_csv(pred, index=False)
    message = f"prediction table {str(pred)!r}: row 3: column 'prediction' holds {value}"
    _refused(capsys, pred, dft, match=message)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--k", "0"], "--k 0 is out of range; allowed: [1, 100000]"),
        (["--k", "100001"], "--k 100001 is out of range"),
        (["--on", ""], "--on '' has an empty item"),
    ],
)
def test_bad_options_are_one_line(csvs, capsys, args, message):
    _refused(capsys, *csvs, *args, match=message)


def test_a_missing_file_or_folder_is_named(csvs, tmp_path, capsys):
    _refused(capsys, tmp_path / "none.csv", csvs[1], match="does not exist")
    _refused(capsys, tmp_path, csvs[1], match=f"table {str(tmp_path)!r} is a folder")
