"""Protocols: one table of knob sets, recorded in every job and in every calculation's key.

Flow runs use the FAKE test engine (tests/workflows/fake_engine.py: an
orchestration seam, not DFT) where only the bookkeeping is tested; the key
tests use the real GPAW and CHGNet Makers (nothing is computed), and the
relax-n run uses CHGNet as its "DFT" engine.
"""

from __future__ import annotations

import json

import pytest
from jobflow import run_locally

from arsc.errors import ArscInputError
from arsc.space import Site
from arsc.structures import build
from arsc.yamlio import validate
from tests.workflows import fake_engine
from workflows import protocols
from workflows.campaign.definition import CampaignDefinition, DftSpec, parse_definition
from workflows.chain import capped_relax
from workflows.cli.main import main
from workflows.fingerprint import file_sha256
from workflows.flow_options import FlowOptions
from workflows.flows import DacAdsorptionFlow
from workflows.protocols import default_statement, get_protocol, protocol_names
from workflows.schemas import CalcDoc, SiteDoc
from workflows.settings import ArscSettings
from workflows.store import make_store

SITE = "Fe-Co_qv-n6_graphene"


pytestmark = pytest.mark.usefixtures("fake_cli_project")


def test_the_table_names_the_protocols_and_relax_n_takes_its_n_from_the_name() -> None:
    assert protocol_names() == ("full", "sp", "sp-tuned", "relax-n")
    full, sp, tuned = (get_protocol(n) for n in ("full", "sp", "sp-tuned"))
    assert (full.relax, full.dft_steps, full.tuned) == ("dft", None, False)
    assert (sp.relax, sp.tuned, tuned.relax, tuned.tuned) == ("mlip", False, "mlip", True)
    assert get_protocol("relax-n").name == "relax-3"
    assert (get_protocol("relax-7").dft_steps, get_protocol("relax-7").capped) == (7, True)
    assert full.measured.success_rate is None  # the reference is not measured against itself
    # the table's figures are those of its own n: another n was never measured
    assert get_protocol("relax-7").measured == get_protocol("relax-7").measured.__class__()
    for bad in ("relax-0", "relax-1001", "spx", "relax-"):
        with pytest.raises(ArscInputError, match=f"unknown protocol '{bad}'") as err:
            get_protocol(bad)
        assert "\n" not in str(err.value) and "full, sp, sp-tuned, relax-n" in str(err.value)
    assert FlowOptions(protocol="relax-n").protocol == "relax-3"
    assert FlowOptions().protocol == "full"  # today's default computation keeps its name
    with pytest.raises(ArscInputError, match="unknown protocol 'x'"):
        FlowOptions.validated({"protocol": "x"})


@pytest.fixture(scope="module")
def start():
    return build(Site.from_id(SITE), "OH", "top1", min_image=5.0)


@pytest.fixture(scope="module")
def tuned_weights(tmp_path_factory):
    """A CHGNet weights file that differs from the packaged one (one parameter changed)."""
    pytest.importorskip("chgnet", reason="the MLIP extra (scripts/install.sh installs it)")
    import torch

    from workflows.engines.mlip import base_chgnet

    model = base_chgnet()
    with torch.no_grad():
        next(model.parameters()).add_(1e-3)
    path = tmp_path_factory.mktemp("tuned") / "chgnet-finetuned.pth.tar"
    torch.save({"model": model.as_dict()}, path)
    return str(path)


def _keys(protocol, atoms, **knobs):
    """Fingerprints of the (pre-relax, relax, static) calculations a protocol runs on ``atoms``."""
    pre, relax, static = DacAdsorptionFlow(
        engine="gpaw", preset="fast", protocol=protocol, **knobs
    ).makers()
    return tuple(None if m is None else m.fingerprint(atoms) for m in (pre, relax, static))


def test_two_protocols_share_a_key_only_where_they_run_the_same_calculation(
    start, tuned_weights
) -> None:
    """Keys of the same start under each protocol (GPAW and CHGNet Makers; nothing runs)."""
    pytest.importorskip("gpaw", reason="GPAW not installed: bash scripts/install.sh")
    full = _keys("full", start)
    sp = _keys("sp", start)
    relax3, relax5 = _keys("relax-3", start), _keys("relax-5", start)
    tuned = _keys("sp-tuned", start, prerelax_weights=tuned_weights)
    # sp's MLIP relaxation is full's MLIP pre-relaxation: one calculation, shared
    assert sp[0] is None and sp[1] == full[0] == relax3[0]
    # a DFT relaxation to convergence, 3 steps and 5 steps are three calculations
    assert len({full[1], relax3[1], relax5[1]}) == 3
    # the tuned weights make another MLIP relaxation (their SHA-256 is in its settings)
    assert tuned[1] != sp[1]
    # a single point is one calculation whatever the protocol: on the same structure it is shared
    assert full[2] == sp[2] == relax3[2] == tuned[2]


