"""PFESS: feature generation, cleaning, selection and fits on the authors' demo pairs."""

from itertools import combinations
from math import comb

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from arsc.elements import load_elements
from arsc.errors import ArscInputError
from arsc.features import evaluate
from arsc.pfess import (
    AuthorsSettings,
    FeatureGenerator,
    FeatureSpace,
    convert_workbook,
    generate_features,
    load_space,
    prepare,
    read_table,
    run_pfess,
    scan_features,
)
from arsc.pfess.authors import lasso_subsets, rf_screen, standardise
from arsc.pfess.data import split_sample
from arsc.pfess.fit import best_subsets, cv_rmse, ols
from arsc.pfess.scan import column_checks, column_keys, extend_sets
from tests.paths import DATA, SHARED

DEMO = DATA / "pfess-demo" / "pairs.csv"
WORKBOOK = SHARED / "data" / "pfess-demo" / "train-test.xlsx"


@pytest.fixture(scope="module")
def demo():
    return pd.read_csv(DEMO)


@pytest.fixture(scope="module")
def pairs(demo):
    return prepare(demo, "property", load_elements("authors").index)


@pytest.fixture(scope="module")
def authors_gen(pairs):
    table = load_elements("authors")
    return FeatureGenerator(table, pairs.metals_x, pairs.metals_y, load_space("authors"))


@pytest.fixture(scope="module")
def authors_scan(authors_gen, pairs):
    return scan_features(authors_gen, pairs.target)


@pytest.fixture(scope="module")
def full_1d(demo):
    return run_pfess(demo, "property", elements="authors", dim=1, top=3)


# --- input ------------------------------------------------------------------


def test_split_sample_reads_metal_x_then_metal_y():
    assert split_sample("WFe") == ("W", "Fe")
    assert split_sample("MoCo") == ("Mo", "Co")
    for bad in ("Wfe", "FeCoNi", "Fe", "fe-co"):
        with pytest.raises(ArscInputError, match="two element symbols"):
            split_sample(bad)


def test_prepare_accepts_sample_or_metal_columns_alike(demo):
    known = load_elements("authors").index
    by_metal = prepare(demo.drop(columns="sample"), "property", known)
    by_sample = prepare(demo[["sample", "property"]], "property", known)
    assert by_metal.metals_x == by_sample.metals_x and by_metal.metals_y == by_sample.metals_y
    assert by_sample.metals_x[0] == "W" and by_sample.metals_y[0] == "Fe"
    np.testing.assert_array_equal(by_metal.target, by_sample.target)


def test_pair_groups_are_unordered_and_metal1_groups_are_the_binding_metal(pairs):
    swapped = prepare(
        pd.DataFrame({"metal1": ["Co", "Fe", "Fe"], "metal2": ["Fe", "Co", "Ni"], "t": [1, 2, 3]}),
        "t",
        load_elements("authors").index,
    )
    assert list(swapped.groups("pair")) == ["Co-Fe", "Co-Fe", "Fe-Ni"]
    assert list(swapped.groups("metal1")) == ["Co", "Fe", "Fe"]
    assert len(set(pairs.groups("pair"))) == 56  # every demo pair is its own group
    assert len(set(pairs.groups("metal1"))) == 8


@pytest.mark.slow
@pytest.mark.skipif(not WORKBOOK.is_file(), reason="../shared/data/pfess-demo is absent")
def test_convert_workbook_reproduces_the_test_copy(tmp_path):
    out = convert_workbook(WORKBOOK, tmp_path / "pairs.csv")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "pairs.csv"), pd.read_csv(DEMO))
    assert list(out.columns) == ["metal1", "metal2", "sample", "property"]


def _bad(demo, **edit):
    data = demo.copy()
    for (row, col), value in edit.get("cells", {}).items():
        data[col] = data[col].astype(object)
        data.loc[row, col] = value
    return data


def test_bad_input_is_one_line_naming_the_value(demo):
    def fails(data, match, **kw):
        with pytest.raises(ArscInputError, match=match) as err:
            run_pfess(data, kw.pop("target", "property"), elements="authors", **kw)
        assert "\n" not in str(err.value)

    fails(demo, r"no target column 'dG'.*columns: metal1, metal2, sample, property", target="dG")
    unknown = _bad(demo, cells={(2, "metal2"): "Xx"})
    fails(unknown, r"row 3 of data: unknown metal 'Xx' \(metal2\); allowed: Ti, V")
    text = _bad(demo, cells={(4, "property"): "n/a"})
    fails(text, r"row 5 of data: target 'property' value 'n/a' is not a number")
    for dim in (0, 4):
        fails(demo, rf"dimension {dim} is outside 1..3", dim=dim)
    fails(demo, r"unknown PFESS mode 'slow'; allowed: fast, authors", mode="slow")
    fails(demo, r"unknown cross-validation grouping 'metal2'", groups="metal2")
    fails(demo, r"unknown PFESS feature space 'all'; allowed: full, authors", space="all")
    sample_only = demo[["sample", "property"]].copy()
    sample_only.loc[1, "sample"] = "WFE"
    fails(sample_only, r"row 2 of data: sample 'WFE' is not two element symbols")


