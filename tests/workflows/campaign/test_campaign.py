"""Campaign definition, state, objective quantities and the loop (replay backend)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from arsc.errors import ArscInputError
from arsc.thermo import load_network
from arsc.thermo.activity import evaluate_site
from arsc.thermo.che import SiteFreeEnergies
from arsc.thermo.quantities import evaluate_quantity, quantity_intermediates
from tests.workflows.campaign_helpers import ranking, write_campaign
from workflows.campaign.definition import (
    CampaignDefinition,
    ObjectiveSpec,
    packaged_campaigns,
    read_definition,
    with_overrides,
)
from workflows.campaign.loop import resume_campaign, run_campaign, start_campaign
from workflows.campaign.state import STEPS, CampaignState, load_state, save_state

# ---- definition ---------------------------------------------------------------------


def test_every_packaged_campaign_reads_and_names_known_intermediates():
    names = packaged_campaigns()
    assert {"default", "orr-oer-bifunctional", "co2rr-co", "nrr-over-her"} <= set(names)
    for path in names.values():
        definition = read_definition(path)
        assert quantity_intermediates(definition.objective)


def test_every_definition_field_has_a_description():
    def walk(model):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name}"
            ann = field.annotation
            if isinstance(ann, type) and hasattr(ann, "model_fields"):
                walk(ann)

    walk(CampaignDefinition)


def test_unknown_key_is_one_line_naming_file_and_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: x\nbudget: {dft_calculation: 3}\n")
    with pytest.raises(ArscInputError) as err:
        read_definition(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg and "budget.dft_calculation" in msg


def test_malformed_yaml_and_bad_values_are_one_line_errors(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: x\nspace: [unclosed\n")
    with pytest.raises(ArscInputError, match=r"c\.yaml' line \d"):
        read_definition(path)
    path.write_text("name: x\nobjective: {quantity: speed}\n")
    with pytest.raises(ArscInputError, match=r"objective\.quantity: unknown objective quantity"):
        read_definition(path)
    path.write_text("name: x\ndft: {executor: replay}\n")
    with pytest.raises(ArscInputError, match=r"executor replay needs dft\.replay\.table"):
        read_definition(path)
    with pytest.raises(ArscInputError, match="does not exist"):
        read_definition(tmp_path / "nope.yaml")


def test_overrides_are_validated_again():
    base = CampaignDefinition(name="x")
    assert with_overrides(base, budget__dft_calculations=5).budget.dft_calculations == 5
    assert with_overrides(base, unset=("dft__preset",)).dft.preset is None
    with pytest.raises(ArscInputError, match=r"budget\.dft_calculations"):
        with_overrides(base, budget__dft_calculations=0)


# ---- objective quantities -----------------------------------------------------------

RNG = np.random.default_rng(0)
DG = {
    "OH": RNG.normal(0.8, 0.5, 12),
    "O": RNG.normal(2.0, 0.6, 12),
    "OOH": RNG.normal(3.9, 0.5, 12),
    "H": RNG.normal(0.0, 0.3, 12),
}


def _scalar(reaction: str, i: int):
    fe = SiteFreeEnergies("s", {k: float(v[i]) for k, v in DG.items()}, {}, {}, {})
    return evaluate_site(load_network(), reaction, fe)


@pytest.mark.parametrize("reaction", ["orr", "oer", "her", "bifunctional"])
def test_vectorised_quantities_equal_arsc_thermo_site_by_site(reaction):
    eta = evaluate_quantity(ObjectiveSpec(reaction=reaction), DG)
    u_l = evaluate_quantity(ObjectiveSpec(reaction=reaction, quantity="limiting_potential"), DG)
    for i in range(12):
        act = _scalar(reaction, i)
        assert eta[i] == pytest.approx(act.overpotential, abs=1e-12)
        assert u_l[i] == pytest.approx(act.limiting_potential, abs=1e-12)


def test_network_product_selectivity_and_dg_quantities():
    net_dg = {
        "COOH": np.array([0.3, 0.5]),
        "CO": np.array([0.2, -1.5]),
        "OCHO": np.array([0.9, 0.9]),
        "H": np.array([0.6, 0.6]),
        "CHO": np.array([1.5, -0.5]),
        "COH": np.array([1.5, 1.5]),
    }
    spec = ObjectiveSpec(reaction="crr", product="CO", product_penalty=9.0)
    values = evaluate_quantity(spec, net_dg)
    fe = SiteFreeEnergies("s", {k: float(v[0]) for k, v in net_dg.items()}, {}, {}, {})
    first = evaluate_site(load_network(), "crr", fe)
    assert first.product == "CO" and values[0] == pytest.approx(first.overpotential)
    assert values[1] == 9.0  # *CO binds too strongly: hydrogenated past CO
    sel = ObjectiveSpec(reaction="nrr", quantity="selectivity", competition="nrr_vs_her")
    n2 = {"N2": np.array([0.1]), "N2H": np.array([0.9]), "H": np.array([0.2])}
    assert evaluate_quantity(sel, n2)[0] == pytest.approx((0.9 - 0.1) - 0.2)
    dg = ObjectiveSpec(reaction="orr", quantity="dg", intermediate="OH", goal="closest:1.0")
    assert evaluate_quantity(dg, DG).tolist() == DG["OH"].tolist()


def test_unknown_competition_or_intermediate_names_the_allowed_ones():
    with pytest.raises(ArscInputError, match="allowed: nrr_vs_her"):
        quantity_intermediates(
            ObjectiveSpec(reaction="nrr", quantity="selectivity", competition="x")
        )
    with pytest.raises(ArscInputError, match="allowed: OOH, O, OH"):
        quantity_intermediates(ObjectiveSpec(reaction="orr", quantity="dg", intermediate="H"))


# ---- state ------------------------------------------------------------------------------


def test_state_round_trips_atomically_and_refuses_bad_files(tmp_path):
    definition = CampaignDefinition(name="x")
    state = CampaignState(
        arsc_version="0", definition=definition, definition_sha256=definition.sha256()
    )
    save_state(state, tmp_path)
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed
    assert load_state(tmp_path) == state.model_copy(
        update={"updated": load_state(tmp_path).updated}
    )
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(ArscInputError, match="not valid JSON"):
        load_state(tmp_path)
    (tmp_path / "state.json").write_text(json.dumps({"schema_version": 9}))
    with pytest.raises(ArscInputError, match="schema_version 9"):
        load_state(tmp_path)
    with pytest.raises(ArscInputError, match="no campaign in"):
        load_state(tmp_path / "empty")


# ---- the loop (replay backend) ----------------------------------------------------------


def _run(tmp_path, name="run", **sections):
    path = write_campaign(tmp_path / "files", **sections)
    campaign = start_campaign(read_definition(path), tmp_path / name, show_progress=False)
    return campaign, run_campaign(campaign)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One replay campaign run to its end (shared by the tests that only read it)."""
    return _run(tmp_path_factory.mktemp("finished"))


