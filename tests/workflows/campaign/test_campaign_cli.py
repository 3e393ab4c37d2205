"""``arsc campaign run|resume|validate`` and ``arsc screen`` (replay backend, FAKE engine).

The local-executor tests use the FAKE test engine (:mod:`tests.workflows.fake_engine`,
an orchestration seam, not a DFT stand-in) so that flows, the embedded store,
parallel worker processes and the accounting run for real in seconds; the
MLIP and GPAW engines run in the slow tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import ROOT
from tests.workflows.campaign_helpers import write_campaign
from workflows.cli.main import main

ROOT = ROOT


def _json(capsys) -> dict:
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out  # exactly one JSON object, nothing else on stdout
    return json.loads(out)


def test_run_then_validate_json_and_resume_of_a_finished_campaign(tmp_path, capsys):
    path = write_campaign(tmp_path / "files", budget={"dft_calculations": 16})
    folder = tmp_path / "run"
    assert (
        main(["campaign", "run", str(path), "--dir", str(folder), "--no-progress", "--json"]) == 0
    )
    out = _json(capsys)
    assert out["status"] == "finished" and out["rounds"] == 2 and len(out["computed"]) == 4
    assert out["accounting"]["dft_calculations"] == 16
    assert out["top"][0]["source"] == "dft" and Path(out["report"]).name
    assert main(["campaign", "validate", str(folder), "--json"]) == 0
    val = _json(capsys)
    assert [r["round"] for r in val["rounds"]] == [0, 1]
    first = val["rounds"][0]
    assert set(first["quantities"]) == {"dG_OH", "dG_O", "dG_OOH", "value"}
    assert first["quantities"]["value"]["n"] == 2 and Path(first["parity_plot"]).is_file()
    assert main(["campaign", "resume", str(folder), "--no-progress", "--json"]) == 0
    assert _json(capsys)["top"] == out["top"]


def test_human_output_has_top_candidates_accounting_and_report(tmp_path, capsys):
    path = write_campaign(tmp_path / "files", budget={"dft_calculations": 8})
    assert main(["campaign", "run", str(path), "--dir", str(tmp_path / "r"), "--no-progress"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the console wraps lines at 80
    assert "top candidates" in out and "rank" in out
    assert "accounting: 8 DFT calculations" in out
    # a budget stop with candidates open claims no saving (test_outcome_claims.py: the rule)
    assert "no saving claimed" in out and "x fewer" not in out
    assert "ranked by" in out and "one order for all" in out  # the order, explained
    assert "report:" in out
    assert "replayed (table)" in out  # where the values came from, not a generic "DFT"


def test_accounting_of_an_mlip_campaign_says_mlip_not_dft(tmp_path, capsys):
    from workflows.campaign.outcome import ranking_note
    from workflows.campaign.state import load_state
    from workflows.cli.campaign import accounting_line, top_table

    path = write_campaign(tmp_path / "files", budget={"dft_calculations": 8})
    assert main(["campaign", "run", str(path), "--dir", str(tmp_path / "r"), "--no-progress"]) == 0
    state = load_state(tmp_path / "r")
    state.definition.dft.executor = "local"
    state.definition.dft.engine = "mlip"
    state.definition.dft.preset = "chgnet"
    assert accounting_line(state).startswith("accounting: 8 MLIP calculations")
    assert "(computed (mlip chgnet), protocol " in ranking_note(state)
    ranked_by = set(top_table(state, top=36).columns[4].cells)
    assert ranked_by == {"MLIP value", "ARSC mean"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["campaign", "resume", "{tmp}/nothing"], "no campaign in"),
        (["campaign", "validate", "{tmp}/nothing"], "no campaign in"),
        (["campaign", "run", "no-such-campaign"], "packaged: "),
        (["campaign", "run", "default", "--budget", "0"], "--budget 0 is out of range"),
        (["screen", "--engine", "nope", "--project", "{tmp}/s"], "unknown engine 'nope'"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("arsc: error: ") and message in err and err.count("\n") == 1


def test_another_definition_in_the_same_folder_is_refused(tmp_path, capsys):
    path = write_campaign(tmp_path / "files", budget={"dft_calculations": 4})
    folder = str(tmp_path / "run")
    assert main(["campaign", "run", str(path), "--dir", folder, "--no-progress", "--json"]) == 0
    capsys.readouterr()
    assert main(["campaign", "run", str(path), "--dir", folder, "--budget", "8"]) == 2
    assert "another definition" in capsys.readouterr().err


# ---- local executor with the FAKE engine ----------------------------------------------


def _fake_env(counter: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARSC_", "FAKE_ENGINE_"))}
    env.update({"FAKE_ENGINE_COUNTER": str(counter), "PYTHONPATH": str(ROOT)})
    return env


@pytest.mark.parametrize("workers", [1, 2])
def test_local_executor_counts_dft_and_computes_each_calculation_once_fake_engine(
    tmp_path, workers
):
    path = tmp_path / "fake.yaml"
    path.write_text(
        "name: fake-local\n"
        "space: {metals: [Fe, Co, Ni], motifs: [qv-n6]}\n"
        "objective: {reaction: bifunctional}\n"
        "dft: {executor: local, engine: fake, prerelax_engine: fake, relax: mlip,\n"
        f"      modes: [top1], min_image: 9.5, workers: {workers}}}\n"
        "acquisition: {strategy: ucb, batch: 2}\n"
        "budget: {dft_calculations: 10}\n"
    )
    counter = tmp_path / "count"
    cmd = [sys.executable, "-m", "tests.workflows.fake_cli", "campaign", "run", str(path)]
    folder = tmp_path / "run"
    done = subprocess.run(
        [*cmd, "--dir", str(folder), "--no-progress", "--json"],
        cwd=ROOT,
        env=_fake_env(counter),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    # 2 gas + 2 sites x 4 states single points (the MLIP-step relaxations are not DFT)
    assert out["accounting"]["dft_calculations"] == 10 and len(out["computed"]) == 2
    computed = counter.read_text().splitlines()
    assert len(computed) == len({line.split()[0] for line in computed}) == 20  # once each
    state = json.loads((folder / "state.json").read_text())
    results = state["rounds"][0]["results"]
    assert all(r["site_doc"]["site_id"] == r["site"] for r in results)
    assert all(len(r["energies"]) == 4 for r in results)
