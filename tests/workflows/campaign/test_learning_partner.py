"""The offset refit learns against what the campaign predicted (partner term in) and widens
its std where the held-out DFT errors exceed it.

The "DFT" rows here are made from the packaged prior's own prediction plus a
chosen shift and scatter (no DFT runs in a unit test; the refit only sees a
table of dG rows, exactly what the campaign gives it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arsc.model import load_model
from arsc.model.table import read_table
from arsc.space import enumerate_sites
from arsc.structures import space_table
from arsc.transfer import score_pairs
from tests.paths import ROOT
from workflows.campaign.definition import ModelSpec
from workflows.campaign.learning import PRIOR_ROWS, held_out_scale, offsets, refit, shifted

NAMES = ["OH", "O", "OOH"]


@pytest.fixture(scope="module")
def prior():
    return load_model(ROOT / "arsc" / "data" / "models" / "prior-sac-hoer.json")


@pytest.fixture(scope="module")
def sites():
    return space_table(enumerate_sites(["Fe", "Co", "Ni", "Cu"], ["qv-n6"], ["graphene"]))


def _rows(prior, sites, shift: float, scatter: np.ndarray) -> pd.DataFrame:
    """One row per site and intermediate: the campaign's prediction + shift + scatter, eV."""
    pred, _ = score_pairs(prior, read_table(sites), NAMES)
    frames = [
        sites.assign(intermediate=z, dG=pred.dg[:, j] + shift + scatter)
        for j, z in enumerate(NAMES)
    ]
    return pd.concat(frames, ignore_index=True)


def test_the_shift_is_measured_against_the_partner_mixed_prediction(prior, sites):
    table = _rows(prior, sites, 0.3, np.zeros(len(sites)))
    shift, noise = offsets(prior, table)
    assert shift == pytest.approx(dict.fromkeys(NAMES, 0.3))  # heteronuclear rows included
    for z in NAMES:
        s = prior.intermediates[z].noise_std
        assert noise[z] == pytest.approx(s * np.sqrt(PRIOR_ROWS / (PRIOR_ROWS + len(sites))))


def test_errors_within_the_std_leave_it_and_larger_ones_widen_it(prior, sites):
    rng = np.random.default_rng(0)
    small = _rows(prior, sites, 0.3, rng.normal(0, 0.01, len(sites)))
    off, noise = offsets(prior, small)
    assert held_out_scale(prior, shifted(prior, off, noise), small) == dict.fromkeys(NAMES, 1.0)
    # two sites 16 eV apart: the pooled noise (the prior's weighs as PRIOR_ROWS rows) does
    # not cover the held-out error of either, so the std widens
    two = sites.iloc[[1, 2]]
    wild = _rows(prior, two, 0.3, np.array([8.0, -8.0]))
    off, noise = offsets(prior, wild)
    plain = shifted(prior, off, noise)
    widen = held_out_scale(prior, plain, wild)
    assert all(widen[z] > 1.0 for z in NAMES)
    wide = shifted(prior, off, noise, widen)
    before, _ = score_pairs(plain, read_table(two), NAMES)
    after, _ = score_pairs(wide, read_table(two), NAMES)
    assert after.dg == pytest.approx(before.dg)  # the mean is the shifted prior's
    factor = np.array([widen[z] for z in NAMES])
    # the model's std is widened; the partner-weight part (arsc.transfer) is not the model's
    assert after.std == pytest.approx(before.std * factor, rel=1e-2)
    assert (after.std > before.std).all()


def test_one_site_cannot_calibrate_and_the_refit_message_says_the_factor(prior, sites):
    one = _rows(prior, sites.iloc[:1], 0.3, np.zeros(1))
    assert held_out_scale(prior, prior, one) == {}
    learned = refit(ModelSpec(refit="offset"), prior, prior, one, seed=0)
    assert learned.info.kind == "offset" and "std x1.00" in learned.info.message
