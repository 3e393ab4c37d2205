"""A relaxation with an ASE optimiser that climbs the failure ladder: its knobs, loop and folder.

:class:`RelaxSettings` declares the knobs (fmax, steps, optimizer, maxstep)
once, for every in-process relax Maker (GPAW, MLIP), which inherits them as
its own dataclass fields; :func:`relax_with_ladder` runs the relaxation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, get_type_hints

import numpy as np
from ase import Atoms
from ase.optimize import BFGS

from arsc.errors import ArscInputError
from workflows.engines.atoms import max_force
from workflows.engines.base import load_data
from workflows.engines.optimizers import get_optimizer
from workflows.engines.recovery import Ladder, RecoverableError, run_ladder
from workflows.engines.trajectory import FrameWriter, Resumed
from workflows.schemas import Convergence

#: Attach a calculator built from an attempt's parameters to the atoms.
Attach = Callable[[Atoms, Mapping[str, Any]], None]
#: Map an engine's exception to a recoverable one (None: not recoverable, re-raise).
Translate = Callable[[Exception], RecoverableError | None]


def _no_translation(exc: Exception) -> RecoverableError | None:
    return None


class _EngineDefault:
    """A relax knob not given: the engine's default takes its place when the Maker is made."""

    def __repr__(self) -> str:
        return "<engine default>"


#: Default of every :class:`RelaxSettings` knob: replaced by the engine's value on creation.
ENGINE_DEFAULT: Any = _EngineDefault()


