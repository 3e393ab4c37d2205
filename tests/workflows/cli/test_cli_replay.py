"""``arsc campaign replay`` as a user runs it (in-process, the stored replay tables)."""

import json

import pytest

from tests.paths import DATA
from tests.workflows.cli.helpers import run

SAC = DATA / "replay" / "sac_hoer_orr.csv"
FAST = ["--init", "20", "--batch", "10", "--seeds", "2", "--strategies", "greedy"]


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")


def test_replay_json_prints_one_object_with_strategies_and_random(capsys):
    code, out, err = run(capsys, "campaign", "replay", SAC, "-t", "overpotential", *FAST, "--json")
    assert code == 0, err
    payload = json.loads(out)  # the whole of stdout is one JSON object
    assert set(payload) == {"greedy", "random"}
    for figures in payload.values():
        assert set(figures) == {"calls_to_5", "calls_to_10", "found_at_5pct", "found_at_10pct",
                                "first_prune_top", "first_prune_removed"}  # fmt: skip
        assert 20 <= figures["calls_to_10"]["mean"] <= 57
        assert 0 <= figures["found_at_10pct"]["mean"] <= 1
        assert 0 <= figures["first_prune_top"]["mean"] <= 1
        assert 0 <= figures["first_prune_removed"]["mean"] < 1


def test_replay_table_names_the_best_strategy_and_compares_it_with_random(capsys):
    code, out, err = run(capsys, "campaign", "replay", SAC, "--target", "overpotential",
                         "--objective", "min", "--top", "6", *FAST)  # fmt: skip
    assert code == 0, err
    assert "calls to 3" in out and "calls to 6" in out  # milestones follow --top
    assert "best strategy: greedy finds the whole top-6" in out
    assert "for random" in out and "found 5 % (3)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategies", "best"], "unknown acquisition strategy 'best'; allowed: greedy"),
        (["--objective", "lowest"], "unknown objective 'lowest'; allowed: min, max, closest"),
        (["--surrogate", "nn"], "unknown surrogate 'nn'; allowed: gp"),
        (["--top", "100"], "--top 100 must lie in 1..57 (the table has 57 rows)"),
        (["--seeds", "1001"], "--seeds 1001 is out of range; allowed: [1, 1000]"),
        (["--seeds", "0"], "--seeds 0 is out of range"),
        (["--kappa", "nan"], "--kappa nan is out of range"),
        (["--kappa", "inf"], "--kappa inf is out of range"),
        (["--prune-recall", "1"], "--prune-recall 1 is out of range; allowed: [0.5, 0.9999]"),
        (["--init", "1"], "--init 1 is out of range"),
        (["--batch", "0"], "--batch 0 is out of range"),
        (["--top", "1000000"], "--top 1000000 is out of range"),
        (["--strategies", "greedy,,ucb"], "--strategies 'greedy,,ucb' has an empty item"),
    ],
)
def test_replay_bad_input_exits_2_with_one_line(capsys, args, message):
    code, out, err = run(capsys, "campaign", "replay", SAC, "-t", "overpotential", *args)
    assert code == 2 and out == ""
    assert err.startswith("arsc: error: ") and message in err and err.count("\n") == 1


def test_replay_unknown_target_names_the_columns(capsys):
    code, _, err = run(capsys, "campaign", "replay", SAC, "-t", "eta", "--seeds", "1")
    assert code == 2 and "unknown target column 'eta'" in err and "overpotential" in err


def test_campaign_group_has_run_resume_validate_and_replay(capsys):
    code, out, _ = run(capsys, "campaign", "--help")
    assert code == 0
    for verb in ("run", "resume", "validate", "replay"):
        assert f" {verb} " in out


def test_option_defaults_are_the_sciences_own():
    from arsc import replay, select, surrogates
    from workflows.cli import campaign_replay as cli

    assert cli.BASELINE == replay.BASELINE
    assert tuple(replay.DEFAULT_STRATEGIES) == cli.DEFAULT_STRATEGIES
    assert cli.DEFAULT_KAPPA == select.DEFAULT_KAPPA
    assert cli.DEFAULT_PRUNE_RECALL == select.DEFAULT_PRUNE_RECALL
    assert cli.DEFAULT_SURROGATE == surrogates.DEFAULT_SURROGATE
    assert tuple(surrogates.SURROGATES) == cli.SURROGATE_NAMES
