"""Read GPAW (or MLIP) results stored as ASE files into energies-table rows.

One file is one calculation: an ASE trajectory (``.traj``), extended XYZ
(``.extxyz``, ``.xyz``) or GPAW restart file (``.gpw``, read by ASE without
GPAW). The last frame gives the energy; the frames are the ionic steps.

Settings are merged, later sources winning, from: the calculator parameters
stored in the file (GPAW ``xc``, ``mode`` (plane-wave ``ecut``), ``spinpol``,
``setups`` (``':d,4.0'`` is U = 4 eV on d), ``poissonsolver`` with a
``dipolelayer``); a ``settings.json`` in the file's folder; a sidecar
``<name>.json``; the frame's ``atoms.info``. The JSON files and ``info`` use the
table's column names (``functional``, ``encut``, ``ispin``, ``ldau``,
``u_values``, ``ivdw``, ``dipole``) plus ``fmax`` (eV/Angstrom, the force
criterion) and ``steps`` (the step limit).
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import ValidationError

from arsc.errors import ArscInputError
from arsc.ingest.conventions import ase_conventions
from arsc.ingest.messages import file_problem, is_finite, number, one_line, present, shown
from arsc.ingest.pattern import NameParts
from arsc.ingest.table import DftSettings, EnergyRow, Engine, row_from
from arsc.jsonio import read_json
from arsc.yamlio import problems

#: File suffixes read as one calculation each.
ASE_SUFFIXES: tuple[str, ...] = (".traj", ".extxyz", ".xyz", ".gpw")
#: Folder-wide settings file.
FOLDER_SETTINGS = "settings.json"
#: Keys of atoms.info / sidecar JSON that are read.
SETTING_KEYS: tuple[str, ...] = (*DftSettings.model_fields, "fmax", "steps")

_U = re.compile(r":([spdf]),\s*([-+\d.eE]+)")
if TYPE_CHECKING:  # ASE is imported when a file is read
    from ase import Atoms

Params = dict[str, Any]


def _name(value: object) -> str | None:
    if isinstance(value, dict):
        value = value.get("name")
    return None if value is None else str(value)


def _functional(p: Params, atoms: Atoms) -> Any:
    return _name(p.get("xc"))


def _encut(p: Params, atoms: Atoms) -> Any:
    mode = p.get("mode")
    return mode.get("ecut") if isinstance(mode, dict) and _name(mode) == "pw" else None


def _ispin(p: Params, atoms: Atoms) -> Any:
    spinpol = p.get("spinpol")
    if spinpol is None:
        spinpol = bool(np.any(atoms.get_initial_magnetic_moments()))
    return ase_conventions()["spinpol_ispin"][bool(spinpol)]


def _u_values(p: Params, atoms: Atoms) -> Any:
    setups = p.get("setups")
    entries = []
    if isinstance(setups, dict):
        for el, spec in setups.items():
            m = _U.search(str(spec))
            if m and float(m.group(2)) != 0:
                entries.append(f"{el}:{float(m.group(2)):g}")
    return ",".join(sorted(entries))


def _dipole(p: Params, atoms: Atoms) -> Any:
    solver = p.get("poissonsolver")
    keys = ase_conventions()["dipole_keys"]
    return isinstance(solver, dict) and any(solver.get(k) for k in keys)


#: How each setting is derived from the stored calculator parameters.
DERIVED: dict[str, Callable[[Params, Atoms], Any]] = {
    "functional": _functional,
    "encut": _encut,
    "ispin": _ispin,
    "u_values": _u_values,
    "dipole": _dipole,
}


def find_ase_files(root: Path) -> Iterator[Path]:
    """Yield every path under ``root`` with a suffix in :data:`ASE_SUFFIXES`, sorted.

    A path with such a suffix that is not a regular file (a folder, a broken
    link) is yielded too, so that it becomes an error row instead of silently
    disappearing. A root that is a file is yielded itself.
    """
    if root.is_file():
        yield root
        return
    yield from sorted(p for p in root.rglob("*") if p.suffix in ASE_SUFFIXES and present(p))


def _stored_parameters(path: Path, atoms: Atoms) -> Params:
    if path.suffix == ".gpw":
        from ase.io.ulm import ulmopen

        with ulmopen(path) as reader:
            return dict(reader.parameters.asdict())
    return dict(getattr(atoms.calc, "parameters", None) or {})


def _json(path: Path) -> Params:
    """Read a settings JSON object; {} when there is no such file."""
    if not present(path):
        return {}
    problem = file_problem(path)
    if problem is not None:
        raise ArscInputError(f"{path} {problem}")
    data = read_json(path)
    if not isinstance(data, dict):
        raise ArscInputError(f'{path} is not a JSON object of settings ({{"encut": 400, ...}})')
    return data


def _overrides(path: Path, atoms: Atoms) -> Params:
    merged: Params = {}
    for source in (
        _json(path.parent / FOLDER_SETTINGS),
        _json(path.with_suffix(".json")),
        dict(atoms.info),
    ):
        merged.update({k: v for k, v in source.items() if k in SETTING_KEYS})
    return merged


def ase_settings(path: Path, atoms: Atoms) -> tuple[DftSettings, Params]:
    """Collect the settings of a calculation stored in an ASE file.

    Returns
    -------
    tuple
        The settings and the merged overrides (which may hold ``fmax`` and ``steps``).
    """
    values: Params = {"functional": "unknown", "ldau": False, "ivdw": 0, "dipole": False}
    try:
        params = _stored_parameters(path, atoms)
        values.update({k: v for k, f in DERIVED.items() if (v := f(params, atoms)) is not None})
    except Exception:
        raise ArscInputError(
            f"{path}: the stored calculator parameters are malformed (xc, mode, setups, ...)"
        ) from None
    values["ldau"] = bool(values.get("u_values"))
    extra = _overrides(path, atoms)
    values.update({k: v for k, v in extra.items() if k in DftSettings.model_fields})
    try:
        return DftSettings(**values), extra
    except ValidationError as exc:
        first = problems(exc, DftSettings)[0]
        raise ArscInputError(
            f"{path}: setting {first.key or 'settings'} = {shown(first.value)} is not valid "
            f"({one_line(first.what, 80).lower()})"
        ) from None


def _fmax(path: Path, extra: Params) -> float:
    value = extra.get("fmax", ase_conventions()["fmax"])
    try:
        fmax = float(value)
    except (TypeError, ValueError):
        fmax = math.nan
    if not math.isfinite(fmax) or fmax <= 0 or isinstance(value, bool):
        raise ArscInputError(
            f"{path}: setting fmax = {shown(value)} is not a positive force criterion (eV/Angstrom)"
        )
    return fmax


def _steps(path: Path, extra: Params) -> int | None:
    value = extra.get("steps")
    if value is None:
        return None
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and math.isfinite(value) and value >= 0 and float(value).is_integer():
        return int(value)
    raise ArscInputError(f"{path}: setting steps = {shown(value)} is not a step count (0 or more)")


def _frames(path: Path) -> list[Atoms]:
    from ase.io import read

    problem = file_problem(path)
    if problem is not None:
        raise ArscInputError(f"{path} {problem}")
    try:
        if path.stat().st_size == 0:
            raise ArscInputError(f"{path}: file is empty")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frames = read(path, index=":")
    except ArscInputError:
        raise
    except OSError as exc:
        why = one_line(exc.strerror or "corrupt or truncated file", 80).lower()
        raise ArscInputError(f"{path}: cannot read it as an ASE file ({why})") from None
    except Exception:
        raise ArscInputError(
            f"{path}: cannot read it as an ASE file (corrupt, truncated or another format)"
        ) from None
    frames = frames if isinstance(frames, list) else [frames]
    if not frames:
        raise ArscInputError(f"{path}: no frames")
    return frames


def _energy(atoms: Atoms, free: bool = False) -> float | None:
    try:
        return float(atoms.get_potential_energy(force_consistent=free))
    except Exception:  # no calculator or no such property stored
        return None


def read_ase_file(path: Path, parts: NameParts, engine: Engine = "gpaw") -> EnergyRow:
    """Read one calculation from an ASE file.

    Parameters
    ----------
    path
        ``.traj``, ``.extxyz``, ``.xyz`` or ``.gpw`` file.
    parts
        Site, adsorbate and mode parsed from the file name.
    engine
        ``gpaw`` or ``mlip``.

    Notes
    -----
    ``e0`` is the energy ASE reports (GPAW: extrapolated to zero width),
    ``f`` the force-consistent (free) energy when stored. ``converged``: a
    single frame counts as a converged single point; a trajectory is
    converged when the last frame's largest force is at most ``fmax``
    (recorded, else the ASE optimiser default from arsc/data/ingest.yaml).
    """
    frames = _frames(path)
    last = frames[-1]
    settings, extra = ase_settings(path, last)
    e0 = _energy(last)
    if e0 is None:
        raise ArscInputError(f"{path}: no energy in the file")
    previous = _energy(frames[-2]) if len(frames) > 1 else None
    free = _energy(last, free=True)
    last_de = None if previous is None else e0 - previous
    for label, value in (("energy", e0), ("free energy", free), ("energy change", last_de)):
        if not is_finite(value):
            assert value is not None
            raise ArscInputError(
                f"{path}: the last frame's {label} is {number(value)} (not a finite energy)"
            )
    fmax = _fmax(path, extra)
    converged = True
    if len(frames) > 1:
        try:
            converged = float(np.linalg.norm(last.get_forces(), axis=1).max()) <= fmax
        except Exception:  # no forces stored
            converged = False
    steps = _steps(path, extra)
    return row_from(
        settings,
        site=parts.site,
        adsorbate=parts.adsorbate,
        mode=parts.mode,
        e0=e0,
        f=free,
        engine=engine,
        converged=converged,
        ionic_steps=len(frames),
        last_de=last_de,
        nsw_reached=steps is not None and len(frames) - 1 >= steps,
        natoms=len(last),
        path=str(path),
    )
