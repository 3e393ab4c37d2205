"""scripts/bench_protocol.py: the plan, a run into the job store, a re-run that computes nothing.

CHGNet plays both the MLIP and the "DFT" engine (``--engine mlip``) on one
tiny set -- one site (the 30-atom cell), *OH in one mode from one start, the
reference's relaxation capped at one step -- so the benchmark's bookkeeping
runs for real in seconds; its numbers are not DFT.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import sqlite3
import sys

import pytest

from tests.paths import ROOT

pytest.importorskip("chgnet", reason="the MLIP extra (scripts/install.sh installs it)")

SPEC = importlib.util.spec_from_file_location("bench_protocol", ROOT / "scripts/bench_protocol.py")
bench = importlib.util.module_from_spec(SPEC)
sys.modules[SPEC.name] = bench  # dataclasses look their module up there
SPEC.loader.exec_module(bench)

TINY = [
    "--engine", "mlip", "--sites", "Fe-Co_qv-n6_graphene", "--adsorbates", "OH",
    "--protocols", "full,sp,sp-tuned", "--placements", "1", "--modes", "top1",
    "--tilts", "0", "--rotations", "0", "--heights", "0",
    "--mlip-fmax", "0.3", "--max-dft-steps", "1", "--json",
]  # fmt: skip


def _bench(capsys, project, *extra: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = bench.main(["--project", str(project), *TINY, *extra])
    out = capsys.readouterr().out
    return code, json.loads(out) if code == 0 else {}


def test_the_dry_run_prints_the_plan_and_its_estimated_cost(capsys, tmp_path) -> None:
    project = str(tmp_path / "p")
    code = bench.main(
        ["--project", project, "--dry-run", "--json", "--sites", "2", "--placements", "3"]
    )
    assert code == 0
    out = capsys.readouterr().out
    plan = json.loads(out)["plan"]
    states = plan["states"]
    assert [(s["site"], s["adsorbate"]) for s in states][:3] == [
        ("Fe-Co_qv-n6_graphene", "OH"),
        ("Fe-Co_qv-n6_graphene", "O"),
        ("Fe-Co_qv-n6_graphene", "OOH"),
    ]
    assert {s["atoms"] for s in states if s["adsorbate"] == "OH"} == {32}  # 30 bare + O, H
    assert all(s["k"] == min(3, s["starts"]) for s in states)
    rows = plan["rows"]
    assert list(rows) == ["full", "sp", "sp-tuned", "relax-3"]
    # one DFT single point per state (and per gas molecule) for sp: 2 bare + 18 placements + 2 gas
    assert rows["sp"]["force_calls"] == 2 + sum(s["k"] for s in states) + 2
    assert rows["full"]["core_hours"] > rows["relax-3"]["core_hours"] > rows["sp"]["core_hours"]
    assert json.loads(out)["progress"] is None  # no store yet
    assert not (tmp_path / "p").exists()  # nothing ran, nothing was written


def test_by_default_it_continues_the_benchmark_stored_in_the_repository() -> None:
    """A bare run reprints (and resumes) the stored benchmark: its folder, k = 1, its budget."""
    config, _ = bench.parse([])
    assert config.project == ROOT / "benchmarks" / "protocol"
    assert (config.placements, config.budget_core_hours) == (1, bench.BUDGET_CORE_HOURS)
    assert config.sites == bench.SITES and config.rows() == ["full", "sp", "sp-tuned", "relax-3"]
    # enough states to fill the measured figures the defaults are chosen by
    from workflows.protocols import MIN_STATES

    assert len(config.sites) * len(config.adsorbates) >= MIN_STATES


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    project = tmp_path_factory.mktemp("bench") / "project"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = bench.main(["--project", str(project), *TINY])
    assert code == 0
    return project, json.loads(out.getvalue())


def test_a_run_lands_in_the_job_store_and_compares_every_protocol(first) -> None:
    project, result = first
    assert (project / "store.sqlite").is_file()
    assert result["new_calculations"] > 0 and result["reference"] == "relax-1"
    full, sp = result["rows"]["full"], result["rows"]["sp"]
    assert full["states"] == sp["states"] == 1
    assert full["success_rate"] == 1.0 and full["mae_ev"] == 0.0
    assert sp["success_rate"] in (0.0, 1.0) and sp["mae_ev"] is not None
    assert full["force_calls"] > sp["force_calls"] > 0
    assert sp["force_call_ratio"] == pytest.approx(full["force_calls"] / sp["force_calls"])


def test_a_tuned_row_counts_only_the_states_it_ran_tuned(first) -> None:
    """The first site has no earlier frames: sp-tuned ran it as sp, which is not a tuned result."""
    _, result = first
    tuned = result["rows"]["sp-tuned"]
    assert (tuned["states"], tuned["untuned_states"]) == (0, 1)
    assert tuned["success_rate"] is None and tuned["per_state"] == []
    assert tuned["force_calls"] == 0 and tuned["versus"] is None
    assert "untuned" in result["tuning"]["Fe-Co_qv-n6_graphene"]


def test_a_tuned_row_is_compared_with_its_twin_on_the_same_states() -> None:
    def state(site: str, ads: str, protocol: float, own: float) -> dict:
        return {"site": site, "adsorbate": ads, "reference": 0.0, "protocol": protocol, "own": own}

    rows = {
        "sp": {"per_state": [state("A", "OH", 0.8, 0.2), state("B", "OH", 0.6, 0.1)]},
        "sp-tuned": {"per_state": [state("B", "OH", 0.05, 0.3)]},
    }
    versus = bench.paired(rows, "sp-tuned", "sp")
    assert versus["twin"] == "sp"
    assert versus["sp-tuned"] == {
        "states": 1, "success_rate": 1.0, "mae_ev": 0.05, "mae_own_ev": 0.3
    }  # fmt: skip
    assert versus["sp"] == {"states": 1, "success_rate": 0.0, "mae_ev": 0.6, "mae_own_ev": 0.1}
    assert bench.paired({"sp": rows["sp"], "sp-tuned": {"per_state": []}}, "sp-tuned", "sp") is None


def _stored_documents(project) -> int:
    with contextlib.closing(sqlite3.connect(project / "store.sqlite")) as db:
        counts = [db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in ("jobs", "data")]
    return sum(counts)


def test_a_rerun_recomputes_nothing_and_reports_the_same_table(first, capsys) -> None:
    """Nothing recomputed, nothing stored again: a re-run leaves the store as it was."""
    project, result = first
    before = _stored_documents(project)
    code, again = _bench(capsys, project)
    assert code == 0
    assert again["new_calculations"] == 0
    assert _stored_documents(project) == before
    assert again["rows"] == result["rows"]


def test_each_state_is_printed_with_every_protocol_s_error(first, capsys) -> None:
    _, result = first
    table = bench.state_table(result["rows"])
    ref = result["rows"]["full"]["per_state"][0]["reference"]
    sp = result["rows"]["sp"]["per_state"][0]["protocol"]
    assert table == {("Fe-Co_qv-n6_graphene", "OH"): {"full": ref, "sp": sp}}
    capsys.readouterr()
    bench.print_states(result["rows"])
    line = capsys.readouterr().out.splitlines()[-1].split()
    assert line[:2] == ["Fe-Co", "*OH"]
    assert float(line[2]) == pytest.approx(ref, abs=1e-3)
    assert float(line[3]) == pytest.approx(sp - ref, abs=1e-3)


def test_the_reference_relaxation_read_after_n_steps_is_relax_n(first) -> None:
    """Frame 0 of the reference's relaxation is sp's geometry; its last frame is the reference."""
    _, result = first
    curve = result["step_curve"]
    zero, *_, last = curve["points"]
    assert zero["steps"] == 0 and zero["states"] == 1
    assert zero["mae_ev"] == pytest.approx(result["rows"]["sp"]["mae_ev"], abs=1e-6)
    assert last["mae_ev"] == pytest.approx(0.0, abs=1e-6) and last["success_rate"] == 1.0
    # the smoke reference is relax-1, whose step cap each retry of the MLIP's ladder gets anew
    assert curve["full_mean_steps"] >= 1


def test_the_dry_run_says_what_the_store_holds_already(first, capsys) -> None:
    project, _ = first
    code = bench.main(["--project", str(project), *TINY, "--dry-run"])
    assert code == 0
    done = json.loads(capsys.readouterr().out)["progress"]
    # finished (and not rerun), whether tuned or not
    assert done["rows"] == {row: {"done": 1, "of": 1} for row in ("full", "sp", "sp-tuned")}
    assert done["spent_core_hours"] > 0


def test_the_budget_stops_new_flows_and_says_how_to_go_on(first, capsys) -> None:
    project, _ = first
    code, result = _bench(capsys, project, "--budget-core-hours", "1e-9", "--adsorbates", "O")
    assert code == 0
    assert result["new_calculations"] == 0
    assert "budget of 1e-09 core-hours spent" in result["stopped"]
    assert "raise --budget-core-hours" in result["stopped"]


def test_bad_options_are_one_line_errors(capsys, tmp_path) -> None:
    code = bench.main(["--project", str(tmp_path / "p"), "--protocols", "full,fast", "--dry-run"])
    assert code == 2
    err = capsys.readouterr().err
    assert "unknown protocol 'fast'" in err and len(err.strip().splitlines()) == 1


def test_markdown_prints_the_tables_of_the_docs(first) -> None:
    """--markdown: the table per protocol, per state and the step curve, as in docs/engines.md."""
    _, result = first
    lines = bench.markdown(result).splitlines()
    assert lines[0].startswith("| protocol | states | success@0.1 eV | MAE (eV)")
    assert lines[2].startswith("| full (reference) | 1 | 100 % | 0.000 |")
    assert lines[4].startswith("| sp-tuned | 0 (+1 untuned) | - |")
    assert "| Fe-Co *OH |" in "\n".join(lines) and lines[-4].startswith("| n steps | 0 |")


def test_the_relaxation_energy_estimate_reads_sp_s_point_from_the_reference(first, capsys) -> None:
    """scripts/bench_relaxation_energy.py on the tiny benchmark: sp's row is the step curve's n = 0.

    Frame 0 of the reference relaxation is sp's point; the script's ``sp``
    row (no correction) therefore has the step curve's MAE at n = 0, and
    every estimate row covers the same state.
    """
    project, result = first
    spec = importlib.util.spec_from_file_location(
        "bench_relaxation_energy", ROOT / "scripts/bench_relaxation_energy.py"
    )
    estimate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(estimate)
    capsys.readouterr()
    code = estimate.main(["--json", "--project", str(project), *TINY])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert set(rows) == {"sp", "newton floor 1", "newton floor 5", "scaled newton", "scaled |f|^2"}
    assert all(r["states"] == 1 for r in rows.values())
    zero = result["step_curve"]["points"][0]["mae_ev"]
    assert rows["sp"]["mae_ev"] == pytest.approx(zero, abs=1e-6)
    # one site: leave-one-site-out has nothing to fit on, so the scaled rows add nothing
    assert rows["scaled newton"]["mae_ev"] == pytest.approx(rows["sp"]["mae_ev"])
    # the Newton estimate lowers the energy (a positive definite Hessian)
    assert rows["newton floor 1"]["bias_ev"] < rows["sp"]["bias_ev"]
