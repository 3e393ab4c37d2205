"""Surrogates of the replay benchmark (arsc.surrogates): features, GP, forest, ARSC."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arsc.errors import ArscInputError
from arsc.surrogates import (
    GP_REOPTIMISE,
    SURROGATES,
    GaussianProcess,
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
    table = pd.DataFrame({"metal1": ["Fe", "La"], "metal2": ["Fe", "La"], "coord_N1": [4, 4]})
    with pytest.raises(ArscInputError, match="unknown metal 'La' in the candidate table"):
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
