"""The potential learns from the campaign: weights records, refits between rounds, missing weights.

Real CHGNet throughout: a 2-epoch refit on the 6 GPAW frames of
tests/data/gpaw-frames, and a copy of the installed chgnet package without
its weights file for the "no weights installed" case.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import DATA, ROOT

pytest.importorskip("chgnet", reason="the MLIP extra (scripts/install.sh installs it)")

from workflows.campaign.definition import DftSpec
from workflows.fingerprint import file_sha256
from workflows.flows import DacAdsorptionFlow
from workflows.tuning import TUNED_FOLDER, tune_between_rounds, weights_record

TRAJ = DATA / "gpaw-frames" / "fe-co_qv-n6_relax.traj"
SITE = "Fe-Co_qv-n6_graphene"


def test_the_packaged_weights_are_recorded_by_file_and_sha256() -> None:
    record = weights_record("chgnet")
    assert record.weights == "0.3.0" and Path(record.file).is_file()
    assert record.sha256 == file_sha256(record.file)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project whose runs hold one GPAW relaxation (the 6 frames of the test data)."""
    root = tmp_path_factory.mktemp("campaign")
    folder = root / "runs" / "gpaw-relax-0123456789ab"
    folder.mkdir(parents=True)
    shutil.copy(TRAJ, folder / "relax.traj")
    return root


@pytest.fixture(scope="module")
def tuned(project):
    from workflows.engines.finetune import ChgnetFinetune

    return tune_between_rounds(project, ChgnetFinetune(epochs=2))


def test_between_rounds_chgnet_is_refitted_on_the_projects_frames_once(project, tuned) -> None:
    assert tuned is not None and not tuned.reused
    assert tuned.frames == 6 and tuned.trajectories == [str(next(project.glob("runs/*/*.traj")))]
    assert Path(tuned.weights_file).parent.parent == project / TUNED_FOLDER
    assert tuned.sha256 == file_sha256(tuned.weights_file)
    again = tune_between_rounds(project)  # same frames: the model is found, not refitted
    assert again is not None and again.reused
    assert (again.weights_file, again.sha256) == (tuned.weights_file, tuned.sha256)


def test_a_project_moved_elsewhere_reuses_its_tuned_model_where_it_now_lies(
    project, tuned, tmp_path
) -> None:
    """A cloned project (the committed protocol benchmark) finds its model, not the old path."""
    moved = tmp_path / "clone"
    shutil.copytree(project, moved)
    again = tune_between_rounds(moved)
    assert again is not None and again.reused and again.sha256 == tuned.sha256
    assert Path(again.weights_file).is_relative_to(moved / TUNED_FOLDER)
    assert file_sha256(again.weights_file) == tuned.sha256


def test_a_project_without_frames_keeps_the_packaged_weights(tmp_path) -> None:
    assert tune_between_rounds(tmp_path) is None
    assert DftSpec(protocol="sp-tuned").flow_options("orr").protocol == "sp"


def test_the_next_round_relaxes_with_the_tuned_model_and_records_it(tuned) -> None:
    spec = DftSpec(protocol="sp-tuned", engine="mlip", min_image=5.0)
    maker = DacAdsorptionFlow.from_options(spec.flow_options("orr", weights=tuned.weights_file))
    _, relax, _ = maker.makers()
    assert relax.weights_file == tuned.weights_file
    # the weights' SHA-256 is in the relaxation's settings, so in every geometry's key
    assert f"fine-tuned sha256:{tuned.sha256[:16]}" in relax.settings()["version"]
    flow = maker.make([SITE])
    gas = [j for j in flow.jobs if j.name.startswith("gas ")]
    site = [j for j in flow.jobs if not j.name.startswith("gas ")]
    assert gas and site
    assert {j.metadata["mlip_weights"]["sha256"] for j in site} == {tuned.sha256}
    assert {j.metadata["protocol"] for j in flow.jobs} == {"sp-tuned"}
    # gas references relax with the packaged weights in every round: computed once
    packaged = weights_record("chgnet").sha256
    assert {j.metadata["mlip_weights"]["sha256"] for j in gas} == {packaged}
    gas_relax = [j for j in gas if j.name.endswith("relax")]
    assert gas_relax and all(j.maker.weights_file is None for j in gas_relax)


def test_an_mlip_run_without_weights_installed_is_a_one_line_error(tmp_path) -> None:
    """The installed chgnet package, copied without its weights, shadows the real one."""
    import chgnet

    copy = tmp_path / "site" / "chgnet"
    shutil.copytree(Path(chgnet.__file__).parent, copy)
    for weights in copy.glob("pretrained/*/*.pth.tar"):
        weights.unlink()
    env = {**os.environ, "PYTHONPATH": f"{copy.parent}{os.pathsep}{ROOT}", "COLUMNS": "200"}
    args = ["run", SITE, "--engine", "mlip", "--project", str(tmp_path / "p"), "--no-progress"]
    out = subprocess.run(
        [sys.executable, "-m", "workflows.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "weights 0.3.0 are not installed" in lines[0]
    assert "pip install --force-reinstall 'chgnet==0.4.2'" in lines[0]
    assert "Traceback" not in out.stderr
