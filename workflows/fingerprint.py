"""Fingerprints that key every DFT calculation: structure + engine + task + settings.

Two calculations with the same fingerprint are the same calculation; a
finished fingerprint is never computed again (see :mod:`workflows.cache`).
The structure part is invariant to atom order and to wrapping into the cell,
and sensitive to species, positions (rounded to 1e-3 A), cell, periodicity
and initial magnetic moments (rounded to 0.01 mu_B).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from arsc.errors import ArscInputError

#: Rounding applied before hashing: positions/cell (Angstrom), moments (mu_B).
POSITION_DECIMALS = 3
MAGMOM_DECIMALS = 2


def _canonical_rows(atoms: Atoms) -> list[tuple[int, float, float, float, float]]:
    wrapped = atoms.copy()
    wrapped.wrap(eps=10.0 ** (-POSITION_DECIMALS))
    pos = np.round(wrapped.positions, POSITION_DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0
    mag = np.round(atoms.get_initial_magnetic_moments(), MAGMOM_DECIMALS) + 0.0
    rows = [
        (int(z), float(p[0]), float(p[1]), float(p[2]), float(m))
        for z, p, m in zip(atoms.numbers, pos, mag, strict=True)
    ]
    return sorted(rows)


def structure_fingerprint(atoms: Atoms) -> str:
    """Return the sha256 hex digest of a structure in canonical atom order.

    Parameters
    ----------
    atoms
        The structure (cell, pbc, species, positions, initial moments are used).
    """
    payload = {
        "cell": (np.round(atoms.cell[:], POSITION_DECIMALS) + 0.0).tolist(),
        "pbc": [bool(p) for p in atoms.pbc],
        "atoms": _canonical_rows(atoms),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def settings_hash(settings: Mapping[str, Any]) -> str:
    """Return a short (16 hex digits) hash of a JSON-serialisable settings mapping."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def calc_fingerprint(atoms: Atoms, engine: str, task: str, settings: Mapping[str, Any]) -> str:
    """Return the key of one calculation.

    Parameters
    ----------
    atoms
        Input structure of the calculation.
    engine
        Engine registry name (``mlip``, ``gpaw``, ``vasp``).
    task
        ``relax`` or ``static`` (or another task name of the engine).
    settings
        Every setting that changes the result (JSON-serialisable).

    Returns
    -------
    str
        sha256 hex digest.
    """
    payload = {
        "structure": structure_fingerprint(atoms),
        "engine": engine,
        "task": task,
        "settings": json.loads(json.dumps(settings, sort_keys=True, default=str)),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def file_sha256(path: str | Path, what: str = "file") -> str:
    """Return the full SHA-256 hex digest of a file (e.g. MLIP weights, a trajectory).

    Raises
    ------
    ArscInputError
        The file cannot be read: ``<what> <path> not found``.
    """
    digest = hashlib.sha256()
    try:
        with Path(path).open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        raise ArscInputError(f"{what} {path} not found") from None
    return digest.hexdigest()


def file_digest(path: str | Path, what: str = "file") -> str:
    """Return the first 16 hex digits of a file's SHA-256 (e.g. fine-tuned MLIP weights).

    Settings name a weights file by its content, so two different files never
    share a fingerprint and a moved file still does.

    Raises
    ------
    ArscInputError
        The file cannot be read: ``<what> <path> not found``.
    """
    return file_sha256(path, what)[:16]
