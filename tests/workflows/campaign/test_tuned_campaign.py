"""The potential learns from the campaign: a campaign under ``sp-tuned`` (issue 19, item 3).

Real CHGNet relaxes every state and is really refitted (1 epoch) between
rounds; the FAKE engine (tests/workflows/fake_engine.py) stands in for the
DFT single points, as in the other local-executor campaign tests. The FAKE
engine writes no GPAW frames, so the frames the refit learns from are the 6
frames of a real GPAW relaxation (tests/data/gpaw-frames, see its
PROVENANCE.md), placed where the campaign's GPAW jobs leave theirs
(``runs/gpaw-relax-<key>/relax.traj``) after round 0's DFT.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from arsc.errors import ArscInputError
from tests.paths import DATA
from workflows.campaign.backends import _run_site, make_backend
from workflows.campaign.definition import parse_definition
from workflows.campaign.loop import resume_campaign, run_campaign, start_campaign
from workflows.campaign.outcome import state_protocol_line
from workflows.campaign.state import STEPS, load_state
from workflows.fingerprint import file_sha256
from workflows.sqlite_store import SqliteStore

pytest.importorskip("chgnet", reason="the MLIP extra (scripts/install.sh installs it)")

FRAMES = DATA / "gpaw-frames" / "fe-co_qv-n6_relax.traj"
#: Steps of one round up to and including compute, and the rest of the round.
TO_COMPUTE = STEPS.index("compute") + 1
REST = len(STEPS) - TO_COMPUTE


def _definition(executor: str = "local", **dft: object):
    data = {
        "name": "tuned",
        "space": {"metals": ["Fe", "Co"], "motifs": ["qv-n6"]},
        "objective": {"reaction": "her"},
        "dft": {
            "executor": executor,
            "engine": "fake",
            "prerelax_engine": "mlip",
            "protocol": "sp-tuned",
            "modes": ["top1"],
            "min_image": 5.0,
            **dft,
        },
        "acquisition": {"strategy": "ucb", "batch": 1},
        "budget": {"dft_calculations": 40, "rounds": 2},
    }
    return parse_definition(data, "campaign.yaml")


def _tiny_tuner():
    from workflows.engines.finetune import ChgnetFinetune

    return ChgnetFinetune(epochs=1)


def _job_weights(folder: Path, site: str) -> set[str | None]:
    """SHA-256 of the MLIP weights in the metadata of every stored job of a site."""
    store = SqliteStore(str(folder / "store.sqlite"), "jobs", key="uuid")
    store.connect()
    try:
        docs = store.query({"output.site_id": site}, ["metadata"])
        return {(d.get("metadata") or {}).get("mlip_weights", {}).get("sha256") for d in docs}
    finally:
        store.close()


@pytest.fixture(scope="module")
def tuned_run(tmp_path_factory):
    """Round 0, frames appear, refit, then round 1 cut after its DFT and resumed to the end.

    As ``fake_engine_registered`` (tests/workflows/conftest.py), for the whole module.
    """
    mp = pytest.MonkeyPatch()
    from tests.workflows import fake_engine

    mp.setitem(fake_engine.base.ENGINE_MODULES, "fake", fake_engine.__name__)
    mp.setitem(fake_engine.base._REGISTRY, "fake", fake_engine.ENGINE)
    for name in ("FAKE_ENGINE_SLEEP", "FAKE_ENGINE_FAIL"):
        mp.delenv(name, raising=False)
    root = tmp_path_factory.mktemp("tuned")
    counter = root / "count"
    mp.setenv("FAKE_ENGINE_COUNTER", str(counter))
    try:
        folder = root / "campaign"
        c = start_campaign(_definition(), folder, show_progress=False)
        c.backend.tuner = _tiny_tuner()  # type: ignore[attr-defined]
        run_campaign(c, max_steps=TO_COMPUTE)  # round 0 up to its DFT
        frames = folder / "runs" / "gpaw-relax-0123456789ab"
        frames.mkdir(parents=True)
        shutil.copy(FRAMES, frames / "relax.traj")
        run_campaign(c, max_steps=REST + TO_COMPUTE)  # refit (tunes), round 1 up to its DFT
        after_round_1 = c.state.model_copy(deep=True)
        computed = counter.read_text().splitlines()
        # a rerun of round 1's DFT, as after a crash: same weights, nothing recomputed
        rnd = c.state.rounds[1]
        site = rnd.selection.sites[0]  # type: ignore[union-attr]
        weights = c.state.rounds[0].tuning.tuned.weights_file  # type: ignore[union-attr]
        c.backend.compute(rnd.selection.sites, None, weights)  # type: ignore[union-attr]
        # the worker process's path (dft.workers > 1) rebuilds the flow with the weights
        _run_site(str(folder.resolve()), c.definition.dft.model_dump_json(), "her", site, weights)
        rerun = counter.read_text().splitlines()[len(computed) :]
        # resume in a fresh process state: a backend with the default (30-epoch) tuner
        resumed = run_campaign(resume_campaign(folder, show_progress=False))
        yield folder, after_round_1, resumed, rerun
    finally:
        mp.undo()


def test_round_0_runs_the_untuned_protocol_and_says_so(tuned_run) -> None:
    folder, state, _, _ = tuned_run
    first = state.rounds[0]
    assert first.protocol is not None
    assert (first.protocol.requested, first.protocol.name) == ("sp-tuned", "sp")
    assert first.protocol.line == "sp (no frames yet)" and first.protocol.tuning is None
    packaged = first.protocol.weights
    assert packaged is not None and packaged.weights == "0.3.0"
    assert packaged.sha256 == file_sha256(packaged.file)
    site = first.selection.sites[0]
    assert _job_weights(folder, site) == {packaged.sha256}
    assert {r.site_doc["protocol"] for r in first.results} == {"sp"}


def test_after_round_0_chgnet_is_refitted_on_the_campaigns_frames(tuned_run) -> None:
    folder, state, _, _ = tuned_run
    tuning = state.rounds[0].tuning
    assert tuning is not None and tuning.tuned is not None and not tuning.tuned.reused
    tuned = tuning.tuned
    assert tuned.frames == 6 and tuned.trajectories == [
        str(folder.resolve() / "runs" / "gpaw-relax-0123456789ab" / "relax.traj")
    ]
    assert Path(tuned.weights_file).is_file() and tuned.sha256 == file_sha256(tuned.weights_file)
    assert Path(tuned.weights_file).parent.parent == folder.resolve() / "models" / "tuned"
    assert "refitted on 6 DFT frames" in tuning.message


def test_round_1_relaxes_with_the_tuned_weights_and_records_them(tuned_run) -> None:
    folder, state, _, _ = tuned_run
    tuned = state.rounds[0].tuning.tuned
    second = state.rounds[1]
    assert second.protocol is not None and second.protocol.name == "sp-tuned"
    assert second.protocol.line == f"sp-tuned (weights {tuned.sha256[:8]})"
    assert second.protocol.weights.file == tuned.weights_file
    assert second.protocol.weights.sha256 == tuned.sha256
    assert second.protocol.tuning == tuned
    site = second.selection.sites[0]
    # the weights reached the MLIP Maker of every job: its metadata names them
    assert _job_weights(folder, site) == {tuned.sha256}
    assert {r.site_doc["protocol"] for r in second.results} == {"sp-tuned"}
    # the tuned MLIP moved the geometries: new single points, counted against the budget
    assert second.accounting.dft_calculations > 0


def test_rerunning_a_tuned_rounds_dft_recomputes_nothing(tuned_run) -> None:
    """The backend's rerun and the worker processes' path both find every calculation done."""
    _, _, _, rerun = tuned_run
    assert rerun == []


def test_a_resumed_campaign_reuses_the_tuned_weights_without_refitting(tuned_run) -> None:
    folder, before, resumed, _ = tuned_run
    assert resumed.status == "finished"
    tuned = before.rounds[0].tuning.tuned
    assert resumed.rounds[1].protocol == before.rounds[1].protocol  # the round as it ran
    again = resumed.rounds[1].tuning.tuned
    assert again is not None and again.reused  # the frames have not changed: no refit
    assert (again.weights_file, again.sha256) == (tuned.weights_file, tuned.sha256)
    assert [p.name for p in (folder / "models" / "tuned").iterdir()] == [
        Path(tuned.weights_file).parent.name
    ]
    record = json.loads((Path(tuned.weights_file).parent / "tuning.json").read_text())
    assert record == json.loads(tuned.model_dump_json())  # the tuning record is unchanged
    assert load_state(folder).rounds[1].protocol.line.startswith("sp-tuned (weights ")
    # the campaign's accounting and report line name what each round ran
    ran = f"(round 0: sp (no frames yet); round 1: sp-tuned (weights {tuned.sha256[:8]}))"
    assert state_protocol_line(resumed).endswith(ran)


def test_an_untuned_protocol_records_its_rounds_and_tunes_nothing(
    fake_engine_registered, tmp_path
) -> None:
    """sp with the FAKE engine as its relaxer too (no MLIP: nothing to tune or weigh)."""
    definition = _definition(protocol="sp", prerelax_engine="fake")
    c = start_campaign(definition, tmp_path / "sp", show_progress=False)
    state = run_campaign(c, max_steps=len(STEPS))
    first = state.rounds[0]
    assert first.protocol is not None and first.protocol.line == "sp"
    assert first.protocol.weights is None and first.protocol.tuning is None
    assert first.tuning is None and not (tmp_path / "sp" / "models" / "tuned").exists()


def test_the_fireworks_executor_refuses_a_tuned_protocol_in_one_line(tmp_path) -> None:
    definition = _definition("fireworks", engine="mlip")
    with pytest.raises(ArscInputError) as err:
        make_backend(tmp_path, definition, datetime.now(UTC), False)
    text = str(err.value)
    assert "\n" not in text and "dft.protocol sp-tuned" in text
    assert "cannot tune the MLIP between rounds" in text
