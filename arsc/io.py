"""Reading and writing files: structures by suffix, input checks, values in messages.

ASE and pymatgen are imported when a structure is read or written, so that
modules which only check their input files stay light.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arsc.errors import ArscInputError

if TYPE_CHECKING:  # heavy imports, only for type hints
    from ase import Atoms
    from pymatgen.core import Structure

#: ASE format for each accepted suffix (or whole file name for VASP files).
FORMATS: dict[str, str] = {
    ".extxyz": "extxyz",
    ".xyz": "extxyz",
    ".cif": "cif",
    ".vasp": "vasp",
    ".poscar": "vasp",
    "POSCAR": "vasp",
    "CONTCAR": "vasp",
    ".traj": "traj",
    ".db": "db",
}
#: Formats that hold many structures in one file (the others hold one).
MULTI_FRAME: frozenset[str] = frozenset({"extxyz", "traj", "db"})


def plain(value: Any) -> str:
    """Show a value as a user would write it in a message: ``nan``, ``-3``, ``'abc'``.

    Numpy scalars lose their repr (``np.float64(nan)`` -> ``nan``,
    ``np.int64(-3)`` -> ``-3``); strings keep their quotes.

    Examples
    --------
    >>> import numpy as np
    >>> plain(np.float64("nan")), plain(np.int64(-3)), plain(2.5), plain(np.str_("x"))
    ('nan', '-3', '2.5', "'x'")
    """
    if hasattr(value, "item") and not isinstance(value, str):
        try:
            value = value.item()
        except (TypeError, ValueError):  # pragma: no cover - arrays of several values
            return str(value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:g}" if math.isfinite(value) else str(value)
    if isinstance(value, int):
        return str(value)
    return repr(str(value)) if isinstance(value, str) else str(value)


def input_file(path: str | Path, what: str = "input file") -> Path:
    """Check that an input file exists and is a file, before it is read.

    Parameters
    ----------
    path
        The file.
    what
        What the file is, for the message ("energies table").

    Returns
    -------
    Path
        ``path`` as a Path.

    Raises
    ------
    ArscInputError
        One line naming the file when it does not exist, is a folder or
        cannot be read.
    """
    p = Path(path)
    if p.is_dir():
        raise ArscInputError(f"{what} {str(p)!r} is a folder; give a file")
    if not p.exists():
        raise ArscInputError(f"{what} {str(p)!r} does not exist")
    if not p.is_file():
        raise ArscInputError(f"{what} {str(p)!r} is not a regular file")
    try:
        with p.open("rb"):
            pass
    except OSError as exc:
        raise ArscInputError(f"{what} {str(p)!r} cannot be read: {exc.strerror or exc}") from None
    return p


def csv_header(path: str | Path) -> list[str]:
    """Column names of a CSV file's first line (empty when unreadable or not text)."""
    import csv

    try:
        with Path(path).open(encoding="utf-8", newline="") as fh:
            return [c.strip() for c in next(csv.reader([fh.readline()]), [])]
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


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


def db_keys(atoms: Atoms) -> dict[str, str]:
    """Key-value pairs of a built structure for an ASE database.

    ``site``, ``metal1``, ``metal2``, ``motif``, ``support`` (from the site id
    in ``atoms.info``), ``adsorbate`` (``bare`` for the bare site) and ``mode``,
    so that ``ase db structures.db metal1=Fe,adsorbate=OH`` selects rows.
    """
    info = atoms.info
    keys: dict[str, str] = {}
    if info.get("site_id"):
        site, motif, support = str(info["site_id"]).split("_", 2)
        metal1, _, metal2 = site.partition("-")
        keys.update(
            site=str(info["site_id"]), metal1=metal1, metal2=metal2, motif=motif, support=support
        )
    keys["adsorbate"] = str(info.get("adsorbate") or "bare")
    if info.get("mode"):
        keys["mode"] = str(info["mode"])
    return keys


def write_structures(frames: Iterable[Atoms], path: str | Path) -> int:
    """Write structures to one file atomically; the format follows the suffix.

    extxyz keeps everything (cell, pbc, tags, initial magnetic moments,
    ``info``); an ASE trajectory (``.traj``) keeps cell, pbc, tags and moments;
    an ASE database (``.db``) keeps the same plus the :func:`db_keys` of every
    row; POSCAR and CIF keep the cell and positions of one structure only. The
    file is written beside the target and renamed over it (see
    :func:`arsc.outputs.atomic_path`), so a failure leaves an old file intact.

    Returns
    -------
    int
        Structures written.

    Raises
    ------
    ArscInputError
        For an unknown suffix, several structures for a one-structure format,
        or a folder that cannot be written.
    """
    from ase.io import write

    from arsc.outputs import atomic_path

    p = Path(path)
    fmt = format_for(p)
    items = list(frames)
    if len(items) != 1 and fmt not in MULTI_FRAME:
        raise ArscInputError(
            f"{str(p)!r} holds one structure ({fmt}); for {len(items)} use one of: "
            + ", ".join(k for k, v in FORMATS.items() if v in MULTI_FRAME)
        )
    with atomic_path(p) as tmp:
        if fmt == "db":
            from ase.db import connect

            with connect(str(tmp), type="db", append=False) as db:
                for atoms in items:
                    db.write(atoms, key_value_pairs=db_keys(atoms))
        elif fmt == "vasp":
            write(tmp, items[0], format="vasp", direct=True, sort=False)
        else:
            write(tmp, items if fmt in MULTI_FRAME else items[0], format=fmt)
    return len(items)


def write_structure(atoms: Atoms, path: str | Path) -> Path:
    """Write one structure atomically; the format follows the suffix (see :func:`write_structures`).

    Raises
    ------
    ArscInputError
        For an unknown suffix, or a folder that cannot be written.
    """
    write_structures([atoms], path)
    return Path(path)


def read_structure(path: str | Path) -> Atoms:
    """Read a structure written by :func:`write_structure` (last frame)."""
    from ase import Atoms
    from ase.io import read

    atoms = read(Path(path), format=format_for(path), index=-1)
    assert isinstance(atoms, Atoms)
    return atoms


def to_structure(atoms: Atoms) -> Structure:
    """Convert to a pymatgen Structure (magnetic moments and tags become site properties)."""
    from pymatgen.io.ase import AseAtomsAdaptor

    return AseAtomsAdaptor.get_structure(atoms)
