"""Validation metrics: hand-computed values on small tables, top-k, joins, bad input, PNG."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arsc.errors import ArscInputError
from arsc.validate import evaluate, match, metrics, parity_plot, read_table, top_k

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_metrics_match_hand_computation():
    pred = np.array([1.0, 2.0, 4.0, 3.0])
    dft = np.array([1.5, 2.0, 3.0, 3.5])
    m = metrics(pred, dft, k=2)
    # errors: -0.5, 0, 1, -0.5 -> |e| sum 2.0, e^2 sum 1.5
    assert m.n == 4
    assert m.mae == pytest.approx(0.5)
    assert m.rmse == pytest.approx(np.sqrt(1.5 / 4))
    # mean dft 2.5; SS_tot = 1 + 0.25 + 0.25 + 1 = 2.5; R^2 = 1 - 1.5 / 2.5
    assert m.r2 == pytest.approx(0.4)
    # ranks pred 1 2 4 3, dft 1 2 3 4: d^2 = 0+0+1+1 -> rho = 1 - 6*2 / (4*15) = 0.8
    assert m.spearman == pytest.approx(0.8)
    # true top-2 (lowest): rows 0, 1; predicted top-2: rows 0, 1
    assert (m.k, m.topk_in_pred_topk, m.topk_in_pred_top2k) == (2, 2, 2)


def test_top_k_counts_true_best_in_predicted_k_and_2k():
    dft = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    pred = np.array([0.35, 0.1, 0.6, 0.2, 0.3, 0.5])
    # true top-2 (low): rows 0, 1; predicted order: 1, 3, 4, 0, 5, 2
    assert top_k(pred, dft, 2, "low") == (2, 1, 2)
    # true top-2 (high): rows 5, 4; predicted high order: 2, 5, 0, 4, 3, 1
    assert top_k(pred, dft, 2, "high") == (2, 1, 2)
    # k larger than n is capped at n: everything is retained
    assert top_k(pred, dft, 10) == (6, 6, 6)


def test_top_k_rejects_k_below_one():
    with pytest.raises(ArscInputError, match=r"k = 0"):
        top_k(np.ones(3), np.ones(3), 0)


def test_metrics_of_constant_or_single_rows_give_none_not_nan():
    m = metrics(np.array([1.0, 2.0]), np.array([1.0, 1.0]), k=1)
    assert m.r2 is None and m.spearman is None
    one = metrics(np.array([1.0]), np.array([2.0]))
    assert one.r2 is None and one.spearman is None and one.mae == pytest.approx(1.0)


def tables():
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
            "reaction": ["ORR"] * 6,
            "dG": [0.0, 1.5, 0.5, 1.5, 1.0, 3.0],
        }
    )
    return pred, dft


def test_match_joins_on_site_and_intermediate_and_counts_unmatched():
    pred, dft = tables()
    m = match(pred, dft)
    assert m.keys == ["site", "intermediate"]
    assert m.value_dft == "dG"
    assert len(m.frame) == 5
    assert (m.n_pred_only, m.n_dft_only, m.n_missing_value) == (1, 1, 0)
    report = evaluate(m, k=1)
    assert report.n_matched == 5 and report.n_unmatched == 2
    assert set(report.groups) == {"intermediate=O", "intermediate=OH", "reaction=ORR"}
    oh = report.groups["intermediate=OH"]
    # OH rows: (0.1, 0.0), (0.4, 0.5), (0.9, 1.0): errors 0.1, -0.1, -0.1
    assert oh.n == 3 and oh.mae == pytest.approx(0.1)
    assert oh.rmse == pytest.approx(0.1)
    o = report.groups["intermediate=O"]
    # O rows: (1.0, 1.5), (2.0, 1.5): constant DFT -> no R^2
    assert o.mae == pytest.approx(0.5) and o.r2 is None
    # reaction=ORR covers all matched rows, like overall
    assert report.groups["reaction=ORR"] == report.overall
    assert report.overall.mae == pytest.approx((0.1 + 0.1 + 0.1 + 0.5 + 0.5) / 5)


def test_rows_with_empty_values_are_counted_not_used():
    pred, dft = tables()
    pred.loc[0, "prediction"] = np.nan
    report = evaluate(match(pred, dft))
    assert report.n_matched == 4 and report.n_missing_value == 1


def test_adsorbate_key_and_id_site_key_are_found():
    pred = pd.DataFrame({"id": ["a", "b"], "adsorbate": ["H", "H"], "prediction": [0.0, 1.0]})
    dft = pd.DataFrame({"id": ["a", "b"], "adsorbate": ["H", "H"], "dft": [0.5, 1.0]})
    m = match(pred, dft)
    assert m.keys == ["id", "adsorbate"] and m.value_dft == "dft"
    assert evaluate(m).groups["adsorbate=H"].mae == pytest.approx(0.25)


def test_explicit_on_and_value_columns():
    pred = pd.DataFrame({"pair": ["FeCo", "CoCo"], "phi": [1.0, 2.0]})
    dft = pd.DataFrame({"pair": ["CoCo", "FeCo"], "eta": [2.5, 1.0], "dG": [9.0, 9.0]})
    report = evaluate(match(pred, dft, on=["pair"], value_pred="phi", value_dft="eta"))
    assert report.overall.mae == pytest.approx(0.25)
    assert report.groups == {}


def test_numeric_keys_match_string_keys():
    pred = pd.DataFrame({"site": [1, 2], "prediction": [0.0, 1.0]})
    dft = pd.DataFrame({"site": ["1", "2"], "dft": [0.0, 1.0]})
    assert evaluate(match(pred, dft)).n_matched == 2


@pytest.mark.parametrize(
    ("change", "kwargs", "message"),
    [
        (lambda p, d: (p.drop(columns="site"), d), {}, r"neither has a column 'site' or 'id'"),
        (lambda p, d: (p, d), {"on": ["pair"]}, r"prediction table lacks key column 'pair'"),
        (lambda p, d: (p, d), {"value_pred": "phi"}, r"lacks value column 'phi'.*it has"),
        (lambda p, d: (p, d.drop(columns="dG")), {}, r"cannot tell the DFT value column"),
        (lambda p, d: (p, d), {"value_dft": "eta"}, r"DFT table lacks value column 'eta'"),
        (lambda p, d: (p.assign(site="zz" + p.site), d), {}, r"no row .* matches"),
        (lambda p, d: (p, pd.concat([d, d])), {}, r"DFT table has 12 rows sharing a key"),
        (
            lambda p, d: (p.assign(prediction="high"), d),
            {},
            r"holds 'high'; expected finite numbers",
        ),
    ],
)
def test_bad_tables_raise_one_line(change, kwargs, message):
    pred, dft = change(*tables())
    with pytest.raises(ArscInputError, match=message) as err:
        match(pred, dft, **kwargs)
    assert "\n" not in str(err.value)


def test_read_table_errors(tmp_path):
    with pytest.raises(ArscInputError, match=r"does not exist"):
        read_table(tmp_path / "none.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ArscInputError, match=r"not a readable CSV"):
        read_table(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("site,prediction\n")
    with pytest.raises(ArscInputError, match=r"has no rows"):
        read_table(tmp_path / "header.csv")


def test_parity_plot_writes_a_valid_png(tmp_path):
    pred, dft = tables()
    out = parity_plot(match(pred, dft), tmp_path / "plots" / "parity.png")
    data = out.read_bytes()
    assert out == tmp_path / "plots" / "parity.png"
    assert data.startswith(PNG_MAGIC) and len(data) > 1000
    from matplotlib.image import imread

    image = imread(out)
    assert image.shape[0] > 100 and image.shape[1] > 100


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_an_infinite_value_is_an_error_naming_table_row_and_column(bad):
    pred, dft = tables()
    pred = pred.astype({"prediction": float})
    pred.loc[2, "prediction"] = bad
    with pytest.raises(
        ArscInputError, match=r"^prediction table: row 3: column 'prediction' holds -?inf; "
    ) as err:
        match(pred, dft)
    assert "np." not in str(err.value)
    dft = dft.astype({"dG": float})
    dft.loc[0, "dG"] = bad
    with pytest.raises(ArscInputError, match=r"^DFT file 'd.csv': row 1: column 'dG' holds"):
        match(tables()[0], dft, sources=("P", "DFT file 'd.csv'"))


def test_an_empty_value_is_counted_as_missing_not_an_error():
    pred, dft = tables()
    pred = pred.astype({"prediction": float})
    pred.loc[0, "prediction"] = np.nan
    matched = match(pred, dft)
    assert matched.n_missing_value == 1 and np.isfinite(evaluate(matched).overall.mae)


def test_read_table_names_a_folder(tmp_path):
    with pytest.raises(ArscInputError, match=r"table '.*' is a folder; give a file"):
        read_table(tmp_path)


def test_parity_plot_writes_atomically(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    out = tmp_path / "parity.png"
    parity_plot(match(*tables()), out)
    before = out.read_bytes()

    def broken(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(ArscInputError, match=r"cannot write .*parity\.png"):
        parity_plot(match(*tables()), out)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["parity.png"]


def test_an_empty_dft_column_name_is_an_error_not_the_default():
    with pytest.raises(ArscInputError, match=r"DFT table lacks value column ''"):
        match(*tables(), value_dft="")