# --- feature generation -----------------------------------------------------


def test_generated_formulas_reproduce_their_columns_exactly(pairs):
    table = load_elements("authors")
    rng = np.random.default_rng(7)
    for space in ("full", "authors"):
        gen = FeatureGenerator(table, pairs.metals_x, pairs.metals_y, load_space(space))
        picks = np.concatenate(
            [np.arange(40), rng.choice(gen.n_features, 300, replace=False)]
        )  # every unary feature and a random sample of the rest
        values = gen.values(picks)
        for col, formula in enumerate(gen.formulas(picks)):
            again = evaluate(formula, pairs.metals_x, pairs.metals_y, table)
            assert np.array_equal(again, values[:, col], equal_nan=True), formula


def test_blocks_stream_every_feature_once_in_index_order(pairs):
    table = load_elements("authors")
    gen = FeatureGenerator(
        table, pairs.metals_x, pairs.metals_y, load_space("authors"), block_size=7000
    )
    starts, total = [], 0
    for block in gen.blocks():
        starts.append(block.start)
        assert block.start == total and block.values.shape == (56, block.values.shape[1])
        assert block.values.shape[1] <= 7000
        total += block.values.shape[1]
    assert total == gen.n_features
    block = list(generate_features(table, pairs.metals_x, pairs.metals_y, "authors", 7000))[5]
    assert block.formulas == gen.formulas(block.indices)
    np.testing.assert_array_equal(block.values, gen.values(block.indices))


def test_full_space_count_follows_from_the_construction(pairs):
    gen = FeatureGenerator(
        load_elements("authors"), pairs.metals_x, pairs.metals_y, load_space("full")
    )
    units, per_unit = 6, 6  # n S d IE X R; p_x, p_y, sqrt and square of each
    unary = units * per_unit
    within = units * comb(per_unit, 2) * 5  # + |-| * / and the reverse /
    cross = (comb(unary, 2) - units * comb(per_unit, 2)) * 3  # * / and the reverse /
    w_per_unit = per_unit + comb(per_unit, 2) * 5
    c_without_u = (units - 1) * per_unit + (comb(30, 2) - 5 * comb(per_unit, 2)) * 3
    products = units * w_per_unit * c_without_u * 3  # W*C, W/C, C/W
    assert gen.n_features == unary + within + cross + products == 1_620_486


def test_authors_space_reproduces_the_authors_counts(authors_gen, authors_scan):
    # The authors' feature.py lists the 18 unary columns twice (in both second-level
    # sets); 166,797 columns, 163,659 after their any-zero drop, 156,788 unique.
    counts = authors_scan.counts
    assert counts["generated"] == authors_gen.n_features == 166_797 - 18
    assert counts["no_zero_entries"] == 163_659 - 18
    assert counts["unique"] == authors_scan.n_clean == 156_788


# --- cleaning ---------------------------------------------------------------


def test_cleaning_drops_inf_nan_all_zero_and_constant_columns():
    good = np.array([1.0, 2.0, 3.0])
    cols = np.column_stack(
        [good, [1.0, np.inf, 2.0], [np.nan, 1.0, 2.0], [0.0, 0.0, 0.0], [5.0, 5.0, 5.0], [0, 1, 2]]
    )
    steps = column_checks(cols, drop_zero_entries=True)
    assert list(steps) == ["finite", "nonzero", "nonconstant", "no_zero_entries"]
    assert steps["finite"].tolist() == [True, False, False, True, True, True]
    assert steps["nonzero"].tolist() == [True, False, False, False, True, True]
    assert steps["nonconstant"].tolist() == [True, False, False, False, False, True]
    assert steps["no_zero_entries"].tolist() == [True, False, False, False, False, False]


