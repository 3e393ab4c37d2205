"""The single-atom prior on dual-atom pairs: the partner term of arsc.transfer.

Uses the packaged prior (arsc/data/models/prior-sac-hoer.json, fitted on
single-atom VASP data) on the real qv-n6 candidate table of five 3d metals,
the space of ``arsc screen``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arsc.errors import ArscInputError
from arsc.model import load_model
from arsc.model.predict import score_lowest
from arsc.space import enumerate_sites
from arsc.structures import space_table
from arsc.transfer import PARTNER_WEIGHT_RANGE, partner_mixed, score_pairs, single_atom_only
from tests.paths import ROOT

PRIOR = ROOT / "arsc" / "data" / "models" / "prior-sac-hoer.json"
METALS = ["Mn", "Fe", "Co", "Ni", "Cu"]
NAMES = ["OH", "O", "OOH"]


@pytest.fixture(scope="module")
def prior():
    return load_model(PRIOR)


@pytest.fixture(scope="module")
def table():
    return space_table(enumerate_sites(METALS, ["qv-n6"], ["graphene"]))


def test_mixing_is_linear_in_the_single_atom_values_with_the_midpoint_weight():
    mean, std = partner_mixed(0.0, 0.3, 1.0, 0.5)
    lo, hi = PARTNER_WEIGHT_RANGE
    w0 = 0.5 * (lo + hi)
    assert mean == pytest.approx(w0)  # (1 - w0) * 0 + w0 * 1
    spread = (hi - lo) / np.sqrt(12.0)  # std of a uniform weight, times |1 - 0|
    assert std == pytest.approx(np.hypot((1 - w0) * 0.3 + w0 * 0.5, spread))


def test_a_homonuclear_pair_keeps_its_single_atom_value_and_std():
    mean, std = partner_mixed([0.4, -1.2], [0.2, 0.7], [0.4, -1.2], [0.2, 0.7])
    assert mean.tolist() == pytest.approx([0.4, -1.2]) and std.tolist() == pytest.approx([0.2, 0.7])


def test_the_std_never_claims_more_than_the_single_atom_values_know():
    rng = np.random.default_rng(0)
    x, y = rng.normal(0, 1, 50), rng.normal(0, 1, 50)
    sx, sy = rng.uniform(0.1, 1, 50), rng.uniform(0.1, 1, 50)
    _, std = partner_mixed(x, sx, y, sy)
    assert (std >= np.minimum(sx, sy) - 1e-12).all()  # errors taken correlated: no averaging out
    _, fixed = partner_mixed(x, sx, y, sy, weight=(0.25, 0.25))  # a known weight adds nothing
    assert (std >= fixed).all() and (std > fixed)[x != y].all()


@pytest.mark.parametrize("weight", [(-0.1, 0.5), (0.6, 0.4), (0.0, 1.5)])
def test_a_bad_weight_range_is_a_one_line_error(weight):
    with pytest.raises(ArscInputError, match="partner weight range") as err:
        partner_mixed(0.0, 0.1, 1.0, 0.1, weight=weight)
    assert "\n" not in str(err.value)


def test_the_packaged_prior_is_recognised_as_single_atom_only(prior, table):
    assert single_atom_only(prior)
    hetero = table["metal1"] != table["metal2"]
    plain, _ = score_lowest(prior, table, NAMES)  # what the campaign scored before
    fe = (table["metal1"] == "Fe") & hetero
    assert np.ptp(plain.dg[fe.to_numpy()], axis=0).max() < 1e-9  # Fe-X all alike: no partner


def test_fe_x_pairs_are_no_longer_predicted_alike(prior, table):
    scores, binds = score_pairs(prior, table, NAMES)
    frame = pd.DataFrame(scores.dg, columns=NAMES).assign(site=table["id"])
    fe = frame[table["metal1"].eq("Fe") & table["metal2"].ne("Fe")]
    assert len(fe) == 3 and len(fe.round(6).drop_duplicates(subset=NAMES)) == 3  # Co, Ni, Cu
    # Fe binds *OH more strongly than its weaker-binding partners Co, Ni, Cu: Fe-X sits
    # between Fe-Fe and X-X, nearer Fe-Fe (partner weight below 1/2)
    same = table[table["metal1"] == table["metal2"]]
    single, _ = score_lowest(prior, same, NAMES)
    homo = dict(zip(same["metal1"], single.dg[:, 0], strict=True))
    for _, row in fe.iterrows():
        partner = row["site"].split("_")[0].split("-")[1]
        assert homo["Fe"] < row["OH"] < 0.5 * (homo["Fe"] + homo[partner])
    assert set(np.unique(binds)) <= {1, 2}


def test_homonuclear_sites_score_as_before(prior, table):
    homo = (table["metal1"] == table["metal2"]).to_numpy()
    mixed, _ = score_pairs(prior, table, NAMES)
    plain, _ = score_lowest(prior, table, NAMES)
    assert mixed.dg[homo] == pytest.approx(plain.dg[homo])
    assert mixed.std[homo] == pytest.approx(plain.std[homo])


def test_a_model_with_a_dual_atom_training_row_is_scored_as_it_is(prior, table):
    fit = prior.intermediates["OH"]
    i2 = list(fit.hier.i2)
    i2[0] = (i2[0] + 1) % max(i2)  # one heteronuclear training row
    hetero = prior.model_copy(
        update={
            "intermediates": {
                **prior.intermediates,
                "OH": fit.model_copy(update={"hier": fit.hier.model_copy(update={"i2": i2})}),
            }
        }
    )
    assert not single_atom_only(hetero)
    mixed, _ = score_pairs(hetero, table, ["OH"])
    plain, _ = score_lowest(hetero, table, ["OH"])
    assert mixed.dg == pytest.approx(plain.dg) and mixed.std == pytest.approx(plain.std)
