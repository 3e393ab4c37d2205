"""The DAC input set: atomate2 VASP input generators for 2-D dual-atom sites.

The tags, presets, k-point rule, POTCAR choice and the optional +U table are
data (``workflows/data/vasp_dac.yaml``, each value with its reason and source);
this module only applies them to a structure:

* ``MAGMOM`` from the structure's initial moments (``magmom`` site property, set
  by :func:`arsc.structures.build`: metals high-spin, other atoms 0); a
  structure without moments gets the same rule here.
* ``DIPOL`` at the slab's centre of mass (fractional coordinates).
* a 2-D Gamma-centred k-mesh with k_z = 1 from a k-spacing.
* ``LDAU*`` lists in POSCAR species order when ``hubbard_u`` is on.

Examples
--------
>>> from arsc.space import make_site
>>> from arsc.structures import build
>>> from workflows.engines.vasp.sets import DacRelaxSetGenerator, to_structure
>>> structure = to_structure(build(make_site("Fe", "Co", "qv-n6"), min_image=9.5))
>>> vis = DacRelaxSetGenerator().get_input_set(structure, potcar_spec=True)
>>> vis["INCAR"]["ISIF"], vis["KPOINTS"].kpts[0]
(2, (3, 3, 1))
"""

from __future__ import annotations

import math
from copy import deepcopy
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import yaml
from ase import Atoms
from atomate2.vasp.sets.base import _BASE_VASP_SET, VaspInputGenerator
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor
from pymatgen.io.vasp import Kpoints, Poscar, VaspInput

from arsc.elements import load_elements
from arsc.errors import unknown

#: Package data file of the input set.
DATA_FILE = "vasp_dac.yaml"


@cache
def dac_data() -> dict[str, Any]:
    """Return the parsed ``vasp_dac.yaml`` (cached; do not mutate)."""
    text = files("workflows.data").joinpath(DATA_FILE).read_text()
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def preset_names() -> tuple[str, ...]:
    """Preset names of the input set; the first is the default."""
    return tuple(dac_data()["presets"])


def _values(block: dict[str, Any]) -> dict[str, Any]:
    return {tag: entry["value"] for tag, entry in block.items()}


def dac_config_dict() -> dict[str, Any]:
    """Return the pymatgen/atomate2 ``config_dict`` of the shared DAC tags.

    ``MAGMOM`` is an empty table so that every site takes its moment from the
    structure; POTCARs are atomate2's base-set choices with the data file's
    overrides and functional.
    """
    data = dac_data()
    potcar = dict(deepcopy(_BASE_VASP_SET["POTCAR"]))
    potcar.update(data["potcar"]["overrides"])
    return {
        "INCAR": {**_values(data["incar"]), "MAGMOM": {}},
        "KPOINTS": {},
        "POTCAR": potcar,
        "POTCAR_FUNCTIONAL": data["potcar"]["functional"],
    }


def to_structure(atoms: Atoms | Structure) -> Structure:
    """Convert ASE Atoms to a pymatgen Structure, keeping tags, moments and ``info``.

    ``info`` (site_id, adsorbate, mode, ...) goes to ``Structure.properties``;
    tags and initial moments become the ``tags`` and ``magmom`` site properties.
    """
    if isinstance(atoms, Structure):
        return atoms
    return AseAtomsAdaptor.get_structure(atoms)


@cache
def _high_spin() -> dict[str, float]:
    table = load_elements("default")
    return {str(sym): float(max(1, min(int(d), 10 - int(d)))) for sym, d in table["d"].items()}


def initial_magmoms(structure: Structure) -> list[float]:
    """Return initial moments: the ``magmom`` site property, else metals high-spin, 0 elsewhere.

    The fallback is the rule of :mod:`arsc.structures` (``max(1, min(d, 10 - d))``
    mu_B on a transition metal with d d-electrons).
    """
    moments = structure.site_properties.get("magmom")
    if moments is not None and all(m is not None for m in moments):
        return [float(m) for m in moments]
    table = _high_spin()
    return [table.get(site.specie.symbol, 0.0) for site in structure]


def slab_kpoints(lattice: Lattice, kspacing: float) -> Kpoints:
    """Gamma-centred 2-D mesh: ``max(1, ceil(|b_i| / kspacing))`` in-plane, 1 along z.

    Parameters
    ----------
    lattice
        Cell of the slab; the third vector is the surface normal.
    kspacing
        Largest allowed k-point spacing, 1/Angstrom (2*pi included, as VASP's KSPACING).
    """
    b = lattice.reciprocal_lattice.abc  # includes 2*pi
    mesh = (max(1, math.ceil(b[0] / kspacing)), max(1, math.ceil(b[1] / kspacing)), 1)
    return Kpoints.gamma_automatic(mesh)


