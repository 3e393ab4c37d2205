"""Relaxations killed part-way resume from their trajectory (workflows.engines.trajectory).

A GPAW relaxation killed after its last step, before its document was
stored, is finished: the re-run takes the stored frame and runs no GPAW at
all (the test makes the GPAW calculator factory raise). A relaxation killed
earlier continues from its last frame and counts the steps it had made.
The trajectories are written by hand with ASE's SinglePointCalculator, the
same container ASE's optimisers write, so no DFT runs here.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import Trajectory

from arsc.space import Site
from arsc.structures import build
from workflows.engines import gpaw as gpaw_engine
from workflows.engines.gpaw import GpawRelaxMaker
from workflows.engines.relax import relax_with_ladder, work_dir
from workflows.engines.trajectory import resume_from_trajectory


def _frame(atoms: Atoms, shift: float, energy: float, force: float) -> Atoms:
    """A copy of ``atoms`` moved by ``shift`` A along x, with stored results."""
    frame = atoms.copy()
    frame.positions[:, 0] += shift
    forces = np.zeros((len(frame), 3))
    forces[0, 2] = force
    magmoms = np.linspace(0.0, 1.0, len(frame))
    frame.calc = SinglePointCalculator(
        frame,
        energy=energy,
        free_energy=energy - 0.01,
        forces=forces,
        magmoms=magmoms,
        magmom=float(magmoms.sum()),
    )
    return frame


def _write(path: Path, frames: list[Atoms]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with Trajectory(str(path), "w") as traj:
        for frame in frames:
            traj.write(frame)


@pytest.fixture
def site() -> Atoms:
    return build(Site.from_id("Fe-Co_qv-n6_graphene"), min_image=9.5)


def test_gpaw_relax_killed_after_its_last_step_runs_no_gpaw_on_rerun(
    site, tmp_path, monkeypatch
) -> None:
    """The converged last frame is the result: energy, moments and geometry from the file."""
    maker = GpawRelaxMaker(scratch_dir=str(tmp_path))
    fp = maker.fingerprint(site)
    folder = work_dir(str(tmp_path), "gpaw", "relax", fp)
    # start, two steps, and the start frame a resumed run repeats: 2 steps in all
    frames = [_frame(site, 0.0, -370.0, 2.0), _frame(site, 0.02, -371.0, 0.4)]
    frames += [frames[-1], _frame(site, 0.03, -371.2, 0.03)]
    _write(folder / "relax.traj", frames)

    def no_gpaw(*args: object, **kwargs: object) -> None:
        raise AssertionError("GPAW was started for a finished relaxation")

    monkeypatch.setattr(gpaw_engine, "make_calculator", no_gpaw)
    doc = maker.run(site)
    assert doc.status == "ok" and doc.convergence.converged
    assert doc.convergence.ionic_steps == 2
    assert doc.convergence.fmax == pytest.approx(0.03)
    assert doc.convergence.last_energy_change == pytest.approx(-0.2)
    assert (doc.energy, doc.free_energy) == (pytest.approx(-371.2), pytest.approx(-371.21))
    assert doc.magmoms == pytest.approx(np.linspace(0.0, 1.0, len(site)).tolist())
    xyz = np.array([s["xyz"] for s in doc.structure["sites"]])
    assert np.allclose(xyz, frames[-1].positions)
    assert doc.site_id == "Fe-Co_qv-n6_graphene" and doc.settings == maker.settings()


def test_last_frame_above_fmax_is_resumed_not_taken(site, tmp_path) -> None:
    """fmax 0.06 against a 0.05 criterion: atoms move to the frame, no results attached."""
    path = tmp_path / "relax.traj"
    _write(path, [_frame(site, 0.0, -370.0, 2.0), _frame(site, 0.05, -371.0, 0.06)])
    atoms = site.copy()
    resumed = resume_from_trajectory(atoms, path, fmax=0.05)
    assert (resumed.steps, resumed.finished) == (1, False)
    assert resumed.fmax == pytest.approx(0.06)
    assert atoms.calc is None
    assert np.allclose(atoms.positions, site.positions + np.array([0.05, 0.0, 0.0]))


def test_without_fmax_a_converged_frame_is_only_a_start(site, tmp_path) -> None:
    path = tmp_path / "relax.traj"
    _write(path, [_frame(site, 0.0, -370.0, 2.0), _frame(site, 0.05, -371.0, 0.01)])
    atoms = site.copy()
    resumed = resume_from_trajectory(atoms, path)
    assert (resumed.steps, resumed.finished, atoms.calc) == (1, False, None)


def test_trajectory_of_another_structure_or_cut_file_starts_afresh(site, tmp_path, caplog) -> None:
    other = tmp_path / "other.traj"
    _write(other, [_frame(bulk("Cu", cubic=True), 0.0, -1.0, 0.0)])
    atoms = site.copy()
    assert resume_from_trajectory(atoms, other, fmax=0.05).steps == 0
    cut = tmp_path / "cut.traj"
    _write(cut, [_frame(site, 0.0, -370.0, 2.0), _frame(site, 0.05, -371.0, 0.01)])
    cut.write_bytes(cut.read_bytes()[:40])  # header only: a file a kill -9 cut short
    with caplog.at_level(logging.WARNING):
        resumed = resume_from_trajectory(atoms, cut, fmax=0.05)
    assert (resumed.steps, resumed.finished) == (0, False)
    assert "unreadable trajectory" in caplog.text
    assert np.allclose(atoms.positions, site.positions)


def test_steps_of_the_killed_run_are_added_to_the_new_ones(tmp_path) -> None:
    """EMT copper with one atom displaced: recorded steps = earlier steps + this run's."""
    atoms = bulk("Cu", cubic=True).repeat((2, 1, 1))
    atoms.positions[0] += [0.15, 0.0, 0.05]

    def attach(target: Atoms, params: object) -> None:
        target.calc = EMT()

    result = relax_with_ladder(
        atoms,
        params={"optimizer": "BFGS", "maxstep": 0.2},
        ladder={},
        attach=attach,
        fmax=0.01,
        steps=100,
        folder=tmp_path,
        steps_before=7,
    )
    new = len(Trajectory(str(tmp_path / "relax.traj"))) - 1
    assert result.convergence.converged and new > 0
    assert result.convergence.ionic_steps == 7 + new
