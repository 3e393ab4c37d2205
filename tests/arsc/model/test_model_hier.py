"""The hierarchical ARSC variant: stable R term, learned per-metal and motif terms, calibration."""

import numpy as np
import pandas as pd
import pytest

from arsc.elements import AUTHORS_METALS
from arsc.errors import ArscInputError
from arsc.model import fit_model, predict, score
from arsc.model.hierfit import contributions
from arsc.model.predict import score_lowest
from arsc.model.terms import DEFAULT_FORMULA, Descriptor

MOTIF_EFFECT = {"m0": 0.0, "m1": 0.3, "m2": -0.4}
FE_DEVIATION = 0.8


def _log_phi() -> dict[str, float]:
    d = Descriptor.from_formula(DEFAULT_FORMULA, "default")
    return dict(zip(d.symbols, d.log_phi_xx(np.array([0.0]))[:, 0], strict=True))


def _table(seed: int, noise: float, n: int = 240, deviation: float = FE_DEVIATION) -> pd.DataFrame:
    """dG = 0.5 + 0.7 ln phi_xx(x) + 0.2 ln phi_xx(y) + motif effect (+ deviation on Fe)."""
    rng = np.random.default_rng(seed)
    lphi = _log_phi()
    m1 = rng.choice(AUTHORS_METALS, n)
    m2 = rng.choice(AUTHORS_METALS, n)
    motif = rng.choice(list(MOTIF_EFFECT), n)
    dg = np.array(
        [
            0.5 + 0.7 * lphi[a] + 0.2 * lphi[b] + MOTIF_EFFECT[m] + deviation * (a == "Fe")
            for a, b, m in zip(m1, m2, motif, strict=True)
        ]
    )
    return pd.DataFrame(
        {"metal1": m1, "metal2": m2, "motif": motif, "dG": dg + rng.normal(0, noise, n)}
    )


def test_power_law_driven_to_beta_zero_fits_with_bounded_coefficients_and_reports_the_bound():
    """A target exactly linear in ln phi drives beta to 0: a and b stay finite (Box-Cox form)."""
    lphi = _log_phi()
    metals = list(AUTHORS_METALS)
    table = pd.DataFrame(
        {"metal1": metals, "metal2": metals, "dG": [1.0 + 0.5 * lphi[m] for m in metals]}
    )
    fit = fit_model(table, "dG", variant="base", ensemble=0, cv_folds=0).intermediates["dG"]
    assert fit.params["beta"] == pytest.approx(0.0, abs=1e-3)
    assert fit.params["a"] == pytest.approx(1.0, abs=1e-3)
    assert fit.params["b"] == pytest.approx(0.5, abs=1e-3)
    assert "beta" in fit.at_bounds


def test_hier_recovers_a_known_per_metal_deviation_and_motif_effects():
    model = fit_model(_table(0, 0.02), "dG", ensemble=0, cv_folds=0)
    assert model.variant == "hier"
    params = model.intermediates["dG"].params
    # motif offsets are random effects: their differences are what the data determine
    assert params["m_m1"] - params["m_m0"] == pytest.approx(0.3, abs=0.05)
    assert params["m_m2"] - params["m_m0"] == pytest.approx(-0.4, abs=0.05)
    # the A term of Fe sits FE_DEVIATION above what the intrinsic prior alone gives
    pair = pd.DataFrame({"metal1": ["Fe", "Co"], "metal2": ["Ni", "Ni"], "motif": ["m0", "m0"]})
    a_term = contributions(model, pair, "dG")["A"]
    no_dev = fit_model(_table(0, 0.02, deviation=0.0), "dG", ensemble=0, cv_folds=0)
    a_plain = contributions(no_dev, pair, "dG")["A"]
    assert a_term[0] - a_plain[0] == pytest.approx(FE_DEVIATION, abs=0.1)
    assert a_term[1] - a_plain[1] == pytest.approx(0.0, abs=0.1)
    # contributions add up to the prediction
    parts = contributions(model, pair, "dG")
    total = sum(parts.values())
    assert np.allclose(total, score(model, pair).dg[:, 0])


