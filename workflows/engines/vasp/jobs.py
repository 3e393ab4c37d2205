"""atomate2 VASP Makers for DACs whose jobs return a :class:`workflows.schemas.CalcDoc`.

:class:`VaspRelaxMaker` and :class:`VaspStaticMaker` *are* atomate2's
``RelaxMaker`` / ``StaticMaker`` (subclasses; every atomate2 field works:
``run_vasp_kwargs``, ``write_input_set_kwargs``, ``copy_vasp_kwargs``) with the
DAC input set. Only the job differs: instead of atomate2's TaskDoc it returns
the engine-independent CalcDoc, built by the same parser that reads the stored
reference outputs (:func:`workflows.engines.vasp.parse.calc_doc_from_vasp_dir`).
Subclassing was chosen over "atomate2 job + TaskDoc-to-CalcDoc conversion job"
because then the fingerprint cache is checked *before* VASP starts (a
converter job would run after the expensive job), one job per calculation
matches the other engines, and the parser is exercised on real VASP output
here rather than on a TaskDoc that cannot be built without VASP.

One job: key the calculation (:meth:`fingerprint`); return the stored
document when the job store holds that key (:func:`workflows.cache.cached_calc`);
otherwise write the inputs in ``vasp-<task>-<key[:12]>`` under the working
folder, run VASP under custodian (atomate2's ``run_vasp``: ``VASP_CMD`` and
handlers from atomate2's settings), and parse the folder. A custodian failure
or an unconverged run gives a document with ``status="failed"`` and the reason.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from ase import Atoms
from atomate2.vasp.jobs.core import RelaxMaker, StaticMaker
from atomate2.vasp.sets.base import VaspInputGenerator
from jobflow import Job, job
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor
from pymatgen.io.vasp import VaspInput

from arsc.errors import ArscInputError
from workflows.cache import EXPOSE_STORE, cached_calc
from workflows.engines.vasp.parse import (
    ENGINE,
    calc_doc_from_vasp_dir,
    custodian_retries,
    settings_record,
    structure_dict,
)
from workflows.engines.vasp.sets import (
    DacRelaxSetGenerator,
    DacStaticSetGenerator,
    initial_magmoms,
    to_structure,
)
from workflows.fingerprint import calc_fingerprint, settings_hash
from workflows.schemas import CalcDoc, Convergence

Task = Literal["relax", "static"]

#: Structure properties carried from the input to the document.
LABELS: tuple[str, ...] = ("site_id", "adsorbate", "mode")


def as_structure(obj: Any) -> Structure:
    """Return a Structure from Atoms, a Structure, a CalcDoc or a CalcDoc/Structure dict.

    A CalcDoc gives its final structure with its labels (site id, adsorbate,
    mode) as properties and its final moments, when known, as initial moments.
    """
    if isinstance(obj, Structure | Atoms):
        return to_structure(obj)
    if isinstance(obj, Mapping) and "fingerprint" in obj and "structure" in obj:
        obj = CalcDoc.from_output(obj)
    if isinstance(obj, CalcDoc):
        structure = Structure.from_dict(obj.structure)
        structure.properties.update({k: getattr(obj, k) for k in LABELS})
        if len(obj.magmoms) == len(structure):
            structure.add_site_property("magmom", list(obj.magmoms))
        return structure
    if isinstance(obj, Mapping):
        return Structure.from_dict(dict(obj))
    raise ArscInputError(
        f"cannot make a structure from a {type(obj).__name__}; "
        "allowed: ase.Atoms, pymatgen Structure, CalcDoc or their dicts"
    )


def _potcar_functional(generator: VaspInputGenerator) -> str | None:
    functional = generator.user_potcar_functional or generator.config_dict.get("POTCAR_FUNCTIONAL")
    return None if functional is None else str(functional)


class DacVaspMixin:
    """Job, fingerprint and cache of the DAC VASP Makers (mixed into atomate2 Makers)."""

    task: ClassVar[Task]
    name: str
    input_set_generator: VaspInputGenerator
    write_input_set_kwargs: dict
    copy_vasp_kwargs: dict
    run_vasp_kwargs: dict

    def input_set(self, structure: Any) -> VaspInput:
        """Return the input set this Maker would write for ``structure`` (POTCAR as a spec).

        atomate2's ``VASP_INCAR_UPDATES`` (machine settings from ~/.atomate2.yaml)
        are applied, as when the files are written.
        """
        from atomate2 import SETTINGS

        generator = copy.deepcopy(self.input_set_generator)
        vis = generator.get_input_set(as_structure(structure), potcar_spec=True)
        vis["INCAR"].update(SETTINGS.VASP_INCAR_UPDATES)
        return vis

    def settings(self, structure: Any) -> dict[str, Any]:
        """Return the settings record of the calculation on ``structure`` (see :mod:`.parse`)."""
        vis = self.input_set(structure)
        return settings_record(
            vis["INCAR"],
            vis["POSCAR"].site_symbols,
            vis["KPOINTS"],
            _potcar_functional(self.input_set_generator),
        )

    def fingerprint(self, structure: Any) -> str:
        """Return the key of the calculation this Maker would run on ``structure``."""
        atoms = AseAtomsAdaptor.get_atoms(_with_moments(as_structure(structure)))
        return calc_fingerprint(atoms, ENGINE, self.task, self.settings(structure))

    def make(self, structure: Any, prev_dir: str | Path | None = None) -> Job:
        """Return a Job running this calculation on ``structure`` (output: CalcDoc).

        Parameters
        ----------
        structure
            ase.Atoms (tags and ``info`` as built by :func:`arsc.structures.build`),
            a pymatgen Structure, a CalcDoc of an earlier job or a reference to
            its output.
        prev_dir
            Folder of an earlier VASP run to copy outputs from (atomate2's
            ``copy_vasp_outputs``), e.g. a WAVECAR.
        """
        if isinstance(structure, Atoms):
            structure = to_structure(structure)  # serialisable job input
        return self.calc_job(structure, prev_dir=prev_dir)

    @job(config=EXPOSE_STORE, data="dos")
    def calc_job(self, structure: Any, prev_dir: str | Path | None = None) -> CalcDoc:
        """Run the jobflow job behind :meth:`make`."""
        return self.run(structure, prev_dir=prev_dir)

    def run(self, structure: Any, prev_dir: str | Path | None = None) -> CalcDoc:
        """Run (or look up in the running job's store) the calculation, in this process."""
        start = _with_moments(as_structure(structure))
        key = self.fingerprint(start)
        return cached_calc(key, lambda: self.compute(start, key, prev_dir))

    def compute(self, structure: Structure, key: str, prev_dir: str | Path | None) -> CalcDoc:
        """Write the inputs, run VASP under custodian and parse (no cache lookup)."""
        from atomate2.vasp.files import copy_vasp_outputs, write_vasp_input_set
        from atomate2.vasp.run import run_vasp
        from custodian.custodian import CustodianError

        settings = self.settings(structure)
        folder = Path.cwd() / f"{ENGINE}-{self.task}-{key[:12]}"
        folder.mkdir(parents=True, exist_ok=True)
        generator = copy.deepcopy(self.input_set_generator)
        initial = generator.get_input_set(structure, potcar_spec=True)["POSCAR"].structure
        initial.properties.update({k: structure.properties.get(k) for k in LABELS})
        with contextlib.chdir(folder):
            if prev_dir is not None:
                copy_vasp_outputs(prev_dir, **self.copy_vasp_kwargs)
            kwargs = {"from_prev": prev_dir is not None, **self.write_input_set_kwargs}
            write_vasp_input_set(structure, generator, **kwargs)
            try:
                run_vasp(**self.run_vasp_kwargs)
            except CustodianError as exc:
                return failed_doc(initial, self.task, key, settings, f"custodian: {exc}", folder)
        try:
            return calc_doc_from_vasp_dir(
                folder, initial=initial, settings=settings, fingerprint=key
            )
        except ArscInputError as exc:
            return failed_doc(initial, self.task, key, settings, str(exc), folder)


def _with_moments(structure: Structure) -> Structure:
    out = structure.copy()
    out.add_site_property("magmom", initial_magmoms(structure))
    return out


def failed_doc(
    structure: Structure,
    task: Task,
    key: str,
    settings: Mapping[str, Any],
    reason: str,
    folder: Path | None = None,
) -> CalcDoc:
    """Return the document of a calculation without a usable result (input structure, no energy).

    Optional fields are passed explicitly so that mypy (without the pydantic
    plugin) sees every argument.
    """
    atoms = AseAtomsAdaptor.get_atoms(structure)
    return CalcDoc(
        fingerprint=key,
        engine=ENGINE,
        task=task,
        status="failed",
        error=" ".join(reason.split()),
        site_id=structure.properties.get("site_id"),
        adsorbate=structure.properties.get("adsorbate") or "bare",
        mode=structure.properties.get("mode"),
        formula=atoms.get_chemical_formula(),
        natoms=len(structure),
        structure=structure_dict(structure),
        convergence=Convergence(
            converged=False,
            ionic_steps=0,
            scf_iterations=None,
            fmax=None,
            fmax_target=None,
            last_energy_change=None,
            retries=custodian_retries(folder) if folder else [],
        ),
        settings=dict(settings),
        settings_hash=settings_hash(settings),
        energy=None,
        free_energy=None,
        total_magmom=None,
        wall_time=None,
        dos=None,
    )


@dataclass
class VaspRelaxMaker(DacVaspMixin, RelaxMaker):
    """atomate2 RelaxMaker with the DAC input set; the job returns a CalcDoc.

    Parameters
    ----------
    name
        Job name.
    input_set_generator
        The DAC relaxation generator (preset, +U, k-spacing, user overrides).
    run_vasp_kwargs
        Passed to atomate2's ``run_vasp`` (``vasp_cmd``, ``handlers``, ...).
    write_input_set_kwargs
        Passed to atomate2's ``write_vasp_input_set`` (``potcar_spec`` writes
        POTCAR.spec instead of POTCAR).
    """

    task: ClassVar[Task] = "relax"
    name: str = "vasp relax"
    input_set_generator: VaspInputGenerator = field(default_factory=DacRelaxSetGenerator)


@dataclass
class VaspStaticMaker(DacVaspMixin, StaticMaker):
    """atomate2 StaticMaker with the DAC input set; the job returns a CalcDoc with d-band moments.

    Parameters are those of :class:`VaspRelaxMaker`.
    """

    task: ClassVar[Task] = "static"
    name: str = "vasp static"
    input_set_generator: VaspInputGenerator = field(default_factory=DacStaticSetGenerator)