def test_replay_campaign_records_every_step_and_stops_at_the_budget(finished):
    campaign, state = finished
    assert state.status == "finished" and state.stop_reason.startswith("budget spent")
    assert len(state.rounds) == 3  # 24 calculations, 4 per site, 2 sites per round
    for rnd in state.rounds:
        assert list(rnd.step_times) == list(STEPS)
        assert rnd.predictions is not None and len(rnd.predictions.sites) == 36
        assert rnd.selection is not None and len(rnd.selection.sites) == 2
        assert all(r.status == "ok" and r.value is not None for r in rnd.results)
        assert rnd.validation is not None and rnd.validation.quantities["value"].n == 2
        assert rnd.refit is not None and rnd.refit.kind == "offset"
        assert (campaign.folder / rnd.refit.model).is_file()
    assert state.rounds[0].model_kind == "prior" and state.rounds[1].model_kind == "offset"
    computed = [s for r in state.rounds for s in r.selection.sites]
    assert len(set(computed)) == 6  # no site chosen twice
    assert state.accounting.dft_calculations == 24
    assert state.accounting.exhaustive_calculations == 36 * 4
    assert state.accounting.core_hours == pytest.approx(24 * 100 / 3600)
    assert state.accounting.ratio == pytest.approx(6.0)
    # one order for all: computed sites by their DFT score, the others by the score of the
    # final model's predicted mean (goal min: the value itself)
    assert sorted(r.source for r in state.ranking) == ["arsc"] * 30 + ["dft"] * 6
    scores = [r.score for r in state.ranking]
    assert scores == sorted(scores)
    final = state.final_predictions  # the last refit's, which the ARSC part of the ranking uses
    assert final is not None and final.sites == state.rounds[-1].predictions.sites
    at = {s: i for i, s in enumerate(final.sites)}
    dft = {res.site: res for _, res in state.results()}
    for row in state.ranking:
        if row.source == "dft":
            assert (row.value, row.score) == (dft[row.site].value, dft[row.site].score)
        else:
            assert row.value == pytest.approx(final.value[at[row.site]]) == row.score
    assert (campaign.folder / "validation" / "round-00.png").is_file()


def test_interrupting_after_any_step_then_resuming_gives_the_same_ranking(tmp_path, finished):
    whole = finished[1]
    reference = [(r.site, r.source, r.score) for r in whole.ranking]
    path = write_campaign(tmp_path / "files")
    for steps in (2, 4, 12):  # after prune; after compute; mid round 1
        folder = tmp_path / f"cut-{steps}"
        first = start_campaign(read_definition(path), folder, show_progress=False)
        run_campaign(first, max_steps=steps)
        assert load_state(folder).status == "running"
        resumed = run_campaign(resume_campaign(folder, show_progress=False))
        assert [(r.site, r.source, r.score) for r in resumed.ranking] == reference
        assert ranking(folder / "state.json") == reference


