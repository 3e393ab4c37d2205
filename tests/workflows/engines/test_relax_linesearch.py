"""An optimiser whose line search gives up is climbed through the ``optimizer`` ladder.

ASE's PreconLBFGS raises ``RuntimeError("Armijo linesearch failed after reset
of Hessian, aborting")`` when a step's energy change falls below the SCF
noise, close to fmax (seen on a GPAW *OH relaxation of the protocol
benchmark, which then left no document at all). Here a BFGS subclass raises
that message on its first step, so no DFT is needed; the real EMT copper
relaxation after the ladder step shows the relaxation goes on.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.optimize import BFGS

from workflows.engines import optimizers
from workflows.engines.recovery import RecoverableError, RecoveryStep
from workflows.engines.relax import optimizer_failure, relax_with_ladder
from workflows.engines.trajectory import trajectory_frames

ARMIJO = "Armijo linesearch failed after reset of Hessian, aborting"


class GivesUp(BFGS):  # type: ignore[misc]
    """BFGS whose first step fails as ASE's PreconLBFGS line search does."""

    def step(self, forces=None) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError(ARMIJO)


class TriesThenGivesUp(BFGS):  # type: ignore[misc]
    """BFGS whose first step moves an atom to a trial point, then fails there.

    As a line search whose trial point's SCF did not converge: the atoms are
    left where no frame was written.
    """

    def step(self, forces=None) -> None:  # type: ignore[no-untyped-def]
        self.optimizable.atoms.positions[0] += TRIAL
        raise RuntimeError(ARMIJO)


TRIAL = (0.05, 0.0, 0.0)


@pytest.fixture
def copper() -> Atoms:
    atoms = bulk("Cu", cubic=True).repeat((2, 1, 1))
    atoms.positions[0] += [0.15, 0.0, 0.05]
    return atoms


@pytest.fixture(autouse=True)
def gives_up(monkeypatch) -> None:
    monkeypatch.setitem(optimizers.OPTIMIZERS, "GivesUp", GivesUp)
    monkeypatch.setitem(optimizers.OPTIMIZERS, "TriesThenGivesUp", TriesThenGivesUp)


def _relax(atoms: Atoms, ladder: dict, folder: Path, optimizer: str = "GivesUp"):  # type: ignore[no-untyped-def]
    def attach(target: Atoms, params: object) -> None:
        target.calc = EMT()

    return relax_with_ladder(
        atoms,
        params={"optimizer": optimizer, "maxstep": 0.2},
        ladder=ladder,
        attach=attach,
        fmax=0.01,
        steps=100,
        folder=folder,
    )


def test_line_search_failures_of_ase_are_recoverable_and_nothing_else_is() -> None:
    for message in (ARMIJO, "Wolff lineSearch failed!"):
        err = optimizer_failure(RuntimeError(message))
        assert isinstance(err, RecoverableError) and err.kind == "optimizer"
        assert message in str(err)
    assert optimizer_failure(RuntimeError("something else")) is None
    assert optimizer_failure(ValueError(ARMIJO)) is None


def test_a_given_up_line_search_climbs_the_ladder_and_the_relaxation_converges(
    copper, tmp_path
) -> None:
    ladder = {"optimizer": [RecoveryStep("optimizer BFGS", {"optimizer": "BFGS"})]}
    result = _relax(copper, ladder, tmp_path)
    assert result.error is None and result.convergence.converged
    assert result.convergence.retries == ["optimizer BFGS"]
    assert result.params["optimizer"] == "BFGS"


def test_without_a_ladder_step_left_it_is_a_failed_result_not_an_exception(
    copper, tmp_path
) -> None:
    result = _relax(copper, {}, tmp_path)
    assert not result.convergence.converged
    assert result.error == f"line search failed ({ARMIJO})"


def test_a_retry_from_where_the_failed_attempt_stopped_writes_its_first_frame(
    copper, tmp_path
) -> None:
    """The retry's start (the trial point) is evaluated, so it is a frame of relax.traj.

    ASE's optimisers skip their first frame when appending to a non-empty
    trajectory; the retry's first DFT evaluation was lost and a kill resumed
    from the frame before it.
    """
    start = copper.positions.copy()
    ladder = {"optimizer": [RecoveryStep("optimizer BFGS", {"optimizer": "BFGS"})]}
    result = _relax(copper, ladder, tmp_path, optimizer="TriesThenGivesUp")
    assert result.convergence.converged and result.convergence.retries == ["optimizer BFGS"]
    frames = trajectory_frames(tmp_path / "relax.traj")
    trial = start.copy()
    trial[0] += TRIAL
    assert np.allclose(frames[0].positions, start)
    assert np.allclose(frames[1].positions, trial)
    assert frames[1].get_potential_energy() == pytest.approx(EMT().get_potential_energy(frames[1]))
    moved = [not np.allclose(a.positions, b.positions) for a, b in pairwise(frames)]
    assert all(moved)  # no frame written twice
