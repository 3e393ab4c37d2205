"""Harmonic vibrations of an adsorbate on a computed site, and of the gas references.

Only the adsorbate's atoms (tag 4, :data:`arsc.structures.TAG_ADSORBATE`)
are displaced: the site's own modes are taken as unchanged by the adsorbate
and cancel in the free-energy correction (:mod:`arsc.thermo.vibrations`).
Before the displacements the adsorbate is relaxed with the same calculator
(the site held fixed), because a harmonic analysis away from the
calculator's minimum gives meaningless (imaginary) modes. The gas
molecules (H2O, H2, CO2, N2, NH3) are built with :func:`ase.build.molecule`,
relaxed and analysed whole (their 3N-6 or 3N-5 highest modes are kept).

The calculator is one of :data:`CALCULATORS` (``mlip``: CHGNet or SevenNet
on CPU, ``workflows.engines.mlip``; ``gpaw``: a preset of
``workflows/data/gpaw_presets.yaml``). Displaced force calls are cached
under ``scratch_dir`` (a re-run after a kill reuses them).

Examples
--------
>>> maker = VibrationsMaker(engine="mlip", model="chgnet")  # doctest: +SKIP
>>> analysis, relaxed = maker.adsorbate(atoms)  # atoms: `arsc build SITE -a CO`  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import molecule
from ase.calculators.calculator import Calculator
from ase.constraints import FixAtoms
from ase.io import read, write
from ase.optimize import BFGS
from ase.units import invcm
from ase.vibrations import Vibrations

from arsc.errors import ArscInputError, unknown
from arsc.structures import TAG_ADSORBATE
from arsc.thermo.network import load_network
from arsc.thermo.vibrations import ThermoTerms, VibrationalAnalysis, gas_table, terms_of

#: Vacuum around a gas molecule, Angstrom (cell edge = molecule size + 2 x this).
GAS_VACUUM = 7.0


def _mlip(maker: VibrationsMaker, folder: Path) -> tuple[Calculator, str, AbstractContextManager]:
    from workflows.engines import get_engine

    get_engine("mlip")  # a missing extra is a one-line error naming it
    from workflows.engines.mlip import load_calculator, model_version, torch_threads

    calc = load_calculator(maker.model)
    return calc, f"{model_version(maker.model)} (MLIP)", torch_threads(maker.threads)


def _gpaw(maker: VibrationsMaker, folder: Path) -> tuple[Calculator, str, AbstractContextManager]:
    from workflows.engines import get_engine

    get_engine("gpaw")
    from workflows.engines.gpaw import gpaw_params, make_calculator

    calc = make_calculator(gpaw_params(maker.preset), str(folder / "gpaw.txt"))
    return calc, f"GPAW preset {maker.preset}", nullcontext()


#: Engine -> factory of (calculator, one-line description of the method, context to run in).
CALCULATORS: dict[
    str, Callable[[VibrationsMaker, Path], tuple[Calculator, str, AbstractContextManager]]
] = {
    "mlip": _mlip,
    "gpaw": _gpaw,
}


def read_atoms(path: str | Path) -> Atoms:
    """Read the last structure of a file.

    Raises
    ------
    ArscInputError
        If the file is missing or ASE cannot read a structure from it.
    """
    p = Path(path)
    if not p.is_file():
        raise ArscInputError(f"structure {str(p)!r} does not exist")
    try:
        atoms = read(p, index=-1)
    except Exception as exc:  # ASE raises many types for unreadable files
        raise ArscInputError(f"structure {str(p)!r} is not readable ({exc})") from None
    if not isinstance(atoms, Atoms):
        raise ArscInputError(f"structure {str(p)!r} holds no structure")
    return atoms


def adsorbate_indices(atoms: Atoms) -> list[int]:
    """Return the indices of the adsorbate atoms (tag 4).

    Raises
    ------
    ArscInputError
        If no atom carries the adsorbate tag.
    """
    idx = [int(i) for i in np.flatnonzero(atoms.get_tags() == TAG_ADSORBATE)]
    if not idx:
        raise ArscInputError(
            f"{atoms.info.get('site_id', 'structure')}: no adsorbate atom (tag "
            f"{TAG_ADSORBATE}); give an adsorbed state written by `arsc build --adsorbate`"
        )
    return idx


def _wavenumbers(vib: Vibrations) -> list[float]:
    """Mode wavenumbers, cm-1; an imaginary mode is given as a negative number."""
    out = []
    for e in vib.get_energies():
        z = complex(e)
        out.append(float(z.real / invcm) if abs(z.imag) <= abs(z.real) else float(-z.imag / invcm))
    return out


@dataclass
class VibrationsMaker:
    """Harmonic frequencies by finite differences (:class:`ase.vibrations.Vibrations`).

    Attributes
    ----------
    engine
        Key of :data:`CALCULATORS`: ``mlip`` or ``gpaw``.
    model
        MLIP model (engine ``mlip``), a name of ``workflows/data/mlip_models.yaml``.
    preset
        GPAW preset (engine ``gpaw``).
    relax
        Relax the displaced atoms with the same calculator first.
    fmax
        Force criterion of that relaxation, eV/Angstrom.
    steps
        Most optimiser steps.
    delta
        Finite-difference displacement, Angstrom.
    nfree
        Displacements per coordinate (2 or 4).
    scratch_dir
        Folder for the cached force calls (default: a temporary folder).
    threads
        torch threads of an MLIP (does not change the result).
    """

    engine: str = "mlip"
    model: str = "chgnet"
    preset: str = "fast"
    relax: bool = True
    fmax: float = 0.01
    steps: int = 500
    delta: float = 0.01
    nfree: int = 2
    scratch_dir: str | None = None
    threads: int = 1

    def __post_init__(self) -> None:
        if self.engine not in CALCULATORS:
            raise unknown("vibrations engine", self.engine, CALCULATORS)
        if self.nfree not in (2, 4):
            raise ArscInputError(f"nfree must be 2 or 4 (got {self.nfree})")
        for knob, value in (("fmax", self.fmax), ("delta", self.delta)):
            if not value > 0:
                raise ArscInputError(f"{knob} must be above 0 (got {value})")

    def _folder(self, label: str) -> Path:
        base = Path(self.scratch_dir) if self.scratch_dir else Path(tempfile.mkdtemp())
        folder = base / f"vib-{label}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _analyse(
        self, atoms: Atoms, indices: list[int], label: str, species: str, kind: str, site: str
    ) -> tuple[VibrationalAnalysis, Atoms]:
        folder = self._folder(label)
        calc, method, context = CALCULATORS[self.engine](self, folder)
        with context:
            return self._run(atoms, indices, folder, calc, method, species, kind, site)

    def _run(
        self,
        atoms: Atoms,
        indices: list[int],
        folder: Path,
        calc: Calculator,
        method: str,
        species: str,
        kind: str,
        site: str,
    ) -> tuple[VibrationalAnalysis, Atoms]:
        work = atoms.copy()
        work.calc = calc
        fixed = [i for i in range(len(work)) if i not in set(indices)]
        work.set_constraint(FixAtoms(indices=fixed) if fixed else [])
        done = folder / "relaxed.extxyz"
        if self.relax and done.is_file():  # a re-run after a kill: the relaxation is done
            work.positions = read_atoms(done).positions
        elif self.relax:
            BFGS(work, logfile=str(folder / "relax.log")).run(fmax=self.fmax, steps=self.steps)
            write(done, work, format="extxyz")
        forces = work.get_forces()[indices]
        fmax = float(np.sqrt((forces**2).sum(axis=1)).max())
        work.set_constraint()
        vib = Vibrations(
            work, indices=indices, delta=self.delta, nfree=self.nfree, name=str(folder / "vib")
        )
        vib.run()
        analysis = VibrationalAnalysis(
            species=species,
            kind=kind,  # type: ignore[arg-type]
            site=site,
            frequencies_cm=_wavenumbers(vib),
            displaced=indices,
            fmax=fmax,
            method=f"{method}, finite differences {self.delta} A x {self.nfree}"
            + (f", relaxed to {self.fmax} eV/A" if self.relax else ", not relaxed"),
        )
        relaxed = work.copy()
        relaxed.calc = None
        return analysis, relaxed

    def adsorbate(self, atoms: Atoms) -> tuple[VibrationalAnalysis, Atoms]:
        """Analyse the adsorbate of an adsorbed state; return the analysis and the relaxed state.

        ``atoms.info`` must name the intermediate (``adsorbate``, as written by
        ``arsc build``); the site id (``site_id``) is recorded when present.
        """
        species = str(atoms.info.get("adsorbate", ""))
        if not species:
            raise ArscInputError(
                "the structure does not name its adsorbate (info 'adsorbate'); "
                "write it with `arsc build SITE --adsorbate X`"
            )
        indices = adsorbate_indices(atoms)
        site = str(atoms.info.get("site_id", ""))
        # the cache folder names the structure to 1e-4 A (a file round trip keeps the name)
        digest = hashlib.sha256(np.round(atoms.positions, 4).tobytes()).hexdigest()[:10]
        return self._analyse(atoms, indices, f"{species}-{digest}", species, "adsorbate", site)

    def gas(self, name: str) -> tuple[VibrationalAnalysis, Atoms]:
        """Analyse one gas reference molecule (a name of ``gases.yaml``)."""
        table = gas_table().molecules
        if name not in table:
            raise unknown("gas molecule", name, table)
        mol = molecule(name)
        mol.center(vacuum=GAS_VACUUM)
        mol.pbc = True
        return self._analyse(mol, list(range(len(mol))), f"gas-{name}", name, "gas", "")


#: Species -> (analysis, ZPE and TS terms at 298.15 K).
Analysed = dict[str, tuple[VibrationalAnalysis, ThermoTerms]]


def analyse_states(maker: VibrationsMaker, states: Sequence[Atoms]) -> tuple[Analysed, Analysed]:
    """Analyse the adsorbate of every state, then every gas molecule their corrections need.

    Returns
    -------
    tuple
        (intermediate -> analysis and terms, reference molecule -> analysis and terms).

    Raises
    ------
    ArscInputError
        A state without a named adsorbate, or two states of one intermediate.
    """
    adsorbates: Analysed = {}
    for atoms in states:
        analysis, _ = maker.adsorbate(atoms)
        if analysis.species in adsorbates:
            raise ArscInputError(
                f"two structures of *{analysis.species}; give one per intermediate"
            )
        adsorbates[analysis.species] = (analysis, terms_of(analysis))
    net = load_network()
    gases: Analysed = {}
    for mol in sorted({m for x in adsorbates for m in net.intermediates[x]}):
        analysis, relaxed = maker.gas(mol)
        gases[mol] = (analysis, terms_of(analysis, atoms=relaxed))
    return adsorbates, gases
