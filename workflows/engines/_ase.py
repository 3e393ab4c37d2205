"""Shared pieces of the engines that run in-process through ASE (MLIP, GPAW).

An ASE engine job is: turn the input into :class:`ase.Atoms`, key it with
:func:`workflows.fingerprint.calc_fingerprint`, and, unless the store
already holds that key, attach a calculator, run a single point or an ASE
optimiser (with a trajectory file to resume from after a kill), walk the
failure ladder when an attempt fails, and summarise into a
:class:`workflows.schemas.CalcDoc`.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from itertools import pairwise
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
from ase import Atoms
from ase.io import Trajectory
from ase.optimize import BFGS, FIRE
from ase.optimize.optimize import Optimizer
from ase.optimize.precon import Exp, PreconLBFGS
from jobflow import Job, Maker, job
from pymatgen.io.ase import MSONAtoms

from arsc.errors import ArscInputError, unknown
from workflows.cache import EXPOSE_STORE, cached_calc
from workflows.fingerprint import calc_fingerprint, settings_hash
from workflows.schemas import CalcDoc, Convergence

LOG = logging.getLogger(__name__)


class PreconLBFGSExp(PreconLBFGS):
    """ASE's preconditioned LBFGS with the Exp preconditioner (Packwood et al. 2016).

    The preconditioner is built from the bond network (``A = 3``, ASE's
    default), so soft and stiff modes get steps of the right size from the
    first step; each step may take more than one force call (the Armijo line
    search, and the estimate of the preconditioner's energy scale).
    """

    def __init__(self, atoms: Atoms, **kwargs: Any) -> None:
        super().__init__(atoms, precon=Exp(A=3), use_armijo=True, **kwargs)

    def step(self, forces: np.ndarray | None = None) -> None:
        """One step; a flat sheet's "Cell length L[2] == 0" note from the mu estimate is dropped.

        ASE estimates the preconditioner's energy scale from a sine
        displacement along each direction the atoms span and warns when they
        span none (all atoms in one plane: a bare 2-D site); that direction
        is then left out, which is right for a flat sheet.
        """
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Cell length L\[\d\] == 0")
            super().step(forces)


#: ASE optimisers by name.
OPTIMIZERS: dict[str, type[Optimizer]] = {
    "BFGS": BFGS,
    "FIRE": FIRE,
    "PreconLBFGS": PreconLBFGSExp,
}

T = TypeVar("T")


@cache
def load_data(name: str) -> dict[str, Any]:
    """Read a YAML file of ``workflows/data`` (cached)."""
    import yaml

    return dict(yaml.safe_load(files("workflows.data").joinpath(name).read_text()))


def get_optimizer(name: str) -> type[Optimizer]:
    """Return an ASE optimiser class by name; raises ArscInputError naming the allowed ones."""
    if name not in OPTIMIZERS:
        raise unknown("optimizer", name, OPTIMIZERS)
    return OPTIMIZERS[name]


def as_atoms(obj: Any) -> Atoms:
    """Return a fresh :class:`ase.Atoms` from Atoms, a CalcDoc, or a CalcDoc/Structure dict.

    Tags, initial magnetic moments and ``info`` (site id, motif, adsorbate,
    mode) are kept, so the output of one engine job can feed the next.
    """
    if isinstance(obj, Atoms):
        atoms = Atoms(obj)  # plain Atoms, no calculator
        atoms.info = dict(obj.info)
        return atoms
    if isinstance(obj, CalcDoc):
        return obj.final_atoms()
    if isinstance(obj, Mapping):
        if "structure" in obj and "fingerprint" in obj:
            return as_atoms(obj["structure"])
        from pymatgen.core import Structure
        from pymatgen.io.ase import AseAtomsAdaptor

        return AseAtomsAdaptor.get_atoms(Structure.from_dict(dict(obj)))
    raise ArscInputError(
        f"cannot make a structure from a {type(obj).__name__}; "
        "allowed: ase.Atoms, CalcDoc, CalcDoc or pymatgen Structure dict"
    )


def max_force(atoms: Atoms) -> float:
    """Largest force on an atom, eV/Angstrom (atoms need a calculator)."""
    forces = atoms.get_forces()
    return float(np.sqrt((forces**2).sum(axis=1)).max())


class RecoverableError(Exception):
    """An attempt failed in a way the failure ladder knows how to treat.

    Attributes
    ----------
    kind
        Key of the ladder to use: ``scf`` or ``optimizer``.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class RecoveryStep:
    """One rung of a failure ladder.

    Attributes
    ----------
    label
        Short record for ``Convergence.retries`` (e.g. ``"mixing 0.02"``).
    changes
        Parameters replaced for this and every later attempt.
    reason
        Why this step helps (documentation).
    """

    label: str
    changes: Mapping[str, Any]
    reason: str = ""


Ladder = Mapping[str, Sequence[RecoveryStep]]


def parse_ladder(data: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, list[RecoveryStep]]:
    """Build a ladder from its data form (``{kind: [{label, set, reason}, ...]}``)."""
    return {
        kind: [
            RecoveryStep(str(s["label"]), dict(s["set"]), str(s.get("reason", ""))) for s in steps
        ]
        for kind, steps in data.items()
    }


@dataclass
class LadderResult:
    """What :func:`run_ladder` ended with."""

    value: Any
    params: dict[str, Any]
    retries: list[str]
    error: str | None


def run_ladder(
    attempt: Callable[[dict[str, Any]], T], params: Mapping[str, Any], ladder: Ladder
) -> LadderResult:
    """Run ``attempt(params)``; on a :class:`RecoverableError` climb its kind's ladder.

    Each step's changes apply on top of the previous ones. When the ladder of
    the failing kind is exhausted (or has no steps), the result carries the
    error (one line) and ``value`` None.

    Returns
    -------
    LadderResult
        The attempt's value (or None), the parameters of the last attempt, the
        labels of the steps applied, and the error of the last attempt if it failed.
    """
    current = dict(params)
    queues = {kind: list(steps) for kind, steps in ladder.items()}
    retries: list[str] = []
    while True:
        try:
            return LadderResult(attempt(current), current, retries, None)
        except RecoverableError as exc:
            queue = queues.get(exc.kind, [])
            if not queue:
                tried = f"; tried {', '.join(retries)}" if retries else ""
                return LadderResult(None, current, retries, f"{exc}{tried}")
            step = queue.pop(0)
            LOG.warning("%s; retrying with %s", exc, step.label)
            current.update(step.changes)
            retries.append(step.label)


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


def _frames(path: Path) -> list[Atoms]:
    if not path.exists() or path.stat().st_size == 0:
        return []
    try:
        with Trajectory(str(path)) as traj:
            return [traj[i] for i in range(len(traj))]
    except Exception:  # a file cut by a kill: start afresh
        LOG.warning("unreadable trajectory %s; starting from the input structure", path)
        return []


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
    frames = _frames(path)
    if not frames or list(frames[-1].numbers) != list(atoms.numbers):
        return Resumed()
    last = frames[-1]
    steps = sum(not np.allclose(a.positions, b.positions) for a, b in pairwise(frames))
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


#: File name of a single point's frame (structure, energy, forces) in its folder.
STATIC_FRAME = "static.traj"


def write_frame(atoms: Atoms, path: Path) -> None:
    """Write ``atoms`` with its calculator's results as a one-frame ASE trajectory."""
    with Trajectory(str(path), "w") as traj:
        traj.write(atoms)


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


def calc_doc(
    *,
    fingerprint: str,
    engine: str,
    task: str,
    atoms: Atoms,
    settings: Mapping[str, Any],
    convergence: Convergence,
    error: str | None = None,
    **fields: Any,
) -> CalcDoc:
    """Summarise a finished (or failed) calculation into a CalcDoc.

    ``atoms`` is the final structure (its calculator, if any, is ignored);
    ``fields`` are further CalcDoc fields (energy, magmoms, dband, ...).
    """
    from pymatgen.io.ase import AseAtomsAdaptor

    plain = as_atoms(atoms)
    info = plain.info
    return CalcDoc(
        fingerprint=fingerprint,
        engine=engine,
        task=task,  # type: ignore[arg-type]
        status="failed" if error else "ok",
        error=error,
        site_id=info.get("site_id"),
        adsorbate=info.get("adsorbate", "bare"),
        mode=info.get("mode"),
        formula=plain.get_chemical_formula(),
        natoms=len(plain),
        structure=AseAtomsAdaptor.get_structure(plain).as_dict(),
        convergence=convergence,
        settings=dict(settings),
        settings_hash=settings_hash(settings),
        **fields,
    )


class AseCalcMaker(Maker):
    """Base of the in-process engine Makers: fingerprint, cache, one job decorator.

    Subclasses are dataclasses that set :attr:`engine` and :attr:`task`, and
    implement :meth:`settings` (everything that changes the result) and
    :meth:`compute`. ``make(atoms)`` returns a jobflow Job whose output is a
    CalcDoc; the job exposes its store (the fingerprint cache) and keeps the
    ``dos`` field in the additional store ``data``.
    """

    engine: ClassVar[str]
    task: ClassVar[str]

    def settings(self) -> dict[str, Any]:
        """Every setting that changes the result (JSON-serialisable)."""
        raise NotImplementedError

    def compute(self, atoms: Atoms, fingerprint: str) -> CalcDoc:
        """Run the calculation (no cache lookup) and return its document."""
        raise NotImplementedError

    def settings_of(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Return the settings of one attempt's parameters (default: :meth:`settings`)."""
        return self.settings()

    def relax_doc(
        self,
        fingerprint: str,
        atoms: Atoms,
        initial: Atoms,
        result: RelaxResult,
        start: float,
        **fields: Any,
    ) -> CalcDoc:
        """Return the CalcDoc of a relaxation run by :func:`relax_with_ladder`.

        ``initial`` is the input structure (anomalies are checked against it),
        ``start`` the ``time.perf_counter()`` at the job's start, ``fields``
        further CalcDoc fields (energy, magmoms, ...).
        """
        from workflows.anomalies import check_anomalies

        return calc_doc(
            fingerprint=fingerprint,
            engine=self.engine,
            task=self.task,
            atoms=atoms,
            settings=self.settings_of(result.params),
            convergence=result.convergence,
            error=result.error,
            anomalies=check_anomalies(initial, atoms),
            wall_time=time.perf_counter() - start,
            **fields,
        )

    def fingerprint(self, atoms: Atoms) -> str:
        """Key of the calculation this Maker would run on ``atoms``."""
        return calc_fingerprint(atoms, self.engine, self.task, self.settings())

    def run(self, structure: Any) -> CalcDoc:
        """Run (or look up) the calculation in this process, outside jobflow."""
        atoms = as_atoms(structure)
        fp = self.fingerprint(atoms)
        return cached_calc(fp, lambda: self.compute(atoms, fp))

    def make(self, structure: Any) -> Job:
        """Return a Job computing this calculation on ``structure``.

        Parameters
        ----------
        structure
            ase.Atoms (tags and ``info`` as built by :func:`arsc.structures.build`),
            a CalcDoc of an earlier job (or a reference to its output), or a
            pymatgen Structure dict.
        """
        if isinstance(structure, Atoms) and not isinstance(structure, MSONAtoms):
            structure = MSONAtoms(structure)  # serialisable job input
        return self.calc_job(structure)

    @job(config=EXPOSE_STORE, data="dos")
    def calc_job(self, structure: Any) -> CalcDoc:
        """Run the calculation as the jobflow job behind :meth:`make` (output: CalcDoc)."""
        return self.run(structure)