def test_duplicate_keys_merge_last_bit_differences_only_at_fewer_bits():
    rng = np.random.default_rng(3)
    a = rng.random((56, 1)) + 0.5
    nudged = a * (1 + 2**-50)
    other = a * (1 + 1e-6)
    cols = np.hstack([a, a.copy(), nudged, other])
    k40, k53 = column_keys(cols, 40), column_keys(cols, 53)
    assert k40[0] == k40[1] == k40[2] != k40[3]
    assert k53[0] == k53[1] and len({k53[0], k53[2], k53[3]}) == 3


def test_scan_scores_equal_least_squares_r2(authors_gen, authors_scan, pairs):
    kept = np.flatnonzero(authors_scan.keep)
    picks = np.random.default_rng(1).choice(kept, 100, replace=False)
    x = authors_gen.values(picks)
    for col, index in enumerate(picks):
        r2 = LinearRegression().fit(x[:, [col]], pairs.target).score(x[:, [col]], pairs.target)
        assert authors_scan.r2[index] == pytest.approx(r2, abs=1e-10)
    assert np.isnan(authors_scan.r2[~authors_scan.keep]).all()


# --- fits -------------------------------------------------------------------


def test_best_subsets_matches_brute_force_least_squares():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(30, 10)) * rng.uniform(0.01, 100, 10)
    y = x[:, 2] * 0.3 - x[:, 7] * 0.01 + rng.normal(scale=0.5, size=30)
    for k in (1, 2, 3):
        brute = sorted(
            (float(np.sum((y - y.mean()) ** 2) * (1 - ols(x[:, list(s)], y).r2)), s)
            for s in combinations(range(10), k)
        )
        ranked = best_subsets(x, y, k, 5)
        assert [s for s, _ in ranked] == [s for _, s in brute[:5]]
        assert [r for _, r in ranked] == pytest.approx([r for r, _ in brute[:5]], rel=1e-6)


def test_cv_rmse_leaves_out_whole_groups():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(24, 2))
    y = x @ [1.0, -2.0] + rng.normal(scale=0.3, size=24)
    groups = np.repeat(list("abcdef"), 4)
    errors = []
    for g in "abcdef":
        test = groups == g
        fit = ols(x[~test], y[~test])
        errors.append(y[test] - fit.intercept - x[test] @ fit.coefficients)
    manual = float(np.sqrt(np.mean(np.concatenate(errors) ** 2)))
    assert cv_rmse(x, y, groups) == pytest.approx(manual)
    assert cv_rmse(x, y, groups, folds=3) > 0
    assert np.isnan(cv_rmse(x, y, np.zeros(24)))


def test_fast_1d_finds_the_exhaustive_optimum_on_the_demo(full_1d, pairs):
    best = full_1d.results[0]
    assert full_1d.space == "full" and full_1d.mode == "fast" and best.dim == 1
    assert best.r2 >= 0.9239
    assert best.rmse == pytest.approx(0.0947, abs=5e-4)
    assert best.rmse < best.cv_rmse < 0.2
    assert best.groups == "pair" and best.model == "ols"
    values = evaluate(best.formulas[0], pairs.metals_x, pairs.metals_y, "authors")
    expected = evaluate("abs(Rx - Rx**2) * Sx / nx**2", pairs.metals_x, pairs.metals_y, "authors")
    np.testing.assert_allclose(values, expected, rtol=1e-12)
    np.testing.assert_allclose(
        best.intercept + best.coefficients[0] * values, pairs.target, atol=0.35
    )
    assert full_1d.n_features_generated == 1_620_486
    assert full_1d.n_features_clean == full_1d.cleaning["unique"]
    assert [d.r2 for d in full_1d.results] == sorted((d.r2 for d in full_1d.results), reverse=True)


def test_extend_sets_finds_the_best_partner_of_each_base(authors_gen, authors_scan, pairs):
    y = pairs.target
    base = int(np.nanargmax(authors_scan.r2))
    best = extend_sets(authors_gen, authors_scan.keep, y, [(base,)], 3)
    (subset, rss), *_ = best
    assert base in subset and len(subset) == 2
    fit = ols(authors_gen.values(list(subset)), y)
    assert rss == pytest.approx(np.sum((y - y.mean()) ** 2) * (1 - fit.r2), rel=1e-6)
    kept = np.flatnonzero(authors_scan.keep)
    for g in np.random.default_rng(4).choice(kept, 300, replace=False):
        if g != base:
            assert ols(authors_gen.values([base, int(g)]), y).r2 <= fit.r2 + 1e-9


