"""The placement search in the flow: MLIP screening, anomalies dropped, k lowest distinct to DFT.

The selection is tested on real structures (arsc.placements) with chosen
energies and anomaly flags; the flow runs with the FAKE test engine
(tests/workflows/fake_engine.py: an orchestration seam, not a DFT stand-in).
"""

from __future__ import annotations

import pytest
from jobflow import run_locally

from arsc.placements import PlacementGrid, placements
from arsc.space import Site
from workflows.engines.ase_maker import build_calc_doc
from workflows.flows import DacAdsorptionFlow
from workflows.placements import PlacementDoc, best_placements, screen_end_points
from workflows.schemas import Convergence, SiteDoc
from workflows.settings import ArscSettings
from workflows.store import make_store

SITE = "Fe-Co_qv-n6_graphene"
GRID = PlacementGrid(tilts=(0.0, 30.0), rotations=(0.0, 180.0), heights=(0.0,))
DROP = ("adsorbate_desorbed", "adsorbate_dissociated", "adsorbate_moved")


pytestmark = pytest.mark.usefixtures("fake_engine_registered")


def _doc(atoms, energy, anomalies=(), status="ok"):
    return build_calc_doc(
        fingerprint=f"fp-{atoms.info['placement']}-{energy}",
        engine="mlip",
        task="relax",
        atoms=atoms,
        settings={"model": "test"},
        convergence=Convergence(converged=status == "ok"),
        error=None if status == "ok" else "relaxation not converged: fmax 1 > 0.05 eV/A",
        energy=energy,
        anomalies=list(anomalies),
    ).model_dump()


def test_the_k_lowest_distinct_end_points_go_on_and_every_other_has_its_reason() -> None:
    starts = placements(Site.from_id(SITE), "OOH", min_image=5.0)
    a, b, c, d = (s.atoms for s in starts[:4])
    twin = a.copy()
    twin.info["placement"] = "twin of a"
    entries = [
        {"placement": "a", "mode": "top1", "doc": _doc(a, -10.0)},
        {"placement": "twin", "mode": "top1", "doc": _doc(twin, -10.5)},
        {"placement": "b", "mode": "top1", "doc": _doc(b, -9.0, ["metal_left_pocket: M1 ..."])},
        {"placement": "c", "mode": "top1", "doc": _doc(c, -8.0)},
        {"placement": "moved", "mode": "top1", "doc": _doc(d, -11.0, ["adsorbate_moved: ..."])},
        {"placement": "failed", "mode": "top1", "doc": _doc(d, -12.0, status="failed")},
        {"placement": "raised", "mode": "top1", "doc": None},
    ]
    doc, kept = screen_end_points(SITE, "OOH", entries, 2, 0.1, 3, DROP)
    status = {e.placement: (e.status, e.reason) for e in doc.end_points}
    assert [e.placement for e in doc.selected] == ["twin", "b"]
    assert [k.energy for k in kept] == [-10.5, -9.0]
    assert status["a"] == ("duplicate", "same end point as twin")
    assert status["c"] == ("surplus", "not among the 2 lowest distinct")
    assert status["moved"][0] == "anomalous" and "adsorbate_moved" in status["moved"][1]
    assert status["failed"][0] == "failed" and "not converged" in status["failed"][1]
    assert status["raised"] == ("failed", "MLIP relaxation produced nothing")
    # an anomaly not in the drop list (a metal flag) does not drop the end point
    assert status["b"] == ("selected", "")
    # lowest MLIP energy first among those ranked; the dropped ones follow
    assert [e.energy for e in doc.end_points[:4]] == [-10.5, -10.0, -9.0, -8.0]


def test_best_placements_keeps_the_lowest_single_point_per_mode() -> None:
    def state(mode, energy, status="ok"):
        static = {"task": "static", "status": status, "energy": energy}
        return {"adsorbate": "OH", "mode": mode, "outputs": {"static": static}}

    def calc(fields):
        return {
            "fingerprint": "x",
            "engine": "fake",
            "formula": "H",
            "natoms": 1,
            "structure": {},
            "convergence": {"converged": True},
            "settings": {},
            "settings_hash": "h",
            **fields,
        }

    states = [state("top1", -1.0), state("top1", -2.0), state("bridge", -0.5, "failed")]
    for s in states:
        s["outputs"]["static"] = calc(s["outputs"]["static"])
    best = best_placements(states)
    assert [(s["mode"], s["outputs"]["static"]["energy"]) for s in best] == [
        ("top1", -2.0),
        ("bridge", -0.5),
    ]


def _run(tmp_path, **knobs):
    store = make_store(ArscSettings(project=tmp_path / "proj"))
    maker = DacAdsorptionFlow(
        engine="fake",
        prerelax_engine="fake",
        min_image=5.0,
        intermediates=("OH",),
        placement_grid=GRID,
        **knobs,
    )
    flow = maker.make([SITE])
    run_locally(flow, store=store, log=False, root_dir=tmp_path)
    store.connect()
    return store, flow


def _jobs(store, **meta):
    query = {f"metadata.{k}": v for k, v in meta.items()}
    return list(store.query(query, properties=["name", "index", "metadata", "output"]))


@pytest.mark.parametrize(("protocol", "screen_step"), [("full", "prerelax"), ("sp", "relax")])
def test_a_flow_with_placements_screens_every_start_and_computes_the_k_lowest(
    tmp_path, protocol, screen_step
) -> None:
    store, _ = _run(tmp_path, placements=2, protocol=protocol, modes=("top1", "bridge"))
    starts = placements(Site.from_id(SITE), "OH", ("top1", "bridge"), GRID, min_image=5.0)
    screens = [j for j in _jobs(store, role="mlip", step=screen_step) if j["output"]]
    labels = sorted(j["metadata"]["placement"] for j in screens if "placement" in j["metadata"])
    assert labels == sorted(p.label for p in starts)
    assert any(j["output"]["adsorbate"] == "bare" for j in screens)  # the bare site: no search
    searches = [j for j in _jobs(store, arsc_doc="placements") if j["index"] == 1]
    assert len(searches) == 1
    search = PlacementDoc.model_validate(
        {k: v for k, v in searches[0]["output"].items() if k[0] != "@"}
    )
    assert len(search.end_points) == len(starts) and len(search.selected) == 2
    # the two kept placements, and only they, got DFT single points
    statics = _jobs(store, role="dft", step="static")
    adsorbed = {
        j["output"]["structure"]["properties"]["placement"]
        for j in statics
        if j["output"] and j["output"].get("adsorbate") == "OH"
    }
    assert adsorbed == {e.placement for e in search.selected}
    relaxes = [j for j in _jobs(store, role="dft", step="relax") if j["output"]]
    assert bool(relaxes) == (protocol == "full")
    # the summary reads the kept placements: one OH state per mode they are in
    raw = store.query_one({"metadata.arsc_doc": "site"}, ["output"])["output"]
    site = SiteDoc.model_validate({k: v for k, v in raw.items() if k[0] != "@"})
    modes = {e.mode for e in search.selected}
    assert {s.mode for s in site.states if s.adsorbate == "OH"} == modes
    assert all(s.status == "ok" for s in site.states)
    assert site.dg.get("OH") is not None


def test_placements_need_an_mlip_screening_step(tmp_path) -> None:
    from arsc.errors import ArscInputError

    with pytest.raises(ArscInputError, match="placements are screened with the MLIP"):
        DacAdsorptionFlow(engine="fake", prerelax=False, placements=2, min_image=5.0).make([SITE])
