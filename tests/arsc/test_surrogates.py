"""Surrogates of the replay benchmark (arsc.surrogates): features, GP, forest, ARSC."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arsc.errors import ArscInputError
from arsc.surrogates import (
    ARSC_REFIT,
    ARSC_REOPTIMISE,
    CALIBRATION_FOLDS,
    CALIBRATION_GROWTH,
    CALIBRATION_MAX_ROWS,
    GP_REOPTIMISE,
    SURROGATES,
    GaussianProcess,
    calibrate,
    calibration_folds,
    calibration_rows,
    conformal_quantile,
    held_out,
    make_surrogate,
    site_features,
)

DATA = Path(__file__).parents[1] / "data"
SAC = DATA / "replay" / "sac_hoer_orr.csv"
SYNTHETIC = DATA / "replay" / "synthetic_orr.csv"


def split(n, n_train, seed=0):
    rng = np.random.default_rng(seed)
    train = rng.choice(n, n_train, replace=False)
    return train, np.setdiff1d(np.arange(n), train)


def test_site_features_are_standardised_and_drop_repeated_metal2_columns():
    sac = pd.read_csv(SAC)
    x = site_features(sac)
    # metal 1: ln phi_xx + n, S, d, IE, X, R; first shell: coord_N1, coord_C1 (metal 2 repeats)
    assert x.shape == (len(sac), 9)
    assert np.allclose(x.mean(axis=0), 0) and np.allclose(x.std(axis=0), 1)
    dac = site_features(pd.read_csv(SYNTHETIC))
    assert dac.shape[1] == 18  # both metals' 7 columns + N and C counts of both metals


def test_site_features_reject_a_metal_outside_the_element_table():
    table = pd.DataFrame({"metal1": ["Fe", "U"], "metal2": ["Fe", "U"], "coord_N1": [4, 4]})
    with pytest.raises(ArscInputError, match="unknown metal 'U' in the candidate table"):
        site_features(table)


def test_make_surrogate_rejects_unknown_names_listing_the_registry():
    with pytest.raises(ArscInputError, match="unknown surrogate 'nn'; allowed: gp, forest, arsc"):
        make_surrogate("nn", pd.read_csv(SAC))
    assert list(SURROGATES)[:3] == ["gp", "forest", "arsc"]


def test_gp_predicts_held_out_synthetic_overpotential_with_calibrated_std():
    table = pd.read_csv(SYNTHETIC)
    y = table["overpotential"].to_numpy()
    train, test = split(len(y), 150)
    mu, sd = make_surrogate("gp", table)(train, y[train], test, 0)
    err = np.abs(mu - y[test])
    assert np.median(err) < 0.1 < np.std(y)  # V; the target spreads over 0.7 V
    assert np.mean(err <= 2 * sd) > 0.85


def test_gp_reoptimises_hyperparameters_only_after_the_training_set_grew_enough():
    table = pd.read_csv(SYNTHETIC)
    y = table["overpotential"].to_numpy()
    order = np.random.default_rng(1).permutation(len(y))
    gp = GaussianProcess(table)
    gp(order[:40], y[order[:40]], order[40:], 0)
    theta = gp.theta.copy()
    gp(order[:45], y[order[:45]], order[45:], 0)  # 45 < 1.25 * 40: hyperparameters kept
    assert np.array_equal(gp.theta, theta) and gp.n_optimised == 40
    n = int(np.ceil(GP_REOPTIMISE * 40))
    gp(order[:n], y[order[:n]], order[n:], 0)
    assert gp.n_optimised == n and not np.array_equal(gp.theta, theta)


def test_forest_gives_a_spread_across_trees():
    table = pd.read_csv(SAC)
    y = table["overpotential"].to_numpy()
    train, test = split(len(y), 30)
    mu, sd = make_surrogate("forest", table)(train, y[train], test, 0)
    assert mu.shape == sd.shape == (len(test),) and np.all(sd > 0)


def test_arsc_surrogate_recovers_adsorption_energies_drawn_from_the_model():
    """On *OH energies drawn from ARSC itself (noise 0.02 eV) the ARSC surrogate is near exact."""
    data = pd.read_csv(DATA / "model" / "synthetic_orr.csv")
    table = data[data["intermediate"] == "OH"].drop(columns="intermediate").reset_index(drop=True)
    y = table["dG"].to_numpy()
    train, test = split(len(y), 80)
    mu, sd = make_surrogate("arsc", table)(train, y[train], test, 0)
    assert np.sqrt(np.mean((mu - y[test]) ** 2)) < 0.05  # eV
    assert np.all(sd > 0)


def test_hier_surrogate_refits_with_warm_starts_and_predicts_held_out_rows():
    """The hierarchical surrogate reuses its hyperparameters until the training set grows."""
    table = pd.read_csv(SAC)
    y = table["overpotential"].to_numpy()
    model = make_surrogate("hier", table)
    train, test = np.arange(0, 40), np.arange(40, len(y))
    mu, sd = model(train, y[train], test, 0)
    first = model.hyper
    assert mu.shape == sd.shape == (len(test),) and np.all(sd > 0)
    model(np.arange(0, 45), y[:45], np.arange(45, len(y)), 0)  # grew < 25 %: no re-optimisation
    assert model.hyper is first
    assert np.mean(np.abs(mu - y[test])) < np.std(y)  # better than predicting the mean spread


# --- calibration -----------------------------------------------------------------------------


def test_conformal_quantile_takes_the_finite_sample_rank():
    values = np.arange(1.0, 20.0)  # 19 values
    assert conformal_quantile(values, 0.5) == 10.0  # rank ceil(20 * 0.5) = 10
    assert conformal_quantile(values, 0.95) == 19.0  # rank ceil(20 * 0.95) = 19
    assert conformal_quantile(values[:10], 0.95) == 10.0  # rank 11 > 10: the largest
    assert np.isnan(conformal_quantile(np.array([]), 0.5))


def test_calibrate_widens_a_too_narrow_std_and_never_narrows():
    rng = np.random.default_rng(0)
    resid = rng.normal(0.0, 2.0, 400)
    too_narrow = calibrate(resid, np.ones(400))
    assert 1.8 < too_narrow.scale < 2.5
    honest = calibrate(resid, np.full(400, 2.0))
    assert 1.0 <= honest.scale < 1.15
    assert calibrate(resid, np.full(400, 10.0)).scale == 1.0  # a too wide std is kept
    # the floor: the 1-sd width of a constant std with the same coverage (here about 2)
    assert 1.6 < honest.floor < 2.4
    assert np.allclose(honest.apply(np.array([0.0, 100.0])), [honest.floor, 100.0 * honest.scale])


def test_calibration_uses_at_most_calibration_max_rows_of_a_large_training_set():
    assert calibration_rows(50, 0).tolist() == list(range(50))
    big = calibration_rows(1000, 3)
    assert len(big) == len(set(big.tolist())) == CALIBRATION_MAX_ROWS
    assert np.all(np.diff(big) > 0) and big.max() < 1000


def _coverage(name, table, y, n_train, splits):
    """Held-out fraction within 1.96 sd, and below the pruning bound mu - 1.645 sd."""
    inside, below = [], []
    for seed in range(splits):
        train, test = split(len(y), n_train, seed)
        mu, sd = make_surrogate(name, table)(train, y[train], test, seed)
        inside += (np.abs(y[test] - mu) <= 1.96 * sd).tolist()
        below += (y[test] < mu - 1.645 * sd).tolist()
    return np.mean(inside), np.mean(below)


@pytest.mark.parametrize("name", ["arsc", "hier"])
@pytest.mark.parametrize("n_train", [20, 40])
def test_calibrated_std_covers_at_least_90_percent_of_held_out_rows_in_its_95_interval(
    name, n_train
):
    """Small training sets: 95 % intervals cover 90-100 %, the pruning bound fails <= 10 %.

    Not an upper bound: the calibration is conservative by design (with 20
    rows its 95 % quantile is the largest held-out z, and hier's tail folds
    widen it for the extremes a prune decides about).
    """
    table = pd.read_csv(SYNTHETIC)
    y = table["overpotential"].to_numpy()
    inside, below = _coverage(name, table, y, n_train, splits=6)
    assert inside >= 0.90  # hier: 0.99-1.00 here
    assert below <= 0.05 + 0.05


def test_arsc_surrogate_refits_in_three_modes_and_recalibrates_as_the_set_grows():
    table = pd.read_csv(SYNTHETIC)
    y = table["overpotential"].to_numpy()
    order = np.random.default_rng(2).permutation(len(y))
    model = make_surrogate("arsc", table)

    def call(n):
        return model(order[:n], y[order[:n]], order[n:], 0)

    call(20)  # multi-start fit and calibration
    assert (model.n_optimised, model.n_refitted, model.calibration.n) == (20, 20, 20)
    assert model.calibration.scale >= 1.0
    first = model.calibration
    params = dict(model.params)
    call(24)  # < ARSC_REFIT * 20: only a, b refitted, the non-linear parameters held
    assert model.params["beta"] == params["beta"] and model.calibration is first
    call(int(np.ceil(ARSC_REFIT * 20)))  # warm joint fit
    assert model.n_refitted == 25 and model.n_optimised == 20
    call(int(CALIBRATION_GROWTH * 20))
    assert model.calibration.n == 40 and model.calibration is not first
    mu, sd = call(int(ARSC_REOPTIMISE * 20))
    assert model.n_optimised == 80 and np.all(sd > 0) and np.all(np.isfinite(mu))


def test_tail_folds_hold_out_each_outer_quartile_with_its_whole_groups():
    y = np.arange(12.0)
    labels = np.array([0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 8])  # row 3 shares row 2's pair
    folds = calibration_folds(y, labels)
    kfold, tails = [f for f in folds if not f.tail], [f for f in folds if f.tail]
    assert len(kfold) == CALIBRATION_FOLDS and len(tails) == 2
    assert sorted(np.concatenate([f.held for f in kfold]).tolist()) == list(range(12))
    low, high = tails
    assert low.held.tolist() == [0, 1, 2] and high.held.tolist() == [9, 10, 11]  # y quartiles
    for fold in folds:  # no group is ever on both sides
        assert not set(labels[fold.fit]) & set(labels[fold.held])
    assert 3 not in low.fit and len(low.fit) == 8  # row 3 neither held nor fitted
    assert len(high.fit) == 9
    assert [f.tail for f in calibration_folds(y, labels, tails=False)] == [False] * 5
    assert calibration_folds(y, np.zeros(12)) == []  # one group: nothing to hold out
    # a tail fold is skipped when fewer than TAIL_MIN_FIT rows would remain to fit on
    assert not any(f.tail for f in calibration_folds(y[:3], np.arange(3)))


def test_calibrate_widens_the_std_to_the_tail_folds_errors():
    rng = np.random.default_rng(1)
    resid = rng.normal(0.0, 1.0, 200)
    tail = np.zeros(200, bool)
    tail[:40] = True
    resid[:40] *= 3.0  # the extrapolated rows err three times as much
    y = rng.normal(0.0, 1.0, 200)
    without = calibrate(resid[40:], np.ones(160), y[40:])
    with_tails = calibrate(resid, np.ones(200), y, tail)
    assert without.scale < 1.3 and 2.5 < with_tails.scale < 4.0
    assert with_tails.floor > 2 * without.floor


def test_held_out_runs_every_fold_and_marks_the_tail_predictions():
    y = np.linspace(0.0, 1.0, 20)
    labels = np.arange(20)
    held = held_out(lambda fit, rows: (np.full(len(rows), 0.5), np.ones(len(rows))), y, labels)
    assert len(held.resid) == 20 + 5 + 5 and held.tail.sum() == 10
    assert np.allclose(held.resid, held.y - 0.5)
    assert np.allclose(np.sort(held.y[held.tail]), np.sort(np.r_[y[:5], y[-5:]]))
