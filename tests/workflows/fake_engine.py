"""A FAKE engine, registered only in tests: a seam for orchestration tests, not a DFT stand-in.

Its "energy" is a sum of per-element constants plus a small bonus for each
adsorbate atom near a metal, so adsorption energies depend on the binding
mode; it moves no atom. It goes through the real fingerprint cache
(:func:`workflows.cache.cached_calc`) and returns real CalcDocs, so flows,
stores, resume and the CLI are exercised exactly as with a real engine.

Knobs (environment, so that a subprocess running ``arsc`` sees them too):

``FAKE_ENGINE_SLEEP``
    seconds each computation sleeps (for the kill test);
``FAKE_ENGINE_COUNTER``
    file to which every computation (cache miss) appends ``<fingerprint> <task>``;
``FAKE_ENGINE_FAIL``
    comma-separated adsorbates whose relaxation ends with status ``failed``.

Import this module to register the engine; :func:`install` also makes
``get_engine("fake")`` find it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase import Atoms
from jobflow import Maker, job
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor, MSONAtoms

from workflows.cache import EXPOSE_STORE, cached_calc
from workflows.engines import base
from workflows.engines.base import Engine, register_engine
from workflows.fingerprint import calc_fingerprint, settings_hash
from workflows.schemas import CalcDoc, Convergence

NAME = "fake"
#: Per-element constants of the fake energy, eV (arbitrary).
ELEMENT_ENERGY = {"H": -3.4, "C": -9.2, "N": -8.3, "O": -4.9, "Fe": -8.0, "Co": -7.0, "Ni": -5.5}
#: Bonus per adsorbate atom within 2.5 A of a metal, eV (arbitrary).
CONTACT_BONUS = -0.4


def to_atoms(structure: Any) -> Atoms:
    """Atoms from Atoms, a CalcDoc (or its dict) or a pymatgen Structure dict."""
    if isinstance(structure, Atoms):
        atoms = Atoms(structure)
        atoms.info = dict(structure.info)
        return atoms
    if isinstance(structure, CalcDoc):
        structure = structure.model_dump()
    if isinstance(structure, Mapping) and "fingerprint" in structure:
        structure = structure["structure"]
    return AseAtomsAdaptor.get_atoms(Structure.from_dict(dict(structure)))


def fake_energy(atoms: Atoms) -> float:
    """The fake energy, eV."""
    energy = sum(ELEMENT_ENERGY.get(s, -1.0) for s in atoms.get_chemical_symbols())
    tags = atoms.get_tags()
    ads = np.flatnonzero(tags == 4)
    metals = np.flatnonzero((tags == 1) | (tags == 2))
    if ads.size and metals.size:
        d = atoms.get_all_distances(mic=True)[np.ix_(ads, metals)]
        energy += CONTACT_BONUS * int((d < 2.5).sum())
    return float(energy)


@dataclass
class FakeMaker(Maker):
    """FAKE relax or static (see the module docstring); ``preset`` only changes the settings."""

    name: str = "fake"
    task: str = "static"
    preset: str = "default"

    def settings(self) -> dict[str, Any]:
        """Settings record (what the fingerprint and the consistency check see)."""
        return {"model": "fake sum of element constants", "preset": self.preset}

    def make(self, structure: Any) -> Any:
        """Return the job of this calculation."""
        if isinstance(structure, Atoms) and not isinstance(structure, MSONAtoms):
            structure = MSONAtoms(structure)
        return fake_calc(self, structure)


def _compute(maker: FakeMaker, atoms: Atoms, fingerprint: str) -> CalcDoc:
    counter = os.environ.get("FAKE_ENGINE_COUNTER")
    if counter:
        with open(counter, "a") as fh:
            fh.write(f"{fingerprint} {maker.task}\n")
    time.sleep(float(os.environ.get("FAKE_ENGINE_SLEEP", "0")))
    failing = {x for x in os.environ.get("FAKE_ENGINE_FAIL", "").split(",") if x}
    adsorbate = atoms.info.get("adsorbate", "bare")
    failed = maker.task == "relax" and adsorbate in failing
    return CalcDoc(
        fingerprint=fingerprint,
        engine=NAME,
        task=maker.task,  # type: ignore[arg-type]
        status="failed" if failed else "ok",
        error="fake relaxation failure" if failed else None,
        site_id=atoms.info.get("site_id"),
        adsorbate=adsorbate,
        mode=atoms.info.get("mode"),
        formula=atoms.get_chemical_formula(),
        natoms=len(atoms),
        energy=None if failed else fake_energy(atoms),
        free_energy=None if failed else fake_energy(atoms),
        structure=AseAtomsAdaptor.get_structure(atoms).as_dict(),
        convergence=Convergence(
            converged=not failed, ionic_steps=3 if maker.task == "relax" else 0
        ),
        settings=maker.settings(),
        settings_hash=settings_hash(maker.settings()),
    )


@job(config=EXPOSE_STORE)
def fake_calc(maker: FakeMaker, structure: Any) -> CalcDoc:
    """The FAKE engine's job: fingerprint, cache lookup, fake computation."""
    atoms = to_atoms(structure)
    fp = calc_fingerprint(atoms, NAME, maker.task, maker.settings())
    return cached_calc(fp, lambda: _compute(maker, atoms, fp))


ENGINE = register_engine(
    Engine(
        name=NAME,
        description="FAKE engine for orchestration tests (not a DFT stand-in)",
        relax=lambda preset: FakeMaker(name="fake relax", task="relax", preset=preset),
        static=lambda preset: FakeMaker(name="fake static", task="static", preset=preset),
        presets=("default", "other"),
    )
)


def install() -> None:
    """Make ``get_engine("fake")`` find this module (tests call it; never in the package)."""
    base.ENGINE_MODULES[NAME] = __name__
    base._REGISTRY[NAME] = ENGINE