def centre_of_mass(structure: Structure) -> list[float]:
    """Centre of mass of the slab in fractional coordinates (for ``DIPOL``), 6 decimals.

    Cartesian positions are used as given, so a slab must not straddle the
    cell boundary along z (builders in :mod:`arsc.structures` centre it).
    """
    masses = np.array([site.specie.atomic_mass for site in structure], dtype=float)
    com = masses @ structure.cart_coords / masses.sum()
    frac = structure.lattice.get_fractional_coords(com)
    return [round(float(x), 6) + 0.0 for x in frac]


def hubbard_tags(species: list[str]) -> dict[str, Any]:
    """``LDAU*`` tags for the species in POSCAR order, from the data file's +U table.

    Returns an empty dict when no species has a U (DFT+U stays off).
    """
    table = dac_data()["hubbard_u"]
    u = table["U"]
    if not any(el in u for el in species):
        return {}
    return {
        "LDAU": True,
        "LDAUTYPE": int(table["LDAUTYPE"]),
        "LDAUL": [int(table["l"]) if el in u else -1 for el in species],
        "LDAUU": [float(u.get(el, 0.0)) for el in species],
        "LDAUJ": [float(table["J"]) if el in u else 0.0 for el in species],
    }


@dataclass
class DacSetGenerator(VaspInputGenerator):
    """Base generator of the DAC input set (use the relax or static subclass).

    Parameters
    ----------
    preset
        Accuracy preset of the data file (ENCUT, EDIFF, EDIFFG, k-spacing):
        ``standard`` (default), ``fast`` or ``accurate``.
    hubbard_u
        Switch DFT+U on with the data file's table (off by default).
    kspacing
        k-point spacing, 1/Angstrom; None takes the preset's.
    **kwargs
        Any :class:`atomate2.vasp.sets.base.VaspInputGenerator` field, e.g.
        ``user_incar_settings={"ENCUT": 600}`` (wins over everything here).
    """

    task: ClassVar[str] = "static"

    preset: str = "standard"
    hubbard_u: bool = False
    kspacing: float | None = None
    config_dict: dict = field(default_factory=dac_config_dict)
    auto_ismear: bool = False
    force_gamma: bool = True

    def __post_init__(self) -> None:
        if self.preset not in dac_data()["presets"]:
            raise unknown("VASP preset", self.preset, preset_names())
        super().__post_init__()

    @property
    def preset_values(self) -> dict[str, Any]:
        """The preset's ENCUT (eV), EDIFF (eV), EDIFFG (eV/Angstrom) and kspacing (1/A)."""
        values: dict[str, Any] = dac_data()["presets"][self.preset]
        return values

    @property
    def incar_updates(self) -> dict[str, Any]:
        """Task and preset tags, DIPOL from the structure, +U when switched on."""
        preset = self.preset_values
        updates: dict[str, Any] = {
            **_values(dac_data()["tasks"][self.task]),
            **{tag: preset[tag] for tag in ("ENCUT", "EDIFF", "EDIFFG")},
        }
        structure = self.structure
        if structure is not None:
            updates["DIPOL"] = centre_of_mass(structure)
            if self.hubbard_u:
                updates.update(hubbard_tags(Poscar(structure).site_symbols))
        return updates

    @property
    def kpoints_updates(self) -> Kpoints | dict[str, Any]:  # type: ignore[override]
        """The 2-D Gamma-centred mesh of :func:`slab_kpoints`."""
        if self.structure is None:
            return {}
        spacing = self.kspacing if self.kspacing is not None else self.preset_values["kspacing"]
        return slab_kpoints(self.structure.lattice, float(spacing))

    def get_input_set(
        self,
        structure: Structure | None = None,
        prev_dir: str | Path | None = None,
        potcar_spec: bool = False,
    ) -> VaspInput:
        """Return the input set for a structure with initial moments, sorted by species.

        Moments are filled by :func:`initial_magmoms`. Sorting (electronegativity,
        stable, so M1 stays before M2 of the same element) is done here because
        atomate2's generator declares ``structure`` as a plain field, which hides
        pymatgen's sorting property setter.
        """
        if structure is not None:
            structure = structure.copy()
            structure.add_site_property("magmom", initial_magmoms(structure))
            if self.sort_structure:
                structure = structure.get_sorted_structure()
        return super().get_input_set(structure, prev_dir=prev_dir, potcar_spec=potcar_spec)


@dataclass
class DacRelaxSetGenerator(DacSetGenerator):
    """DAC relaxation: positions only (ISIF 2), conjugate gradient, the preset's EDIFFG."""

    task: ClassVar[str] = "relax"


@dataclass
class DacStaticSetGenerator(DacSetGenerator):
    """DAC single point with a fine DOS grid (NEDOS) for the d-band moments."""

    task: ClassVar[str] = "static"
