"""What a finished campaign may claim: a saving only for a confirmed optimum, one ranking order.

Unit tests on a synthetic campaign state (workflows.report.synthetic: made-up
numbers on the real enumerated space), whose last round's predictions are set
here so that the optimum is confirmed or not; the end-to-end runs of the loop
are in tests/workflows/campaign/test_campaign*.py.
"""

from __future__ import annotations

from html import escape

from workflows.campaign.outcome import (
    REPLAY_PROTOCOL,
    campaign_protocol,
    claim_text,
    describe,
    protocol_line,
    protocol_success_rate,
    ranking_note,
    resolution,
    state_claim,
)
from workflows.campaign.state import CampaignState
from workflows.cli.campaign import accounting_line
from workflows.protocols import protocol_states
from workflows.report.adapter import report_data
from workflows.report.html import accounting_line as report_line
from workflows.report.html import render_page
from workflows.report.synthetic import synthetic_state

SMALL = {"metals": ["Fe", "Co", "Ni", "Cu"], "motifs": ["qv-n6"], "rounds": 2, "batch": 2}


def _state(confirmed: bool) -> CampaignState:
    """A synthetic state stopped on budget; its last predictions confirm the optimum or not."""
    state = synthetic_state(**SMALL)
    state.stop_reason = "budget spent (16 of 16 DFT calculations)"
    pred = state.rounds[-1].predictions
    assert pred is not None
    best = min(r.score for _, r in state.results())
    done = state.computed_sites()
    for i, site in enumerate(pred.sites):
        if site in done:
            continue
        # confirmed: every other site's bound mu - 2 std is 0.1 above the best; else one is below
        pred.value[i] = pred.score[i] = best + (0.5 if confirmed else 0.05)
        pred.value_std[i] = pred.score_std[i] = 0.2
    return state


def test_a_budget_stop_claims_no_saving_and_says_what_is_unresolved():
    state = _state(confirmed=False)
    res = resolution(state)
    computed, sites = len(state.computed_sites()), state.space.sites
    assert not res.confirmed and res.computed == computed == 4 and res.sites == sites == 10
    assert len(res.unresolved) == sites - computed  # every uncomputed site could beat the best
    line = accounting_line(state)
    assert "saved" not in line and "fewer" not in line
    assert f"budget spent (16 of 16 DFT calculations) after {computed} of {sites} sites" in line
    assert f"{sites - computed} sites not resolved" in line and "no saving claimed" in line
    assert f"best predicted {res.challenger} " in line and f"best computed {res.best_site}" in line
    assert "\n" not in line


def test_a_confirmed_optimum_claims_the_saving():
    state = _state(confirmed=True)
    res = resolution(state)
    assert res.confirmed and res.unresolved == () and res.challenger is None
    acc = state.accounting
    line = accounting_line(state)
    assert f"optimum confirmed ({res.best_site} " in line
    assert f"saved {100 * acc.saved_fraction:.0f} % ({acc.ratio:.1f}x fewer)" in line
    assert "no saving claimed" not in line and "not resolved" not in line


def test_the_report_claims_exactly_what_the_command_line_claims():
    for confirmed in (False, True):
        state = _state(confirmed)
        data = report_data(state)
        assert data.accounting.confirmed is confirmed
        assert data.accounting.claim == state_claim(state)
        line = report_line(data.accounting)
        assert state_claim(state) in line and "protocol" in line
        assert ("saved" in line) is confirmed
        assert escape(line) in render_page(data, {})  # the page escapes every value


def test_no_computed_value_means_no_optimum_and_no_claim():
    state = _state(confirmed=True)
    for rnd in state.rounds:
        rnd.results = []
    res = resolution(state)
    assert not res.confirmed and res.best_site is None
    assert "no saving claimed" in claim_text(res, state.accounting, state.stop_reason, "V")


def test_every_line_names_the_protocol_and_its_success_rate():
    state = _state(confirmed=False)
    assert campaign_protocol(state.definition.dft) == "full"  # relax: dft, the definition default
    state.definition.dft.relax = "mlip"
    assert campaign_protocol(state.definition.dft) == "sp"  # arsc screen's flow today
    assert accounting_line(state).endswith(
        protocol_line("sp", protocol_success_rate("sp"), protocol_states("sp"))
    )
    assert protocol_line("sp", protocol_success_rate("sp"), protocol_states("sp")) in ranking_note(
        state
    )
    state.definition.dft.executor = "replay"
    assert campaign_protocol(state.definition.dft) == REPLAY_PROTOCOL
    assert describe(state)["protocol"]["name"] == REPLAY_PROTOCOL
    assert protocol_line("sp", None) == "protocol sp, success rate not measured"
    assert protocol_line("full", 0.87).startswith("protocol full, measured success rate 87 %")
    assert protocol_line("sp", 0.25, 12).endswith("25 % (within 0.1 eV, 12 states)")


def test_the_success_rate_is_the_protocol_tables_measured_one():
    from workflows.protocols import get_protocol

    for name in ("full", "sp", "sp-tuned", "relax-3"):
        assert protocol_success_rate(name) == get_protocol(name).measured.success_rate
    assert protocol_success_rate(REPLAY_PROTOCOL) is None  # not a protocol of the table


def test_the_ranking_note_states_the_order_and_the_objectives_direction():
    state = _state(confirmed=False)
    note = ranking_note(state)
    assert "lower is better" in note and "one order for all" in note
    assert "computed value" in note and "predicted mean" in note
    assert f"{len(resolution(state).unresolved)} of them could still beat" in note
    state.definition.objective.goal = "max"
    assert "higher is better" in ranking_note(state)
