"""CHGNet fine-tuning on GPAW frames: real CHGNet, real GPAW frames (tests/data/gpaw-frames)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from arsc.errors import ArscInputError
from tests.paths import DATA

pytest.importorskip("chgnet", reason="MLIP extra not installed: pip install 'arsc-dac[mlip]'")

from workflows.engines.finetune import WEIGHTS_NAME, ChgnetFinetune, read_frames
from workflows.engines.mlip import MlipStaticMaker, load_calculator

TRAJ = DATA / "gpaw-frames" / "fe-co_qv-n6_relax.traj"


@pytest.fixture(scope="module")
def frames():
    return read_frames([TRAJ])


@pytest.fixture(scope="module")
def tuned(frames, tmp_path_factory):
    return ChgnetFinetune(epochs=5).run(frames, tmp_path_factory.mktemp("tuned"))


def test_read_frames_keeps_labelled_frames_and_always_the_last(frames) -> None:
    assert len(frames) == 6
    assert all("forces" in a.calc.results for a in frames)
    every_4th = read_frames([TRAJ], every=4)
    # frames 0 and 4 by the stride, and the last one (the minimum) added
    assert len(every_4th) == 3
    assert every_4th[-1].get_potential_energy() == frames[-1].get_potential_energy()


def test_unreadable_or_unlabelled_trajectory_is_a_one_line_error(tmp_path) -> None:
    bad = tmp_path / "relax.traj"
    bad.write_bytes(b"not a trajectory")
    with pytest.raises(ArscInputError, match=r"cannot read trajectory .*relax\.traj") as err:
        read_frames([bad])
    assert "\n" not in str(err.value)
    with pytest.raises(ArscInputError, match="cannot read trajectory"):
        read_frames([tmp_path / "missing.traj"])
    from ase.io import write

    plain = tmp_path / "plain.traj"
    write(plain, read_frames([TRAJ])[0].copy())  # positions only, no calculator
    with pytest.raises(ArscInputError, match="has no frame with energy and forces"):
        read_frames([plain])


def test_too_few_frames_is_refused(frames, tmp_path) -> None:
    with pytest.raises(ArscInputError, match="at least 4 DFT frames, got 3"):
        ChgnetFinetune(epochs=1).run(frames[:3], tmp_path)


def test_tuned_model_fits_held_out_dft_forces_better_and_is_saved(tuned) -> None:
    assert Path(tuned.weights_file).name == WEIGHTS_NAME and Path(tuned.weights_file).is_file()
    assert (tuned.n_frames, tuned.n_validation, tuned.epochs) == (6, 1, 5)
    assert tuned.force_mae_after < tuned.force_mae_before
    # the elemental references were refitted to GPAW's energy zero: tens of meV/atom,
    # not the ~1 eV/atom offset between GPAW and the VASP energies CHGNet was trained on
    assert tuned.energy_mae_after < 0.1


def test_tuned_weights_change_the_forces_and_the_fingerprint_settings(tuned, frames) -> None:
    frame = frames[0]
    base = MlipStaticMaker()
    tuned_maker = MlipStaticMaker(weights_file=tuned.weights_file)
    assert base.settings()["version"].endswith("weights 0.3.0")
    assert "fine-tuned sha256:" in tuned_maker.settings()["version"]
    assert tuned_maker.settings() != base.settings()  # so the two never share a cached result
    dft = frame.get_forces()
    errors = []
    for weights in (None, tuned.weights_file):
        atoms = frame.copy()
        atoms.calc = load_calculator("chgnet", weights)
        errors.append(np.abs(atoms.get_forces() - dft).mean())
    err_base, err_tuned = errors
    assert err_tuned < err_base  # a training frame: the tuned model is closer to GPAW


def test_missing_weights_file_is_a_one_line_error(tmp_path) -> None:
    maker = MlipStaticMaker(weights_file=str(tmp_path / "nope.pth.tar"))
    with pytest.raises(ArscInputError, match=r"MLIP weights file .*nope\.pth\.tar not found"):
        maker.settings()


def test_flow_prerelaxes_with_the_tuned_weights_when_given(tuned) -> None:
    from workflows.flows import DacAdsorptionFlow

    pre, _, _ = DacAdsorptionFlow(engine="mlip", prerelax_weights=tuned.weights_file).makers()
    assert pre is not None and pre.weights_file == tuned.weights_file  # type: ignore[attr-defined]
    plain, _, _ = DacAdsorptionFlow(engine="mlip").makers()
    assert plain is not None and plain.weights_file is None  # type: ignore[attr-defined]
    with pytest.raises(ArscInputError, match="needs an MLIP pre-relaxation engine, not 'gpaw'"):
        DacAdsorptionFlow(
            engine="mlip", prerelax_engine="gpaw", prerelax_weights=tuned.weights_file
        ).makers()


def test_cli_finetune_writes_a_model_the_run_request_records(tmp_path, capsys) -> None:
    from workflows.cli.main import main
    from workflows.executors.local import RunRequest

    out = tmp_path / "model"
    args = ["finetune", "--traj", str(TRAJ), "--epochs", "1", "--output", str(out), "--json"]
    assert main([*args, "--project", str(tmp_path / "proj")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["trajectories"] == [str(TRAJ)] and doc["n_frames"] == 6 and doc["epochs"] == 1
    assert Path(doc["weights_file"]) == out / WEIGHTS_NAME and (out / "train.log").is_file()
    request = RunRequest(
        sites=["Fe-Co_qv-n6_graphene"],
        reactions=["orr"],
        engine="mlip",
        prerelax_weights=doc["weights_file"],
    )
    pre, _, _ = request.maker().makers()
    assert pre is not None and pre.weights_file == doc["weights_file"]  # type: ignore[attr-defined]


def test_cli_finetune_without_trajectories_is_a_one_line_error(tmp_path, capsys) -> None:
    from workflows.cli.main import main

    assert main(["finetune", "--project", str(tmp_path / "proj")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("arsc: error: no GPAW frames of a DAC site under ") and "\n" not in err


def _write_static(path: Path, atoms) -> None:
    from ase.calculators.singlepoint import SinglePointCalculator

    from workflows.engines.trajectory import write_frame

    atoms = atoms.copy()
    forces = np.zeros((len(atoms), 3))
    atoms.calc = SinglePointCalculator(atoms, energy=-1.0, free_energy=-1.0, forces=forces)
    path.parent.mkdir(parents=True)
    write_frame(atoms, path)


def test_cli_finetune_reads_the_projects_relaxations_and_site_single_points(
    frames, tmp_path, capsys
) -> None:
    """The project's relax.traj and static.traj frames are read; a gas molecule's is left out."""
    from ase.build import molecule

    from workflows.cli.main import main

    runs = tmp_path / "proj" / "runs"
    (runs / "gpaw-relax-aaaa").mkdir(parents=True)
    (runs / "gpaw-relax-aaaa" / "relax.traj").write_bytes(TRAJ.read_bytes())
    _write_static(runs / "gpaw-static-bbbb" / "static.traj", frames[-1])
    h2o = molecule("H2O", vacuum=5.0, pbc=True)
    _write_static(runs / "gpaw-static-cccc" / "static.traj", h2o)
    args = ["finetune", "--project", str(tmp_path / "proj"), "--epochs", "1", "--json"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [Path(f).parent.name for f in doc["trajectories"]] == [
        "gpaw-relax-aaaa",
        "gpaw-static-bbbb",
        "gpaw-static-cccc",
    ]
    assert doc["n_frames"] == len(frames) + 1  # six relaxation frames + the site single point


def test_gpaw_relax_names_a_tuned_hessian_by_the_weights_content(tuned, tmp_path) -> None:
    pytest.importorskip("gpaw", reason="GPAW not installed: bash scripts/install.sh")
    from workflows.engines.gpaw import GpawRelaxMaker
    from workflows.fingerprint import file_digest

    plain = GpawRelaxMaker(preset="fast", optimizer="BFGS", hessian="chgnet").settings()
    seeded = GpawRelaxMaker(
        preset="fast", optimizer="BFGS", hessian="chgnet", hessian_weights=tuned.weights_file
    )
    assert "hessian_weights" not in plain
    assert seeded.settings()["hessian_weights"] == file_digest(tuned.weights_file)
    assert len(file_digest(tuned.weights_file)) == 16
    moved = tmp_path / "moved.pth.tar"
    moved.write_bytes(Path(tuned.weights_file).read_bytes())
    # the same weights under another path: same settings, so the same cached result
    assert (
        GpawRelaxMaker(
            preset="fast", optimizer="BFGS", hessian="chgnet", hessian_weights=str(moved)
        ).settings()
        == seeded.settings()
    )
    # a missing weights file is a one-line input error, not a traceback
    with pytest.raises(ArscInputError, match=r"MLIP weights file .*gone\.pth\.tar not found"):
        GpawRelaxMaker(
            preset="fast",
            optimizer="BFGS",
            hessian="chgnet",
            hessian_weights=str(tmp_path / "gone.pth.tar"),
        ).settings()
    # weights without a Hessian model change nothing
    assert GpawRelaxMaker(preset="fast", hessian_weights=str(moved)).settings() == (
        GpawRelaxMaker(preset="fast").settings()
    )


def test_submission_key_names_tuned_prerelax_weights_by_content(tuned, tmp_path) -> None:
    from workflows.executors.local import RunRequest
    from workflows.executors.submission import request_key
    from workflows.fingerprint import file_digest

    site = "Fe-Co_qv-n6_graphene"

    def key(weights: str | None) -> str:
        request = RunRequest(
            sites=[site], reactions=["her"], engine="mlip", prerelax_weights=weights
        )
        return request_key(request, site)

    assert "|prerelax=mlip|" in key(None)
    assert f"|prerelax=mlip+sha256:{file_digest(tuned.weights_file)}|" in key(tuned.weights_file)
    copy = tmp_path / "copy.pth.tar"
    copy.write_bytes(Path(tuned.weights_file).read_bytes())
    assert key(str(copy)) == key(tuned.weights_file)  # the same weights elsewhere: same request
    with pytest.raises(ArscInputError, match=r"MLIP weights file .*gone\.pth\.tar not found"):
        key(str(tmp_path / "gone.pth.tar"))