#: First-shell N count of each motif of the leave-one-motif-out table (the rest is C).
MOTIF_N = {"n4": 4, "n3c1": 3, "n2c2": 2, "n1c3": 1, "n0c4": 0}


def _motif_table(seed: int) -> pd.DataFrame:
    """dG = 0.5 + 0.7 ln phi_xx(x) - 0.25 N + a small motif offset (0.05 eV), noise 0.03 eV."""
    rng = np.random.default_rng(seed)
    lphi = _log_phi()
    offset = dict(zip(MOTIF_N, rng.normal(0, 0.05, len(MOTIF_N)), strict=True))
    rows = [
        {"metal1": x, "metal2": x, "motif": m, "coord_N1": n, "coord_C1": 4 - n,
         "dG": 0.5 + 0.7 * lphi[x] - 0.25 * n + offset[m] + rng.normal(0, 0.03)}
        for x in AUTHORS_METALS for m, n in MOTIF_N.items()
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_a_motif_absent_from_training_is_predicted_from_its_first_shell_counts():
    """Motif offsets are shrunk random effects: an unseen motif is not an unknown coefficient.

    With free fixed offsets per motif the counts are confounded with them and a
    held-out motif fell back to the reference motif's level with a 100 eV std.
    """
    table = _motif_table(15)
    held = table[table.motif == "n2c2"]
    model = fit_model(table[table.motif != "n2c2"], "dG", ensemble=0, cv_folds=0)
    s = score(model, held.drop(columns="dG"))
    err = np.abs(s.dg[:, 0] - held["dG"].to_numpy())
    assert np.mean(err) < 0.1  # the N-count step is 0.25 eV; two steps off would be 0.5
    assert np.all(s.std[:, 0] < 0.5)


#: (own N count, shared N count) of each motif of the shared-position table.
SHARED_MOTIFS = {"a": (4, 2), "b": (4, 0), "c": (3, 1), "d": (2, 2), "e": (2, 0), "f": (3, 2)}


def _shared_table(seed: int) -> pd.DataFrame:
    """dG = 0.5 + 0.7 ln phi_xx(x) - 0.2 N(own) + 0.3 N(shared) + noise 0.03 eV."""
    rng = np.random.default_rng(seed)
    lphi = _log_phi()
    rows = [
        {"metal1": x, "metal2": x, "motif": m, "coord_N1": n, "coord_C1": 4 - n,
         "coord_N_shared": sh,
         "dG": 0.5 + 0.7 * lphi[x] - 0.2 * n + 0.3 * sh + rng.normal(0, 0.03)}
        for x in AUTHORS_METALS for m, (n, sh) in SHARED_MOTIFS.items()
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_a_position_dependent_shell_effect_is_recovered_from_shared_counts():
    """Same own N count, different shared N count: only coord_N_shared tells them apart."""
    table = _shared_table(18)
    held = table[table.motif == "f"]  # 3 own N, 2 of them shared: a combination not trained
    train = table[table.motif != "f"]
    with_shared = fit_model(train, "dG", ensemble=0, cv_folds=0)
    assert "N_shared" in with_shared.coord_elements
    err = np.abs(score(with_shared, held.drop(columns="dG")).dg[:, 0] - held["dG"])
    counts_only = fit_model(train.drop(columns="coord_N_shared"), "dG", ensemble=0, cv_folds=0)
    err_counts = np.abs(score(counts_only, held.drop(columns="dG")).dg[:, 0] - held["dG"])
    assert np.mean(err) < 0.1
    assert np.mean(err_counts) > 2 * np.mean(err)
    # the two shells differ by 0.6 eV at equal own counts, and the model sees it
    b = held.assign(motif="b", coord_N1=4, coord_C1=0, coord_N_shared=0).drop(columns="dG")
    a = b.assign(motif="a", coord_N_shared=2)
    diff = score(with_shared, a).dg[:, 0] - score(with_shared, b).dg[:, 0]
    assert np.mean(diff) == pytest.approx(0.6, abs=0.1)


def test_a_shared_count_above_a_metals_own_count_is_a_one_line_error():
    table = _shared_table(19)
    table.loc[4, "coord_N_shared"] = 5
    with pytest.raises(ArscInputError, match=r"row 5: coord_N_shared = 5 exceeds coord_N1"):
        fit_model(table, "dG", ensemble=0, cv_folds=0)


def test_a_model_file_of_the_fixed_motif_version_is_refused_with_a_one_line_error():
    model = fit_model(_table(16, 0.05), "dG", ensemble=0, cv_folds=0)
    del model.intermediates["dG"].hier.hyper["sd_motif"]
    with pytest.raises(ArscInputError, match=r"lacks hyperparameter 'sd_motif'.*refit"):
        score(model, _table(17, 0.05, n=3))


def test_a_model_file_of_the_squared_exponential_shell_kernel_is_refused_with_a_one_line_error():
    """Files written before 2026-12-03 have no layout.shell_length; with C terms: refit."""
    table = _shared_table(19)
    model = fit_model(table, "dG", ensemble=0, cv_folds=0)
    assert model.coord_elements and model.layout.shell_length == pytest.approx(4 * np.sqrt(2))
    layout = model.layout.model_copy(update={"shell_length": None})
    old = model.model_copy(update={"layout": layout})
    with pytest.raises(ArscInputError, match=r"squared-exponential first-shell kernel.*refit"):
        score(old, table.head(3))


def test_calibrated_interval_covers_held_out_synthetic_data_at_its_nominal_rate():
    noise = 0.1
    # 600 calibration rows: the 90 % quantile of 300 scatters by about 3 points of coverage
    model = fit_model(_table(1, noise, n=600), "dG", ensemble=0, cv_folds=5)
    interval = model.intermediates["dG"].interval
    assert interval is not None and interval.n == 600
    held = _table(2, noise, n=2000)
    s = score(model, held)
    err = np.abs(s.dg[:, 0] - held["dG"].to_numpy())
    assert np.mean(err <= s.std[:, 0]) == pytest.approx(0.68, abs=0.05)
    ratio90 = interval.scale["0.90"] / interval.scale["0.68"]
    assert np.mean(err <= ratio90 * s.std[:, 0]) == pytest.approx(0.90, abs=0.05)


def test_a_metal_without_data_falls_back_to_the_prior_with_a_larger_uncertainty():
    table = _table(3, 0.05)
    train = table[(table.metal1 != "Pt") & (table.metal2 != "Pt")]
    model = fit_model(train, "dG", ensemble=0, cv_folds=0)
    rows = pd.DataFrame({"metal1": ["Pt", "Fe"], "metal2": ["Ni", "Ni"], "motif": ["m0", "m0"]})
    s = score(model, rows)
    assert np.all(np.isfinite(s.dg))
    assert s.std_ensemble[0, 0] > 2 * s.std_ensemble[1, 0]


def test_fit_reports_reference_models_on_the_same_folds():
    model = fit_model(_table(4, 0.05), "dG", ensemble=0, cv_folds=4)
    names = [r.model for r in model.references]
    assert names == ["mean", "ridge", "gbm"]
    mean = next(r for r in model.references if r.model == "mean")
    assert model.intermediates["dG"].cv.mae < mean.cv_mae


def test_single_target_prediction_has_prediction_and_uncertainty_columns():
    model = fit_model(_table(5, 0.05), "dG", ensemble=0, cv_folds=0)
    out = predict(model, _table(6, 0.05, n=10).drop(columns="dG")).table
    assert {"prediction", "uncertainty", "dG_dG", "dG_dG_std"} <= set(out.columns)
    assert np.allclose(out["prediction"], out["dG_dG"])


def test_predicting_a_metal_without_a_prior_value_is_a_one_line_error():
    model = fit_model(_table(7, 0.05), "dG", ensemble=0, cv_folds=0)
    with pytest.raises(ArscInputError, match=r"unknown metal 'Xx'|no intrinsic prior"):
        predict(model, pd.DataFrame({"metal1": ["Xx"], "metal2": ["Fe"], "motif": ["m0"]}))


def test_hier_deduplicated_scoring_equals_dense_scoring():
    model = fit_model(_table(8, 0.05), "dG", ensemble=0, cv_folds=0)
    rows = pd.concat([_table(9, 0.05, n=20)] * 3, ignore_index=True)
    fast, dense = score(model, rows), score(model, rows, dedup=False)
    assert np.allclose(fast.dg, dense.dg) and np.allclose(fast.std, dense.std)


def test_explain_columns_add_up_to_every_prediction():
    model = fit_model(_table(10, 0.05), "dG", ensemble=0, cv_folds=0)
    rows = _table(11, 0.05, n=12).drop(columns="dG")
    out = predict(model, rows, explain=True).table
    total = out[["R_dG", "A_dG", "S_dG", "C_dG"]].sum(axis=1)
    assert np.allclose(total, out["prediction"])
    per_row = rows.assign(intermediate="dG")
    out = predict(model, per_row, explain=True).table
    assert np.allclose(out[["R", "A", "S", "C"]].sum(axis=1), out["prediction"])


def test_explain_refuses_a_model_whose_terms_are_not_additive():
    base = fit_model(_table(12, 0.05), "dG", variant="base", ensemble=0, cv_folds=0)
    with pytest.raises(ArscInputError, match="explain needs a hierarchical model"):
        predict(base, _table(13, 0.05, n=3), explain=True)


def test_lowest_binding_mode_lets_either_metal_bind():
    """A site scores as its more strongly binding metal, whichever order it is written in."""
    model = fit_model(_table(14, 0.02), "dG", ensemble=0, cv_folds=0)
    site = pd.DataFrame({"metal1": ["Fe"], "metal2": ["Ni"], "motif": ["m0"]})
    flip = pd.DataFrame({"metal1": ["Ni"], "metal2": ["Fe"], "motif": ["m0"]})
    a, which_a = score_lowest(model, site)
    b, which_b = score_lowest(model, flip)
    assert a.dg[0, 0] == pytest.approx(b.dg[0, 0])
    assert a.dg[0, 0] == pytest.approx(
        min(score(model, site).dg[0, 0], score(model, flip).dg[0, 0])
    )
    assert {int(which_a[0, 0]), int(which_b[0, 0])} == {1, 2}


def test_coordination_columns_inconsistent_with_a_registry_motif_are_a_one_line_error():
    from arsc.space import Site
    from arsc.structures import space_table

    sites = [Site.from_id(f"{m}-Co_qv-n6_graphene") for m in ("Fe", "Ni", "Cu", "Mn")]
    table = space_table(sites).assign(dG=[0.1, 0.2, 0.3, 0.4])
    fit_model(table, "dG", ensemble=0, cv_folds=0)  # consistent: fits
    table.loc[2, "coord_N1"] = 3
    with pytest.raises(ArscInputError, match="row 3: coord_N1 = '3' is inconsistent with motif"):
        fit_model(table, "dG", ensemble=0, cv_folds=0)


def test_predicting_a_filtered_dataframe_keeps_row_order_whatever_its_index():
    """A DataFrame subset (index not 0..n-1) with an intermediate column predicts row by row."""
    table = _table(5, 0.05).assign(intermediate="OH")
    model = fit_model(table, "dG", ensemble=0, cv_folds=0)
    rows = table.drop(columns="dG")
    subset = rows.iloc[17:40]
    got = predict(model, subset).table["prediction"].to_numpy()
    want = predict(model, subset.reset_index(drop=True)).table["prediction"].to_numpy()
    assert np.isfinite(got).all()
    assert np.allclose(got, want)


def test_fit_and_cv_folds_in_two_processes_equal_the_serial_fit():
    """workers=2 runs the fit and its folds in spawned processes: the same model to the bit."""
    table = _table(3, 0.05, n=120)
    serial = fit_model(table, "dG", ensemble=0, cv_folds=3, references=False, workers=1)
    parallel = fit_model(table, "dG", ensemble=0, cv_folds=3, references=False, workers=2)
    one, two = serial.intermediates["dG"], parallel.intermediates["dG"]
    assert one.params == two.params
    assert one.cv == two.cv and one.interval == two.interval
    assert one.cv is not None and one.cv.n == 120


def test_fit_refuses_zero_workers():
    with pytest.raises(ArscInputError, match="--workers 0 must be >= 1"):
        fit_model(_table(0, 0.05, n=30), "dG", ensemble=0, cv_folds=0, workers=0)


def _objective_inputs(table: pd.DataFrame):
    from arsc.model import hier, hierfit
    from arsc.model.fit import prepare

    prep = prepare(table, "dG")
    layout = prep.layout()
    rows = hierfit.rows_of(layout, prep.table)
    return hier, layout, rows, prep.y


def test_the_hyperparameter_objective_gradient_matches_finite_differences():
    """The analytic gradient (every block, length scale, noise and its hyperprior) is exact.

    A heteronuclear table with first shells and motifs turns every block on.
    """
    from scipy.optimize import check_grad

    table = _table(4, 0.05, n=60).assign(
        coord_N1=lambda t: np.arange(len(t)) % 5, coord_C1=lambda t: 4 - t.coord_N1
    )
    hier, layout, rows, y = _objective_inputs(table)
    assert {"sd_pair", "sd_coord", "sd_metal_M"} <= set(layout.scales)
    static = hier.static_parts(layout, rows, rows, 0.5)
    x0 = np.random.default_rng(0).normal(-1.0, 0.5, len(layout.hyper_names))
    value = lambda x: hier._neg_log_evidence(x, layout, rows, y, 0.5, static)[0]  # noqa: E731
    grad = lambda x: hier._neg_log_evidence(x, layout, rows, y, 0.5, static)[1]  # noqa: E731
    scale = float(np.linalg.norm(grad(x0)))
    assert check_grad(value, grad, x0, epsilon=1e-6) < 1e-4 * max(scale, 1.0)


def test_the_noise_hyperprior_decides_where_the_likelihood_is_flat(monkeypatch):
    """*OOH of sac-hoer: maximum likelihood alone interpolates (noise at its 0.01 eV floor).

    Its likelihood is almost flat along the noise there: the MAP-II fit keeps
    the noise near the prior's 0.1 eV at a log marginal likelihood within one
    unit of the interpolating one.
    """
    from tests.paths import ROOT

    table = pd.read_csv(ROOT / "arsc/data/models/prior-sac-hoer.csv")
    hier, layout, rows, y = _objective_inputs(table[table.intermediate == "OOH"])
    with_prior = hier.fit(layout, rows, y)
    monkeypatch.setattr(hier, "NOISE_PRIOR_SD", 1e6)  # a flat prior: type-II maximum likelihood
    likelihood_only = hier.fit(layout, rows, y)
    assert likelihood_only.hyper.values["noise"] < 0.011
    assert 0.05 < with_prior.hyper.values["noise"] < 0.15
    assert with_prior.log_evidence > likelihood_only.log_evidence - 1.0


def test_a_single_atom_table_may_name_one_metal():
    """``metal`` (or ``metal1`` alone) reads as a homonuclear row: the same fit and predictions."""
    table = _motif_table(21).drop(columns="motif")
    full = fit_model(table, "dG", ensemble=0, cv_folds=3, references=False)
    one = table.drop(columns="metal2").rename(columns={"metal1": "metal"})
    single = fit_model(one, "dG", ensemble=0, cv_folds=3, references=False)
    assert single.intermediates["dG"].params == full.intermediates["dG"].params
    got = predict(single, one.drop(columns="dG")).table
    want = predict(full, table.drop(columns="dG")).table
    assert np.allclose(got["prediction"], want["prediction"])
    assert (got["metal2"] == got["metal1"]).all()
