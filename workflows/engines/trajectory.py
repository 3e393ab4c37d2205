"""ASE trajectories of a calculation: resume a killed relaxation, write a single point's frame."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import Trajectory

from workflows.engines.atoms import max_force

LOG = logging.getLogger(__name__)


@dataclass
class Resumed:
    """What :func:`resume_from_trajectory` found of an earlier, killed run.

    Attributes
    ----------
    steps
        Optimiser steps in the trajectory (frames that moved the atoms; the
        frame an attempt or a resumed run repeats at its start is not a step).
    finished
        The last frame already met the force criterion: ``atoms`` carries its
        stored results (energy, forces, magnetic moments) and needs no new
        calculation.
    fmax
        Largest force of the last frame, eV/A (None when not read).
    last_energy_change
        Energy change of the last step, eV (None with fewer than two frames).
    """

    steps: int = 0
    finished: bool = False
    fmax: float | None = None
    last_energy_change: float | None = None


def trajectory_frames(path: Path) -> list[Atoms]:
    """Return the frames of a trajectory file; [] when missing, empty or cut by a kill."""
    if not path.exists() or path.stat().st_size == 0:
        return []
    try:
        with Trajectory(str(path)) as traj:
            return [traj[i] for i in range(len(traj))]
    except Exception:  # a file cut by a kill: start afresh
        LOG.warning("unreadable trajectory %s; starting from the input structure", path)
        return []


def moved_frames(frames: list[Atoms]) -> list[Atoms]:
    """Return the first frame and every frame that moved the atoms from the one before.

    A frame an attempt or a resumed run repeats at its start is dropped: the
    frames returned less one are the optimiser steps.
    """
    return [
        f
        for i, f in enumerate(frames)
        if i == 0 or not np.allclose(f.positions, frames[i - 1].positions)
    ]


def resume_from_trajectory(atoms: Atoms, path: Path, fmax: float | None = None) -> Resumed:
    """Move ``atoms`` to the last frame of a trajectory left by an earlier, killed run.

    With ``fmax``, a last frame whose stored forces already meet it is a
    finished relaxation (the run was killed after its last step, before its
    result was stored): its stored results are attached to ``atoms`` so that
    nothing is computed again, not even that frame (a fresh evaluation of a
    converged frame can land just above ``fmax`` by SCF noise and cost
    further steps).

    Returns
    -------
    Resumed
        Steps found and whether the relaxation had finished (``Resumed()``
        when there is no usable trajectory).
    """
    frames = trajectory_frames(path)
    if not frames or list(frames[-1].numbers) != list(atoms.numbers):
        return Resumed()
    last = frames[-1]
    steps = len(moved_frames(frames)) - 1
    atoms.set_positions(last.positions)
    atoms.set_cell(last.cell)
    LOG.info("resuming from frame %d of %s", len(frames), path)
    if fmax is None or last.calc is None or "forces" not in last.calc.results:
        return Resumed(steps=steps)
    last_fmax = max_force(last)
    if last_fmax >= fmax:
        return Resumed(steps=steps, fmax=last_fmax)
    last.calc.atoms = atoms.copy()  # the stored results belong to atoms as they are now
    atoms.calc = last.calc
    moved = [f for f in frames[:-1] if not np.allclose(f.positions, last.positions)]
    de = last.get_potential_energy() - moved[-1].get_potential_energy() if moved else None
    return Resumed(steps=steps, finished=True, fmax=last_fmax, last_energy_change=de)


class FrameWriter:
    """Optimiser observer that appends every evaluated frame to a trajectory file.

    ASE's optimisers skip their first frame when the trajectory they append
    to is not empty (a restart would repeat its last frame). A ladder retry,
    though, starts where the failed attempt stopped, often a line-search trial
    point that was never written, and its first frame, a full DFT evaluation,
    was lost: a kill then resumed from an older frame. This writer is
    attached as a plain observer (ASE calls it at the start of every run) and
    skips only a frame at the positions of the file's last one. Each frame is
    written by opening and closing the file, so a kill loses at most the frame
    being written.
    """

    def __init__(self, atoms: Atoms, path: Path) -> None:
        self.atoms = atoms
        self.path = path
        frames = trajectory_frames(path)
        self.last = frames[-1].positions.copy() if frames else None

    def __call__(self) -> None:
        """Append the current frame unless it repeats the last one written."""
        pos = self.atoms.positions
        if self.last is not None and self.last.shape == pos.shape and np.allclose(self.last, pos):
            return
        with Trajectory(str(self.path), "a") as traj:
            traj.write(self.atoms)
        self.last = pos.copy()


#: File name of a single point's frame (structure, energy, forces) in its folder.
STATIC_FRAME = "static.traj"


def write_frame(atoms: Atoms, path: Path) -> None:
    """Write ``atoms`` with its calculator's results as a one-frame ASE trajectory."""
    with Trajectory(str(path), "w") as traj:
        traj.write(atoms)