@dataclass
class RelaxSettings:
    """The knobs of a relaxation with an ASE optimiser, shared by the in-process relax Makers.

    :class:`~workflows.engines.gpaw.GpawRelaxMaker` and
    :class:`~workflows.engines.mlip.MlipRelaxMaker` inherit these fields as
    their own knobs (``GpawRelaxMaker(fmax=0.03)``). A knob not given takes
    the engine's default: the ``relax`` section, with its reason, of the data
    file named by :attr:`relax_defaults` (``gpaw_presets.yaml``,
    ``mlip_models.yaml``). All four enter the calculation's settings, and so
    its fingerprint; ``optimizer`` and ``maxstep`` are where each attempt
    starts, which the ``optimizer`` rungs of the failure ladder change.

    Attributes
    ----------
    fmax
        Force criterion, eV/Angstrom: converged when the largest force on an
        atom is at most this.
    steps
        Most optimiser steps per attempt, count.
    optimizer
        ASE optimiser: ``BFGS``, ``FIRE`` or ``PreconLBFGS`` (Exp
        preconditioner; :data:`workflows.engines.optimizers.OPTIMIZERS`).
    maxstep
        Largest atomic displacement per step, Angstrom.

    Raises
    ------
    ArscInputError
        On creation: a knob out of range or an unknown optimiser, in one line.
    """

    fmax: float = ENGINE_DEFAULT
    steps: int = ENGINE_DEFAULT
    optimizer: str = ENGINE_DEFAULT
    maxstep: float = ENGINE_DEFAULT

    #: File of ``workflows/data`` whose ``relax`` section holds the engine's defaults.
    relax_defaults: ClassVar[str | None] = None

    def __post_init__(self) -> None:
        knobs = [f.name for f in fields(RelaxSettings)]
        unset = [name for name in knobs if getattr(self, name) is ENGINE_DEFAULT]
        if unset and self.relax_defaults is None:
            raise ArscInputError(
                f"{type(self).__name__}: give {', '.join(unset)} (no engine defaults here)"
            )
        if unset:
            defaults = load_data(str(self.relax_defaults))["relax"]
            types = get_type_hints(RelaxSettings)
            for name in unset:
                setattr(self, name, types[name](defaults[name]))
        self._check()

    def _check(self) -> None:
        name = type(self).__name__
        for knob, unit in (("fmax", "eV/Angstrom"), ("maxstep", "Angstrom")):
            value = getattr(self, knob)
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if not (number and math.isfinite(value) and value > 0):
                raise ArscInputError(f"{name}: {knob} must be > 0 {unit} (got {value!r})")
        if not isinstance(self.steps, int) or isinstance(self.steps, bool) or self.steps < 0:
            raise ArscInputError(f"{name}: steps must be a whole number >= 0 (got {self.steps!r})")
        get_optimizer(self.optimizer)

    def optimizer_params(self) -> dict[str, Any]:
        """Return where an attempt starts, as its parameters: ``optimizer`` and ``maxstep``."""
        return {"optimizer": self.optimizer, "maxstep": self.maxstep}

    def relax_knobs(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Return the knobs as a calculation's settings record them, with an attempt's parameters.

        ``params`` are the attempt's (after ladder changes): its ``optimizer``
        and ``maxstep`` are recorded, with this relaxation's ``fmax`` and ``steps``.
        """
        return {
            "fmax": self.fmax,
            "steps": self.steps,
            "optimizer": params["optimizer"],
            "maxstep": params["maxstep"],
        }


@dataclass
class RelaxResult:
    """Outcome of :func:`relax_with_ladder`."""

    convergence: Convergence
    error: str | None
    params: dict[str, Any]


def optimizer_failure(exc: Exception) -> RecoverableError | None:
    """Return an ASE optimiser's own failure as a recoverable one (ladder ``optimizer``).

    ASE's line searches give up with a RuntimeError ("Armijo linesearch failed
    after reset of Hessian", "Wolff lineSearch failed!") when the energy
    changes of a step fall below the SCF's noise, typically close to fmax; a
    smaller trust radius or FIRE (no line search) goes on from there.
    """
    if isinstance(exc, RuntimeError) and "linesearch failed" in str(exc).lower():
        return RecoverableError("optimizer", f"line search failed ({exc})")
    return None


def relax_with_ladder(
    atoms: Atoms,
    *,
    params: Mapping[str, Any],
    ladder: Ladder,
    attach: Attach,
    fmax: float,
    steps: int,
    folder: Path,
    translate: Translate = _no_translation,
    initial_hessian: np.ndarray | None = None,
    steps_before: int = 0,
) -> RelaxResult:
    """Relax ``atoms`` in place with an ASE optimiser, climbing the failure ladder.

    Every attempt attaches a calculator for its parameters (``params`` plus
    the ladder's changes so far; ``optimizer`` and ``maxstep`` are read from
    them), continues from the current geometry, and appends to
    ``folder/relax.traj``. An attempt that has not reached ``fmax`` within
    ``steps`` steps, or whose line search gave up (:func:`optimizer_failure`),
    fails with kind ``optimizer``; engine errors become recoverable through
    ``translate``. ``initial_hessian`` (3N x 3N, eV/A^2;
    :mod:`workflows.engines.hessian`) replaces BFGS's ``alpha * I`` start in
    the first attempt; other optimisers and later attempts ignore it.
    ``steps_before`` (the steps of an earlier, killed run of the same
    calculation, :func:`resume_from_trajectory`) is added to the recorded
    step count; ``steps`` caps each attempt's new steps.

    Returns
    -------
    RelaxResult
        Convergence record (steps summed over attempts, retries), the error
        of the last attempt if all failed, and the parameters of the last attempt.
    """
    total = 0
    energies: list[float] = []
    last_fmax: list[float] = []

    def attempt(p: dict[str, Any]) -> bool:
        nonlocal total
        attach(atoms, p)
        opt = get_optimizer(p["optimizer"])(
            atoms,
            logfile=str(folder / "opt.log"),
            maxstep=p["maxstep"],
        )
        opt.attach(FrameWriter(atoms, folder / "relax.traj"))
        if initial_hessian is not None and isinstance(opt, BFGS) and total == 0:
            opt.H0 = np.array(initial_hessian, dtype=float)
        opt.attach(lambda: energies.append(float(atoms.get_potential_energy())))
        try:
            converged = bool(opt.run(fmax=fmax, steps=steps))
        except Exception as exc:
            translated = translate(exc) or optimizer_failure(exc)
            if translated is None:
                raise
            raise translated from exc
        finally:
            total += int(opt.nsteps)
        last_fmax.append(max_force(atoms))
        if not converged:
            raise RecoverableError(
                "optimizer",
                f"relaxation not converged: fmax {last_fmax[-1]:.3f} > {fmax} eV/A "
                f"after {total} steps",
            )
        return True

    result = run_ladder(attempt, params, ladder)
    convergence = Convergence(
        converged=result.error is None,
        ionic_steps=steps_before + total,
        scf_iterations=None,
        fmax=last_fmax[-1] if last_fmax else None,
        fmax_target=fmax,
        last_energy_change=energies[-1] - energies[-2] if len(energies) > 1 else None,
        retries=result.retries,
    )
    return RelaxResult(convergence, result.error, result.params)


def finished_relax(resumed: Resumed, fmax: float, params: Mapping[str, Any]) -> RelaxResult:
    """RelaxResult of a relaxation found finished in its trajectory (nothing run now).

    ``params`` are recorded as the settings; ladder changes an earlier
    attempt may have made before the kill are not known.
    """
    convergence = Convergence(
        converged=True,
        ionic_steps=resumed.steps,
        scf_iterations=None,
        fmax=resumed.fmax,
        fmax_target=fmax,
        last_energy_change=resumed.last_energy_change,
    )
    return RelaxResult(convergence, None, dict(params))


def work_dir(scratch_dir: str | None, engine: str, task: str, fingerprint: str) -> Path:
    """Folder for a calculation's files; named by its key so that a re-run finds them."""
    path = Path(scratch_dir or ".") / f"{engine}-{task}-{fingerprint[:12]}"
    path.mkdir(parents=True, exist_ok=True)
    return path
