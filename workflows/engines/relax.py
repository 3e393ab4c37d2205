"""A relaxation with an ASE optimiser that climbs the failure ladder, and its work folder."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.optimize import BFGS

from workflows.engines.atoms import max_force
from workflows.engines.optimizers import get_optimizer
from workflows.engines.recovery import Ladder, RecoverableError, run_ladder
from workflows.engines.trajectory import Resumed
from workflows.schemas import Convergence

#: Attach a calculator built from an attempt's parameters to the atoms.
Attach = Callable[[Atoms, Mapping[str, Any]], None]
#: Map an engine's exception to a recoverable one (None: not recoverable, re-raise).
Translate = Callable[[Exception], RecoverableError | None]


def _no_translation(exc: Exception) -> RecoverableError | None:
    return None


@dataclass
class RelaxResult:
    """Outcome of :func:`relax_with_ladder`."""

    convergence: Convergence
    error: str | None
    params: dict[str, Any]


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
    ``steps`` steps fails with kind ``optimizer``; engine errors become
    recoverable through ``translate``. ``initial_hessian`` (3N x 3N, eV/A^2;
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
            trajectory=str(folder / "relax.traj"),
            append_trajectory=True,
            maxstep=p["maxstep"],
        )
        if initial_hessian is not None and isinstance(opt, BFGS) and total == 0:
            opt.H0 = np.array(initial_hessian, dtype=float)
        opt.attach(lambda: energies.append(float(atoms.get_potential_energy())))
        try:
            converged = bool(opt.run(fmax=fmax, steps=steps))
        except Exception as exc:
            translated = translate(exc)
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