def test_fast_2d_and_3d_fit_their_formulas_and_improve_on_1d(demo, pairs):
    result = run_pfess(
        demo, "property", elements="authors", space="authors", dim=3, top=2, groups="metal1"
    )
    assert [d.dim for d in result.results] == [1, 1, 2, 2, 3, 3]
    best = {d.dim: d for d in reversed(result.results)}
    assert best[1].r2 < best[2].r2 < best[3].r2
    assert best[2].r2 > 0.96 and best[3].r2 > 0.98
    for desc in result.results:
        x = np.column_stack(
            [evaluate(f, pairs.metals_x, pairs.metals_y, "authors") for f in desc.formulas]
        )
        pred = desc.intercept + x @ np.array(desc.coefficients)
        assert np.sqrt(np.mean((pairs.target - pred) ** 2)) == pytest.approx(desc.rmse)
        assert desc.groups == "metal1" and desc.cv_rmse > desc.rmse


# --- the authors' selection -------------------------------------------------


def test_rf_screen_and_lasso_subsets_rank_the_informative_feature_first():
    rng = np.random.default_rng(0)
    x = rng.uniform(1, 2, size=(56, 40))
    y = 3 * x[:, 11] + rng.normal(scale=0.05, size=56)
    settings = AuthorsSettings(n_estimators=20, stop=5)
    z = standardise(x)
    pool = rf_screen(z, y - y.mean(), settings)
    assert len(pool) == 8  # 40 -> keep 32 -> 16 -> 8, then 4 < stop
    assert pool[0] == 11
    alphas = np.logspace(0, -5, 5) * np.max(np.abs(z.T @ (y - y.mean()))) / 56
    search = lasso_subsets(x, y, pool, 1, 3, alphas, settings)
    assert search.subsets[0][0] == (11,) and not search.interrupted
    assert [r for _, r in search.subsets] == sorted(r for _, r in search.subsets)
    assert search.tried == len(pool)
    late = lasso_subsets(x, y, pool, 2, 3, alphas, settings, deadline=0.0)
    assert late.interrupted and late.subsets == [] and late.tried == 0


SMALL = FeatureSpace(
    name="n-R",
    description="n and R only (test)",
    properties=("n", "R"),
    rule="disjoint",
    drop_zero_entries=False,
    dedup_bits=40,
    source="test",
)


def test_authors_mode_runs_end_to_end_on_a_small_feature_space(demo):
    settings = AuthorsSettings(n_estimators=10, stop=60)
    result = run_pfess(
        demo, "property", elements="authors", space=SMALL, mode="authors", top=2, authors=settings
    )
    assert result.space == "n-R" and result.mode == "authors" and not result.interrupted
    assert result.n_features_clean < result.n_features_generated
    assert len(result.results) == 2
    first, second = result.results
    assert first.model == "lasso_cv" and first.rmse <= second.rmse
    assert first.r2 > 0.5 and first.cv_rmse > 0


def test_authors_mode_stops_at_the_time_limit(demo):
    settings = AuthorsSettings(n_estimators=5, stop=60, time_limit_s=0.0)
    result = run_pfess(demo, "property", space=SMALL, mode="authors", authors=settings)
    assert result.interrupted and result.results == []


@pytest.mark.slow
def test_authors_mode_on_the_authors_space_keeps_a_good_descriptor(demo):
    settings = AuthorsSettings(n_estimators=5, n_jobs=2, time_limit_s=120)
    result = run_pfess(
        demo,
        "property",
        elements="authors",
        space="authors",
        mode="authors",
        top=1,
        authors=settings,
    )
    assert result.n_features_clean == 156_788
    assert result.results and result.results[0].r2 > 0.85


def test_cv_folds_and_authors_settings_are_checked_before_any_work(demo, tmp_path):
    def fails(match, **kw):
        with pytest.raises(ArscInputError, match=match) as err:
            run_pfess(demo, "property", elements="authors", **kw)
        assert "\n" not in str(err.value) and "np." not in str(err.value)

    fails(r"cv_folds 1 must be at least 2", cv_folds=1)
    for bad in (-1.0, float("nan"), float("inf")):
        fails(
            r"time limit .* s must be a number of seconds >= 0",
            authors=AuthorsSettings(time_limit_s=bad),
        )
    fails(r"n_estimators 0 must be at least 1", authors=AuthorsSettings(n_estimators=0))
    with pytest.raises(ArscInputError, match=r"data file '.*' is a folder; give a file"):
        read_table(tmp_path)


def test_a_nan_target_is_shown_as_nan(demo):
    data = demo.copy()
    data.loc[3, "property"] = np.nan
    with pytest.raises(ArscInputError, match=r"row 4 of data: target 'property' value nan "):
        run_pfess(data, "property", elements="authors")