def test_without_prior_the_first_batch_is_space_filling(tmp_path):
    _, state = _run(
        tmp_path, model={"prior": None, "refit": "full"}, budget={"dft_calculations": 8}
    )
    first = state.rounds[0]
    assert first.predictions.space_filling and first.selection.space_filling
    assert first.model is None and first.selection.strategy == "space-filling"
    metals = {m for s in first.selection.sites for m in s.split("_")[0].split("-")}
    assert len(metals) >= 3  # far apart: no shared pair


def test_a_prior_lacking_the_reactions_intermediates_leaves_round_0_space_filling(tmp_path):
    path = write_campaign(tmp_path / "nrr", objective={"reaction": "nrr"})
    table = pd.read_csv(tmp_path / "nrr" / "replay.csv")  # a replay table needs every dG column
    for z in quantity_intermediates(ObjectiveSpec(reaction="nrr")):
        table[f"dG_{z}"] = table.get(f"dG_{z}", 0.5)
    table.to_csv(tmp_path / "nrr" / "replay.csv", index=False)
    other = start_campaign(read_definition(path), tmp_path / "nrr-run", show_progress=False)
    assert other.prior() is None and not (other.folder / "models" / "prior.json").exists()
    run_campaign(other, max_steps=3)  # score, prune, select
    first = other.state.rounds[0]
    assert first.model is None and first.predictions.space_filling
    assert first.selection.space_filling and len(first.selection.sites) == 2


def test_confirmed_lead_stops_before_the_budget(tmp_path):
    # kappa 0: the bound is the prediction; the prior's first pick is made ideal
    def campaign_file(folder):
        return write_campaign(
            folder,
            stopping={"rule": "confirmed-lead", "kappa": 0.0},
            budget={"dft_calculations": 40},
        )

    probe = start_campaign(
        read_definition(campaign_file(tmp_path / "probe")), tmp_path / "p", show_progress=False
    )
    favourite = run_campaign(probe).rounds[0].selection.sites[0]
    path = campaign_file(tmp_path / "files")
    table = tmp_path / "files" / "replay.csv"
    import pandas as pd

    data = pd.read_csv(table)
    ideal = {"dG_OH": 1.23, "dG_O": 2.46, "dG_OOH": 3.69}
    for col, v in ideal.items():
        data.loc[data["id"] == favourite, col] = v
    data.to_csv(table, index=False)
    campaign = start_campaign(read_definition(path), tmp_path / "run", show_progress=False)
    state = run_campaign(campaign)
    assert state.stop_reason.startswith("lead confirmed")
    assert state.accounting.dft_calculations < 40
    assert state.ranking[0].site == favourite and state.ranking[0].score == pytest.approx(0)
    from workflows.cli.campaign import accounting_line

    line = accounting_line(state)  # the rule confirmed the optimum: the saving is claimed
    assert f"optimum confirmed ({favourite} " in line and "% (" in line and "x fewer)" in line
    assert "no saving claimed" not in line


def test_budget_cuts_the_batch_to_what_it_pays_for(tmp_path):
    _, state = _run(tmp_path, acquisition={"batch": 5}, budget={"dft_calculations": 10})
    assert [len(r.selection.sites) for r in state.rounds] == [2]
    assert state.accounting.dft_calculations == 8


def test_pruning_records_a_reason_for_every_pruned_candidate(tmp_path):
    _, state = _run(tmp_path, acquisition={"prune_kappa": 0.0})
    later = state.rounds[-1]
    assert later.pruned, "kappa 0 prunes every candidate predicted worse than the best DFT"
    assert all("lower bound" in p.reason and ">= best" in p.reason for p in later.pruned)
    assert later.kept + len(later.pruned) + len(state.computed_sites()) - len(later.results) == 36


def test_rerunning_a_campaign_continues_it_and_another_definition_is_refused(finished):
    campaign, state = finished
    again = start_campaign(campaign.definition, campaign.folder, show_progress=False)
    assert run_campaign(again).rounds == state.rounds
    other = with_overrides(campaign.definition, budget__dft_calculations=8)
    with pytest.raises(ArscInputError, match="another definition"):
        start_campaign(other, campaign.folder, show_progress=False)


def test_replay_answers_each_site_once_even_when_a_batch_is_recomputed(finished):
    campaign, state = finished
    lines = (campaign.folder / "replay-calls.jsonl").read_text().splitlines()
    sites = [json.loads(x)["site"] for x in lines]
    assert len(sites) == len(set(sites)) == 6
    outcome = campaign.backend.compute(state.rounds[0].selection.sites)  # a rerun of round 0
    assert len((campaign.folder / "replay-calls.jsonl").read_text().splitlines()) == 6
    assert math.isfinite(outcome.sites[0].dg["OH"])


def test_prune_recall_sets_the_pruning_width_and_a_bad_recall_is_refused(tmp_path):
    from arsc.select import kappa_for_recall

    path = write_campaign(tmp_path / "f", acquisition={"prune_recall": 0.9})
    assert read_definition(path).acquisition.pruning_kappa == pytest.approx(kappa_for_recall(0.9))
    bad = write_campaign(tmp_path / "g", acquisition={"prune_recall": 1.5})
    with pytest.raises(ArscInputError, match="prune_recall"):
        read_definition(bad)
