"""DacAdsorptionFlow and the per-site summary.

Orchestration runs use the FAKE test engine (tests/workflows/fake_engine.py):
a seam for orchestration, not a DFT stand-in. The summary's science (consistency
check, CHE numbers) is checked against arsc.thermo on the same energies.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from jobflow import run_locally

from arsc.dband import analyse
from arsc.errors import ArscInputError
from arsc.space import MODES, Site
from arsc.thermo import compute_activity, load_references
from workflows.campaign.definition import DftSpec
from workflows.flow_options import FlowOptions
from workflows.flows import DacAdsorptionFlow, gas_molecule, gas_references, reaction_intermediates
from workflows.schemas import CalcDoc, Convergence, SiteDoc
from workflows.settings import ArscSettings
from workflows.store import make_store
from workflows.summary import StateResult, summarise_site

SITE = "Fe-Co_qv-n6_graphene"


pytestmark = pytest.mark.usefixtures("fake_engine_registered")


def fake_flow(**kwargs) -> DacAdsorptionFlow:
    return DacAdsorptionFlow(
        engine="fake", prerelax_engine="fake", min_image=9.5, **{"reactions": ("orr",), **kwargs}
    )


def run_flow(tmp_path, maker: DacAdsorptionFlow, sites=(SITE,)):
    store = make_store(ArscSettings(project=tmp_path / "proj"))
    flow = maker.make(list(sites))
    run_locally(flow, store=store, log=False, root_dir=tmp_path)
    store.connect()
    return store, flow


def site_doc(store, site=SITE) -> SiteDoc:
    doc = store.query_one({"metadata.arsc_doc": "site", "output.site_id": site}, ["output"])
    return SiteDoc.model_validate({k: v for k, v in doc["output"].items() if k[0] != "@"})


def test_intermediates_and_gas_references_come_from_the_reaction_data() -> None:
    assert reaction_intermediates(["orr", "her"]) == ("OOH", "O", "OH", "H")
    assert gas_references(reaction_intermediates(["orr"])) == ("H2O", "H2")
    assert gas_references(reaction_intermediates(["nrr"])) == ("H2", "N2", "NH3")
    with pytest.raises(ArscInputError, match="orr"):
        reaction_intermediates(["xyz"])


def test_gas_molecule_is_centred_in_a_cubic_box_with_labels() -> None:
    h2o = gas_molecule("H2O")
    assert np.allclose(h2o.cell.lengths(), 15.0)
    pos = h2o.positions
    assert np.allclose((pos.max(axis=0) + pos.min(axis=0)) / 2, 7.5)
    assert h2o.info == {"adsorbate": "H2O", "mode": "gas"}
    assert not h2o.get_initial_magnetic_moments().any()


def test_states_are_bare_then_each_intermediate_in_each_mode_and_filtered() -> None:
    site = Site.from_id(SITE)
    states = fake_flow().states(site)
    assert states[0] == ("bare", None)
    assert states[1:] == [(a, m) for a in ("OOH", "O", "OH") for m in ("top1", "top2", "bridge")]
    assert fake_flow(modes=("top1",)).states(site)[1:] == [
        ("OOH", "top1"),
        ("O", "top1"),
        ("OH", "top1"),
    ]
    with pytest.raises(ArscInputError, match="binding mode 'ontop'"):
        fake_flow(modes=("ontop",)).states(site)


def test_flow_has_a_chain_per_state_gas_once_and_a_summary_per_site() -> None:
    flow = fake_flow(modes=("top1",)).make([SITE, "Ni-Ni_qv-n6_graphene"])
    names = [j.name for j in flow.jobs]
    assert names.count("gas H2O relax") == 1  # shared by both sites
    assert f"{SITE} OH top1 prerelax" in names
    assert f"{SITE} OH top1 static" in names
    assert [n for n in names if n.endswith("summary")] == [
        f"{SITE} summary",
        "Ni-Ni_qv-n6_graphene summary",
    ]
    # 2 gas x (relax, static) + 2 sites x 4 states x 3 steps + 2 summaries
    assert len(flow.jobs) == 4 + 24 + 2
    without = fake_flow(modes=("top1",), prerelax=False).make([SITE])
    assert not any(j.name.endswith("prerelax") for j in without.jobs)


def test_unknown_engine_and_preset_fail_at_make_with_one_line() -> None:
    with pytest.raises(ArscInputError, match="unknown engine 'qe'"):
        DacAdsorptionFlow(engine="qe").make([SITE])
    with pytest.raises(ArscInputError, match="fake preset 'huge'"):
        fake_flow(preset="huge").make([SITE])


def test_flow_options_map_onto_the_maker_fields_of_the_same_names() -> None:
    """Every FlowOptions field is a Maker field; defaults agree; from_options sets each one."""
    maker_fields = {f.name: f for f in dataclasses.fields(DacAdsorptionFlow)}
    assert set(FlowOptions.model_fields) <= set(maker_fields)
    default_maker, default_options = DacAdsorptionFlow(), FlowOptions()
    assert DacAdsorptionFlow.from_options(default_options) == default_maker
    options = FlowOptions(
        engine="fake",
        preset="fast",
        reactions=["orr", "her"],
        prerelax=False,
        prerelax_engine="fake",
        prerelax_weights="/w.pt",
        modes=["top1", "bridge"],
        min_image=9.5,
        corrections="gpaw-pbe",
        protocol="sp",
        placements=2,
    )
    maker = DacAdsorptionFlow.from_options(options, prerelax_hessian=True)
    for name in FlowOptions.model_fields:
        value = getattr(maker, name)
        assert (list(value) if isinstance(value, tuple) else value) == getattr(options, name)
        assert value != getattr(default_maker, name)  # every option really set
    assert (maker.reactions, maker.modes, maker.prerelax_hessian) == (
        ("orr", "her"),
        ("top1", "bridge"),
        True,
    )
    # the round trip: the Maker's values validate back into the same options
    back = {n: getattr(maker, n) for n in FlowOptions.model_fields}
    assert (
        FlowOptions.model_validate(
            {**back, "reactions": list(maker.reactions), "modes": list(maker.modes)}
        )
        == options
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"engine": "qe"}, "^unknown engine 'qe'; allowed: mlip, gpaw, vasp, fake$"),
        ({"prerelax_engine": "qe"}, "^unknown engine 'qe'"),
        ({"reactions": ["orr", "xyz"]}, "^unknown reaction 'xyz'; allowed: orr"),
        ({"reactions": []}, "^reactions: empty"),
        ({"modes": ["ontop"]}, "^unknown binding mode 'ontop'; allowed: top1"),
        ({"modes": []}, "^modes: empty"),
        ({"min_image": 4.9}, r"^here: min_image: must be >= 5 \(got 4.9\)$"),
        ({"min_image": 40.5}, r"min_image: must be <= 40 \(got 40.5\)"),
        ({"min_image": math.inf}, "min_image: must be a finite number"),
        ({"min_image": math.nan}, "min_image: must be a finite number"),
        ({"prerelax_hessian": True}, "prerelax_hessian: unknown key; allowed: engine, preset"),
    ],
)
def test_flow_options_are_validated_in_one_line(values, message) -> None:
    with pytest.raises(ArscInputError, match=message) as err:
        FlowOptions.validated(values, "here")
    assert "\n" not in str(err.value)


def test_flow_options_accept_every_name_the_flow_accepts() -> None:
    options = FlowOptions(
        engine="vasp", reactions=["ORR", "bifunctional", "nrr"], modes=list(MODES), min_image=40
    )
    assert options.reactions == ["ORR", "bifunctional", "nrr"]  # kept as given (request keys)
    assert FlowOptions(min_image=5).min_image == 5.0


def test_the_campaign_dft_section_gives_the_same_maker_as_before() -> None:
    """DftSpec reuses the options' fields; relax dft/mlip map onto prerelax on/off."""
    dft = DftSpec(engine="fake", prerelax_engine="fake", modes=["top1"], min_image=9.5)
    maker = DacAdsorptionFlow.from_options(dft.flow_options("orr"))
    assert maker == fake_flow(modes=("top1",))
    mlip = dft.model_copy(update={"relax": "mlip"}).flow_options("her")
    assert (mlip.prerelax, mlip.reactions) == (False, ["her"])
    assert DftSpec.model_fields["min_image"].default == FlowOptions().min_image
    with pytest.raises(ValueError, match="greater than or equal to 5"):
        DftSpec(min_image=1)