def test_relax_n_caps_the_steps_and_switches_the_optimiser_ladder_off() -> None:
    pytest.importorskip("gpaw", reason="GPAW not installed: bash scripts/install.sh")
    _, relax, _ = DacAdsorptionFlow(engine="gpaw", protocol="relax-4").makers()
    assert relax.steps == 4 and relax.recovery["optimizer"] == []
    assert [s["label"] for s in relax.recovery["scf"]] == [s.label for s in relax.ladder()["scf"]]
    assert relax.settings()["steps"] == 4
    with pytest.raises(ArscInputError, match="has no steps knob"):
        capped_relax(fake_engine.FakeMaker(task="relax"), 3)


def _run(tmp_path, **knobs):
    store = make_store(ArscSettings(project=tmp_path / "proj"))
    maker = DacAdsorptionFlow(
        min_image=5.0, intermediates=("OH",), modes=("top1",), reactions=("orr",), **knobs
    )
    flow = maker.make([SITE])
    run_locally(flow, store=store, log=False, root_dir=tmp_path)
    store.connect()
    return store


def _computed(tmp_path) -> list[str]:
    path = tmp_path / "count"
    return path.read_text().split("\n")[:-1] if path.exists() else []


def test_every_job_records_its_protocol_and_the_same_computation_is_shared(tmp_path) -> None:
    store = _run(tmp_path, engine="fake", prerelax_engine="fake", protocol="full")
    full = len(_computed(tmp_path))
    docs = list(store.query({}, properties=["metadata", "output", "index"]))
    assert docs and all(d["metadata"]["protocol"] == "full" for d in docs)
    # the fake engine moves no atom: sp's MLIP relaxation and single points are the very
    # calculations full made, so they are found, not recomputed
    store = _run(tmp_path, engine="fake", prerelax_engine="fake", protocol="sp")
    assert len(_computed(tmp_path)) == full
    sp = list(store.query({"metadata.protocol": "sp"}, properties=["metadata", "output"]))
    assert sp and {d["metadata"]["role"] for d in sp if "role" in d["metadata"]} == {"mlip", "dft"}
    site = store.query_one({"metadata.arsc_doc": "site", "metadata.protocol": "sp"}, ["output"])
    doc = SiteDoc.model_validate({k: v for k, v in site["output"].items() if k[0] != "@"})
    assert {s.adsorbate for s in doc.states} == {"bare", "OH"}
    assert all(set(s.fingerprints) == {"relax", "static"} for s in doc.states)


def test_relax_n_goes_on_from_an_end_point_that_used_up_its_steps(tmp_path) -> None:
    """CHGNet plays the DFT engine: 1 step from the built structure does not converge."""
    pytest.importorskip("chgnet", reason="the MLIP extra (scripts/install.sh installs it)")
    store = _run(tmp_path, engine="mlip", prerelax_engine="fake", protocol="relax-1")
    relaxes = [
        CalcDoc.from_output(d["output"])
        for d in store.query({"metadata.step": "relax"}, properties=["output"])
        if d["output"] and d["output"].get("engine") == "mlip"
    ]
    assert relaxes and all(r.settings["steps"] == 1 for r in relaxes)
    assert any(
        r.status == "failed" and r.error.startswith("relaxation not converged") for r in relaxes
    )
    site = store.query_one({"metadata.arsc_doc": "site"}, ["output", "metadata"])
    doc = SiteDoc.model_validate({k: v for k, v in site["output"].items() if k[0] != "@"})
    assert site["metadata"]["protocol"] == "relax-1"
    assert [s.status for s in doc.states] == ["ok", "ok"] and doc.dg["OH"] is not None
    weights = site["metadata"]["mlip_weights"]
    assert weights["model"] == "chgnet" and weights["file"].endswith(".pth.tar")
    assert len(weights["sha256"]) == 64


def test_a_tuned_protocol_needs_weights_and_records_them(tuned_weights) -> None:
    with pytest.raises(ArscInputError, match="protocol sp-tuned relaxes with CHGNet fine-tuned"):
        DacAdsorptionFlow(engine="fake", protocol="sp-tuned").makers()
    maker = DacAdsorptionFlow(engine="fake", protocol="sp-tuned", prerelax_weights=tuned_weights)
    pre, relax, _ = maker.makers()
    assert pre is None and relax.weights_file == tuned_weights
    flow = DacAdsorptionFlow(
        engine="fake", protocol="sp-tuned", prerelax_weights=tuned_weights, min_image=5.0
    ).make([SITE])
    site_jobs = [j for j in flow.jobs if not j.name.startswith("gas ")]
    records = {json.dumps(j.metadata["mlip_weights"], sort_keys=True) for j in site_jobs}
    (record,) = (json.loads(r) for r in records)
    assert record == {
        "model": "chgnet",
        "weights": "fine-tuned",
        "file": tuned_weights,
        "sha256": file_sha256(tuned_weights),
    }
    assert {j.metadata["protocol"] for j in flow.jobs} == {"sp-tuned"}
    gas = {j.metadata["mlip_weights"]["weights"] for j in flow.jobs if j.name.startswith("gas ")}
    assert gas == {"0.3.0"}  # gas references relax with the packaged weights in every round


