"""The base Maker of the engines that run in-process through ASE (MLIP, GPAW), and its CalcDoc.

An ASE engine job is: turn the input into :class:`ase.Atoms`, key it with
:func:`workflows.fingerprint.calc_fingerprint`, and, unless the store
already holds that key, attach a calculator, run a single point or an ASE
optimiser (:mod:`workflows.engines.relax`, with a trajectory file to resume
from after a kill), walk the failure ladder (:mod:`workflows.engines.recovery`)
when an attempt fails, and summarise into a :class:`workflows.schemas.CalcDoc`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar, cast

from ase import Atoms
from jobflow import Job, Maker, job
from pymatgen.io.ase import MSONAtoms

from workflows.cache import EXPOSE_STORE, cached_calc, wait_for_calc
from workflows.engines.atoms import as_atoms
from workflows.engines.claim import claim
from workflows.engines.relax import RelaxResult, work_dir
from workflows.fingerprint import calc_fingerprint, settings_hash
from workflows.schemas import CalcDoc, Convergence


def build_calc_doc(
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


_NO_FOLDER = object()  # a Maker without ``scratch_dir`` writes no calculation folder


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

        return build_calc_doc(
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
        return cached_calc(fp, lambda: self.compute_claimed(atoms, fp))

    def compute_claimed(self, atoms: Atoms, fingerprint: str) -> CalcDoc:
        """:meth:`compute`, holding the calculation's folder (Makers with a ``scratch_dir``).

        A process that had to wait for another one computing the same
        calculation first looks for that one's document (it reaches the store
        moments after the folder is released) and computes only if none
        comes: a relaxation then resumes from the finished trajectory.
        """
        scratch = getattr(self, "scratch_dir", _NO_FOLDER)
        if scratch is _NO_FOLDER:  # no folder: nothing to collide in
            return self.compute(atoms, fingerprint)
        folder = work_dir(cast("str | None", scratch), self.engine, self.task, fingerprint)
        with claim(folder) as waited:
            found = wait_for_calc(fingerprint) if waited else None
            return found if found is not None else self.compute(atoms, fingerprint)

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
