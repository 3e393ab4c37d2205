"""Reading and writing structures by file suffix, and pymatgen conversion."""

from __future__ import annotations

from pathlib import Path

from ase import Atoms
from ase.io import read, write
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from arsc.errors import ArscInputError

#: ASE format for each accepted suffix (or whole file name for VASP files).
FORMATS: dict[str, str] = {
    ".extxyz": "extxyz",
    ".xyz": "extxyz",
    ".cif": "cif",
    ".vasp": "vasp",
    ".poscar": "vasp",
    "POSCAR": "vasp",
    "CONTCAR": "vasp",
}


def format_for(path: str | Path) -> str:
    """Return the ASE format name for a path, from its suffix or VASP file name.

    Raises
    ------
    ArscInputError
        If the suffix is not one of :data:`FORMATS`.
    """
    p = Path(path)
    key = p.name if p.name in FORMATS else p.suffix.lower()
    if key not in FORMATS:
        raise ArscInputError(
            f"cannot tell the structure format of {str(path)!r}; use one of: " + ", ".join(FORMATS)
        )
    return FORMATS[key]


def write_structure(atoms: Atoms, path: str | Path) -> Path:
    """Write a structure; the format follows the suffix (extxyz, POSCAR, CIF).

    extxyz keeps everything (cell, pbc, tags, initial magnetic moments,
    ``info``); POSCAR and CIF keep the cell and positions only.
    """
    p = Path(path)
    fmt = format_for(p)
    p.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "vasp":
        write(p, atoms, format="vasp", direct=True, sort=False)
    else:
        write(p, atoms, format=fmt)
    return p


def read_structure(path: str | Path) -> Atoms:
    """Read a structure written by :func:`write_structure` (last frame)."""
    atoms = read(Path(path), format=format_for(path), index=-1)
    assert isinstance(atoms, Atoms)
    return atoms


def to_structure(atoms: Atoms) -> Structure:
    """Convert to a pymatgen Structure (magnetic moments and tags become site properties)."""
    return AseAtomsAdaptor.get_structure(atoms)
