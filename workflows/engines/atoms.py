"""Plain :class:`ase.Atoms` from any job input, and the largest force on an atom."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from ase import Atoms

from arsc.errors import ArscInputError
from workflows.schemas import CalcDoc


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