def test_the_campaign_dft_section_takes_a_protocol_key() -> None:
    assert "protocol" not in DftSpec().model_dump()  # old definitions hash as before
    assert DftSpec(relax="mlip").protocol_name == "sp" and DftSpec().protocol_name == "full"
    spec = DftSpec(protocol="sp-tuned")
    assert (spec.relax, spec.model_dump()["protocol"]) == ("mlip", "sp-tuned")
    assert DftSpec(protocol="relax-n").protocol == "relax-3"
    # before the first refit a tuned protocol runs, and is recorded, as its untuned twin
    assert spec.flow_options("orr").protocol == "sp"
    tuned = spec.flow_options("orr", weights="/models/w.pth.tar")
    assert (tuned.protocol, tuned.prerelax_weights, tuned.prerelax) == (
        "sp-tuned",
        "/models/w.pth.tar",
        False,
    )
    with pytest.raises(ArscInputError) as err:
        parse_definition({"name": "x", "dft": {"protocol": "sp", "relax": "dft"}}, "c.yaml")
    assert "\n" not in str(err.value)
    assert "protocol sp relaxes with mlip, but relax is dft" in str(err.value)
    with pytest.raises(ArscInputError, match="unknown protocol 'fast'"):
        validate(CampaignDefinition, {"name": "x", "dft": {"protocol": "fast"}}, "c.yaml")


def _arsc_run(project, *extra: str) -> int:
    opts = ["--engine", "fake", "--prerelax-engine", "fake", "--min-image", "5"]
    return main(["run", "--project", str(project), "--no-progress", SITE, *opts, *extra])


def test_arsc_run_takes_protocol_and_placements_and_refuses_bad_ones(tmp_path, capsys) -> None:
    project = tmp_path / "proj"
    assert _arsc_run(project, "--reactions", "her", "--protocol", "sp", "--placements", "1") == 0
    request = json.loads((project / "last_request.json").read_text())
    assert (request["protocol"], request["placements"]) == ("sp", 1)
    capsys.readouterr()
    assert _arsc_run(project, "--protocol", "bogus") == 2
    assert "unknown protocol 'bogus'" in capsys.readouterr().err
    assert _arsc_run(project, "--protocol", "relax-2") == 2
    assert "has no steps knob" in capsys.readouterr().err
    assert _arsc_run(project, "--protocol", "sp-tuned") == 2
    err = capsys.readouterr().err
    assert "run `arsc finetune` first" in err and len(err.strip().splitlines()) == 1
    assert main(["run", "--project", str(project), "--resume", "--protocol", "sp"]) == 2
    assert "drop --protocol" in capsys.readouterr().err


def test_the_default_rule_takes_the_cheapest_protocol_measured_at_90_percent(monkeypatch) -> None:
    """Issue 19 item 5: nothing measured -> no recommendation, and the statement says so."""
    table = json.loads(json.dumps(protocols._table()))
    for entry in table["protocols"].values():
        entry["measured"] = {}
    monkeypatch.setattr(protocols, "_table", lambda: table)
    assert protocols.recommended_protocol() is None
    assert default_statement("sp") == (
        "no protocol has a measured success rate >= 90 % yet (scripts/bench_protocol.py); "
        "sp is unvalidated"
    )
    table["protocols"]["sp"]["measured"] = {"success_rate": 0.0, "states": 5}
    assert protocols.recommended_protocol() is None
    assert default_statement("sp").endswith("; sp measured 0 % on 5 states")
    table = json.loads(json.dumps(table))
    figures = {"full": (1.0, 1.0, 12), "sp": (0.85, 90.0, 12), "relax-n": (0.95, 12.0, 12)}
    figures["sp-tuned"] = (1.0, 80.0, 3)  # too few states to count
    for name, (rate, ratio, states) in figures.items():
        table["protocols"][name]["measured"] = {
            "success_rate": rate,
            "force_call_ratio": ratio,
            "states": states,
        }
    monkeypatch.setattr(protocols, "_table", lambda: table)
    # sp is cheapest but below the bar; relax-3 is the cheapest above it
    assert protocols.recommended_protocol() == "relax-3"
    assert protocols.recommended_protocol(bar=0.8) == "sp"
    assert default_statement("relax-n").startswith("relax-n is the cheapest protocol measured")
    assert default_statement("sp") == (
        "relax-3 is the cheapest protocol measured at >= 90 % success; this used sp"
    )
