"""``arsc run`` and ``arsc results`` with the FAKE test engine (an orchestration seam, not DFT)."""

from __future__ import annotations

import json

import pytest

from workflows.cli.main import main
from workflows.protocols import protocol_success_rate

SITE = "Fe-Co_qv-n6_graphene"


pytestmark = pytest.mark.usefixtures("fake_cli_project")


def run(project, *extra: str) -> int:
    args = ["run", "--project", str(project), "--no-progress", *extra]
    return main(args)


def fake_run(project, *extra: str) -> int:
    """Run SITE with the fake engine; HER in the top1 mode unless ``extra`` says otherwise."""
    opts = ["--engine", "fake", "--prerelax-engine", "fake", "--min-image", "9.5"]
    defaults = [] if "--reactions" in extra else ["--reactions", "her"]
    return run(project, SITE, *opts, *defaults, *extra)


def results_json(project, capsys) -> dict:
    capsys.readouterr()
    assert main(["results", "--project", str(project), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def computations(tmp_path) -> list[str]:
    path = tmp_path / "count"
    return path.read_text().split("\n")[:-1] if path.exists() else []


def test_run_records_the_request_and_results_lists_the_store(tmp_path, capsys) -> None:
    project = tmp_path / "proj"
    assert fake_run(project, "--modes", "top1", "--reactions", "orr") == 0
    request = json.loads((project / "last_request.json").read_text())
    assert request["sites"] == [SITE]
    assert (request["engine"], request["modes"], request["reactions"]) == (
        "fake",
        ["top1"],
        ["orr"],
    )
    data = results_json(project, capsys)
    calcs = data["calculations"]
    # bare + 3 adsorbates: one relax (the fake pre-relax has the relax's key) and one static
    # each; H2O and H2: relax and static
    assert len(calcs) == 4 * 2 + 2 * 2
    assert {c["status"] for c in calcs} == {"ok"}
    first = calcs[0]
    assert (first["site"], first["adsorbate"], first["engine"], first["task"]) == (
        SITE,
        "bare",
        "fake",
        "relax",
    )
    assert len(first["fingerprint"]) == 12
    (site,) = data["sites"]
    assert site["site"] == SITE
    assert site["consistent"]
    assert (site["states_ok"], site["states"]) == (4, 4)
    assert site["activity"]["orr"]["overpotential"] > 0
    assert (site["protocol"], site["protocol_success_rate"]) == ("full", None)  # not measured


def test_results_name_the_protocol_of_each_site(tmp_path, capsys, monkeypatch) -> None:
    """The site document records the protocol; the text table shows it with its success rate."""
    monkeypatch.setenv("COLUMNS", "250")  # rich sizes its console from it: every column in full
    project = tmp_path / "proj"
    assert fake_run(project, "--modes", "top1", "--protocol", "sp") == 0
    (site,) = results_json(project, capsys)["sites"]
    assert site["protocol"] == "sp"
    assert main(["results", "--project", str(project)]) == 0
    out = capsys.readouterr().out
    assert "protocol" in out
    rate = protocol_success_rate("sp")  # the protocol table's measured figure, if any
    assert (
        f"sp (success {100 * rate:.0f} %)" if rate is not None else "sp (success not measured)"
    ) in out


def test_resume_reruns_the_request_without_recomputing(tmp_path, capsys) -> None:
    project = tmp_path / "proj"
    assert fake_run(project, "--modes", "top1") == 0
    before = computations(tmp_path)
    assert run(project, "--resume") == 0
    assert computations(tmp_path) == before
    out = capsys.readouterr().out
    assert SITE[:6] in out


def test_failed_calculation_is_kept_until_retry_failed(tmp_path, capsys, monkeypatch) -> None:
    project = tmp_path / "proj"
    monkeypatch.setenv("FAKE_ENGINE_FAIL", "H")
    assert fake_run(project, "--modes", "top1") == 0
    n = len(computations(tmp_path))
    monkeypatch.delenv("FAKE_ENGINE_FAIL")
    assert run(project, "--resume") == 0
    assert len(computations(tmp_path)) == n  # reported, not retried
    failed = [c for c in results_json(project, capsys)["calculations"] if c["status"] != "ok"]
    assert [(c["adsorbate"], c["task"]) for c in failed] == [("H", "relax")]
    assert run(project, "--resume", "--retry-failed") == 0
    assert len(computations(tmp_path)) == n + 2  # the *H relax again, then its static
    data = results_json(project, capsys)
    h = [c for c in data["calculations"] if c["adsorbate"] == "H"]
    assert {(c["task"], c["status"]) for c in h} == {("relax", "ok"), ("static", "ok")}
    assert data["sites"][0]["states_ok"] == 2


def test_results_text_lists_calculations_and_sites(tmp_path, capsys) -> None:
    project = tmp_path / "proj"
    assert fake_run(project, "--modes", "top1") == 0
    capsys.readouterr()
    assert main(["results", "--project", str(project)]) == 0
    out = capsys.readouterr().out
    assert "calculations" in out
    assert "sites" in out
    assert "6 calculations (6 ok, 0 failed), 1 sites" in out  # bare, *H top1, H2: relax+static


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give SITE_IDS"),
        (["--resume"], "nothing to resume"),
        (["--resume", SITE], "--resume reruns the recorded request; drop SITE_IDS"),
        (["--resume", "--engine", "fake"], "drop --engine"),
        ([SITE, "--engine", "qe"], "unknown engine 'qe'"),
        ([SITE, "--engine", "fake", "--reactions", "xyz"], "xyz"),
        ([SITE, "--engine", "fake", "--modes", "ontop"], "binding mode 'ontop'"),
        (["Xx-Co_qv-n6_graphene", "--engine", "fake"], "Xx"),
        (
            [SITE, "--engine", "fake", "--prerelax-engine", "fake", "--prerelax-weights", "w.pt"],
            "prerelax_weights needs an MLIP pre-relaxation engine, not 'fake'",
        ),
    ],
)
def test_bad_requests_exit_2_with_one_line(tmp_path, capsys, args, message) -> None:
    assert run(tmp_path / "proj", *args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("arsc: error: ")
    assert "\n" not in err
    assert message in err
    assert not (tmp_path / "proj" / "last_request.json").exists()


def test_results_without_a_store_exits_2(tmp_path, capsys) -> None:
    assert main(["results", "--project", str(tmp_path / "empty")]) == 2
    assert "no job store in project" in capsys.readouterr().err


#: ``last_request.json`` as the first ``arsc run`` wrote it (no prerelax_weights, no
#: corrections, sites first): it must still resume.
OLD_REQUEST = {
    "sites": [SITE],
    "reactions": ["her"],
    "engine": "fake",
    "preset": None,
    "prerelax": True,
    "prerelax_engine": "fake",
    "min_image": 9.5,
    "modes": ["top1"],
}


def test_an_old_last_request_file_still_loads_and_resumes(tmp_path, capsys) -> None:
    from workflows.executors.local import RunRequest
    from workflows.flow_options import FlowOptions

    project = tmp_path / "proj"
    project.mkdir()
    (project / "last_request.json").write_text(json.dumps(OLD_REQUEST, indent=2))
    request = RunRequest.load(project)
    assert request.options() == FlowOptions(
        **{k: v for k, v in OLD_REQUEST.items() if k != "sites"}
    )
    assert (request.sites, request.prerelax_weights, request.corrections) == (
        [SITE],
        None,
        "vasp-pbe",
    )
    assert run(project, "--resume") == 0
    fresh = computations(tmp_path)
    assert len(fresh) == 6  # bare, *H top1, H2: relax + static each
    # the same request given on the command line is the same work: nothing recomputed
    assert fake_run(project, "--modes", "top1") == 0
    assert computations(tmp_path) == fresh
    saved = json.loads((project / "last_request.json").read_text())
    assert {k: saved[k] for k in OLD_REQUEST} == OLD_REQUEST
    assert (saved["prerelax_weights"], saved["corrections"]) == (None, "vasp-pbe")


def test_a_request_file_with_a_bad_value_is_one_line(tmp_path, capsys) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "last_request.json").write_text(json.dumps({**OLD_REQUEST, "min_image": 1}))
    assert run(project, "--resume") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("arsc: error: malformed request file ") and "\n" not in err