def test_run_gives_a_consistent_sitedoc_matching_arsc_thermo(tmp_path) -> None:
    store, _ = run_flow(tmp_path, fake_flow())
    doc = site_doc(store)
    assert doc.consistent
    assert doc.problems == []
    assert [s.adsorbate for s in doc.states][:2] == ["bare", "OOH"]
    assert all(s.status == "ok" and s.consistent for s in doc.states)
    assert set(doc.states[1].fingerprints) == {"prerelax", "relax", "static"}
    # independent recomputation from the stored static documents
    rows = [
        {"site": SITE, "adsorbate": s.adsorbate, "mode": s.mode or "", "e0": s.energy}
        for s in doc.states
    ]
    refs = load_references("vasp-pbe").model_copy(update={"energies": dict(doc.gas)})
    expected = compute_activity(pd.DataFrame(rows), "orr", refs).results[0]
    orr = doc.activity["orr"]
    assert orr.overpotential == pytest.approx(expected.overpotential)
    assert orr.limiting_step == expected.limiting_step
    assert doc.dg == pytest.approx(expected.dg)
    assert set(doc.gas) == {"H2O", "H2"}
    assert math.isfinite(orr.overpotential)


def test_gas_references_are_computed_once_for_all_sites(tmp_path, monkeypatch) -> None:
    counter = tmp_path / "count"
    monkeypatch.setenv("FAKE_ENGINE_COUNTER", str(counter))
    store, _ = run_flow(tmp_path, fake_flow(modes=("top1",)), [SITE, "Ni-Ni_qv-n6_graphene"])
    lines = counter.read_text().splitlines()
    assert len(lines) == len(set(lines))  # no fingerprint computed twice
    gas = {d["output"]["fingerprint"] for d in store.query({"output.mode": "gas"}, ["output"])}
    assert len(gas) == 4  # H2O and H2, relax and static
    assert site_doc(store).gas == site_doc(store, "Ni-Ni_qv-n6_graphene").gas


def test_failed_relaxation_is_reported_and_blocks_activity_without_zeros(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("FAKE_ENGINE_FAIL", "OH")
    store, _ = run_flow(tmp_path, fake_flow(modes=("top1", "bridge")))
    doc = site_doc(store)
    oh = [s for s in doc.states if s.adsorbate == "OH"]
    assert {s.status for s in oh} == {"failed"}
    assert all("fake relaxation failure" in (s.error or "") for s in oh)
    assert "static" not in oh[0].fingerprints  # no static after a failed relaxation
    assert doc.dg["OH"] is None
    assert doc.activity["orr"].overpotential is None
    assert "OH" in doc.activity["orr"].reason
    assert any(p.startswith("OH top1") for p in doc.problems)
    assert doc.consistent  # failures are not inconsistencies


def _doc(adsorbate, energy, settings, mode="top1", dband=None):
    return CalcDoc(
        fingerprint=f"{adsorbate}-{mode}-{energy}",
        engine="fake",
        task="static",
        status="ok",
        adsorbate=adsorbate,
        mode=None if adsorbate == "bare" else mode,
        formula="X",
        natoms=1,
        energy=energy,
        structure={},
        convergence=Convergence(converged=True),
        settings=settings,
        settings_hash=str(sorted(settings.items())),
        dband=dband or {},
    )


def test_summary_flags_inconsistent_settings_before_any_activity_number() -> None:
    base, other = {"kpts": [1, 1, 1], "xc": "PBE"}, {"kpts": [2, 2, 1], "xc": "PBE"}
    e = np.linspace(-8, 4, 601)
    dband = {"M1": analyse(e, np.exp(-0.5 * (e + 2.0) ** 2))}
    states = [
        StateResult("bare", None, {"static": _doc("bare", -100.0, base, dband=dband)}),
        StateResult("OH", "top1", {"static": _doc("OH", -110.0, base)}),
        StateResult("OH", "bridge", {"static": _doc("OH", -111.0, other, "bridge")}),
        StateResult("O", "top1", {"static": _doc("O", -105.0, other)}),
        StateResult("OOH", "top1", {"static": _doc("OOH", -114.0, base)}),
    ]
    gas = {"H2O": _doc("H2O", -14.22, base, "gas"), "H2": _doc("H2", -6.77, base, "gas")}
    doc = summarise_site(SITE, "fake", ["orr"], states, gas)
    assert not doc.consistent
    bridge = doc.states[2]
    assert not bridge.consistent
    assert bridge.reason == "kpts [2, 2, 1] vs bare [1, 1, 1]"
    assert doc.activity["orr"].modes["OH"] == "top1"  # the lower, inconsistent bridge is left out
    assert doc.dg["O"] is None  # its only calculation is inconsistent
    assert doc.activity["orr"].overpotential is None
    assert "inconsistent" in doc.activity["orr"].reason
    assert doc.dband["M1"].full.centre == pytest.approx(-2.0, abs=1e-3)


def test_summary_without_gas_reference_names_the_missing_molecule() -> None:
    base = {"xc": "PBE"}
    states = [
        StateResult("bare", None, {"static": _doc("bare", -100.0, base)}),
        StateResult("H", "top1", {"static": _doc("H", -103.6, base)}),
    ]
    doc = summarise_site(SITE, "fake", ["her"], states, {"H2": None})
    assert doc.activity["her"].overpotential is None
    assert "H2" in doc.activity["her"].reason
    assert "gas H2: no document" in doc.problems


def test_summary_of_a_state_whose_step_raised_is_missing() -> None:
    states = [StateResult("bare", None, {"relax": None, "static": None})]
    doc = summarise_site(SITE, "fake", ["her"], states, {})
    assert doc.states[0].status == "missing"
    assert "relax produced no document" in (doc.states[0].error or "")
    assert doc.settings_hash is None


@pytest.mark.slow
def test_mlip_engine_end_to_end_her_top1(tmp_path) -> None:
    """Real CHGNet (MLIP extra) relax + static of bare, *H top1 and H2; about a minute."""
    pytest.importorskip("chgnet", reason="MLIP extra not installed: pip install 'arsc-dac[mlip]'")
    maker = DacAdsorptionFlow(
        engine="mlip", prerelax=False, reactions=("her",), modes=("top1",), min_image=9.5
    )
    store, _ = run_flow(tmp_path, maker)
    doc = site_doc(store)
    assert [s.status for s in doc.states] == ["ok", "ok"]
    assert doc.consistent
    assert doc.activity["her"].overpotential is not None
    assert -3.0 < doc.dg["H"] < 3.0  # eV: a bound, finite hydrogen adsorption free energy
