"""Parse a finished VASP folder into a :class:`workflows.schemas.CalcDoc`.

The same document as every other engine's: energies (eV), final structure,
moments, convergence, settings record and fingerprint. Two readers, tried in
order (a registry, :data:`READERS`):

``vasprun``
    ``vasprun.xml[.gz]`` with pymatgen's Vasprun: E0, F, ionic and SCF steps,
    residual forces, final structure, convergence as VASP judged it; the
    metals' d-band moments from its projected DOS via :mod:`arsc.dband`.
``oszicar``
    ``OSZICAR`` + ``CONTCAR`` (what the public sac-hoer data holds): E0, F, the
    total moment ``mag=`` and the energy change ``d E`` of the last ionic line;
    the final structure from CONTCAR; convergence judged from NSW/NELM/EDIFFG
    of the INCAR (a force criterion cannot be checked from energies).

Per-atom moments and the wall time come from ``OUTCAR`` when present;
custodian's corrections (``custodian.json``) become the convergence retries.
The fingerprint keys the folder's *input* structure: the ``initial`` argument,
else ``POSCAR``, else (sac-hoer ships none) the final CONTCAR structure, each
with the INCAR's MAGMOM as initial moments.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pymatgen.core import Element, Structure
from pymatgen.io.ase import AseAtomsAdaptor
from pymatgen.io.vasp import Incar, Kpoints, Oszicar, Outcar, Poscar, Vasprun

from arsc.errors import ArscInputError
from workflows.engines.vasp.tags import vasp_settings
from workflows.fingerprint import calc_fingerprint, settings_hash
from workflows.schemas import CalcDoc, Convergence, ProjectedDos

ENGINE = "vasp"
#: VASP's SIGMA when the INCAR does not set it, eV (VASP wiki, SIGMA).
VASP_DEFAULT_SIGMA = 0.2


def structure_dict(structure: Structure) -> dict[str, Any]:
    """``Structure.as_dict()`` without the monty class keys.

    With ``@module``/``@class`` the nested dict would be revived as a Structure
    when jobflow resolves a reference to a CalcDoc, and then fail CalcDoc's
    ``structure: dict`` field; ``Structure.from_dict`` does not need them.
    """
    return {k: v for k, v in structure.as_dict().items() if not k.startswith("@")}


def _find(folder: Path, name: str) -> Path | None:
    """Return ``folder/name`` or its gzipped copy, if either exists."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _bad(folder: Path, name: str, why: str) -> ArscInputError:
    return ArscInputError(f"VASP folder {str(folder)!r}: {name} {why}")


def _required(folder: Path, name: str) -> Path:
    found = _find(folder, name)
    if found is None:
        raise _bad(folder, name, "is missing")
    return found


@dataclass
class RunResult:
    """What one reader extracts from a VASP folder (energies in eV)."""

    energy: float
    free_energy: float
    structure: Structure
    ionic_steps: int
    scf_iterations: int | None
    last_energy_change: float | None
    total_magmom: float | None = None
    fmax: float | None = None
    converged: bool | None = None
    """VASP's own verdict (vasprun); None: judge from the INCAR."""
    problems: list[str] = field(default_factory=list)
    from_vasprun: bool = False


def _read_structure(folder: Path, name: str) -> Structure:
    path = _required(folder, name)
    try:
        return Poscar.from_file(path, check_for_potcar=False).structure
    except Exception as exc:  # pymatgen raises ValueError/IndexError/... for a bad file
        raise _bad(folder, name, f"cannot be read as a structure ({exc})") from None


def _read_oszicar(folder: Path) -> RunResult:
    path = _required(folder, "OSZICAR")
    try:
        osz = Oszicar(str(path))
    except Exception as exc:  # a line cut in the middle fails float conversion
        raise _bad(folder, "OSZICAR", f"is truncated or malformed ({exc})") from None
    if not osz.ionic_steps:
        raise _bad(folder, "OSZICAR", "has no complete ionic step (empty or truncated)")
    last = osz.ionic_steps[-1]
    if not {"F", "E0", "dE"} <= set(last):
        raise _bad(folder, "OSZICAR", "is truncated (last ionic line lacks F=, E0= or d E=)")
    n = len(osz.ionic_steps)
    problems = []
    if len(osz.electronic_steps) > n:
        problems.append(f"run stopped inside ionic step {n + 1} (OSZICAR)")
    scf = osz.electronic_steps[n - 1] if len(osz.electronic_steps) >= n else []
    return RunResult(
        energy=float(last["E0"]),
        free_energy=float(last["F"]),
        structure=_read_structure(folder, "CONTCAR"),
        ionic_steps=n,
        scf_iterations=len(scf) or None,
        # the first ionic line's "d E" is the energy itself, not a change
        last_energy_change=float(last["dE"]) if n > 1 else None,
        total_magmom=float(last["mag"]) if "mag" in last else None,
        problems=problems,
    )


def _fmax(step: Mapping[str, Any]) -> float | None:
    forces = step.get("forces")
    if forces is None or len(forces) == 0:
        return None
    return float(np.linalg.norm(np.asarray(forces, dtype=float), axis=1).max())


def _read_vasprun(folder: Path) -> RunResult:
    path = _required(folder, "vasprun.xml")
    try:
        run = Vasprun(
            str(path),
            parse_dos=False,
            parse_eigen=False,
            parse_projected_eigen=False,
            parse_potcar_file=False,
        )
    except Exception as exc:  # pymatgen raises many types for a malformed file
        raise _bad(folder, path.name, f"cannot be read ({exc})") from None
    if not run.ionic_steps:
        raise _bad(folder, path.name, "has no ionic step")
    last = run.ionic_steps[-1]
    n = len(run.ionic_steps)
    mag = None
    oszicar = _find(folder, "OSZICAR")
    if oszicar is not None:
        try:
            mag = Oszicar(str(oszicar)).ionic_steps[-1].get("mag")
        except Exception:  # the moment is optional; vasprun.xml is authoritative
            mag = None
    previous = run.ionic_steps[-2]["e_0_energy"] if n > 1 else None
    return RunResult(
        energy=float(last["e_0_energy"]),
        free_energy=float(last["e_fr_energy"]),
        structure=run.final_structure,
        ionic_steps=n,
        scf_iterations=len(last.get("electronic_steps", [])) or None,
        last_energy_change=None if previous is None else float(last["e_0_energy"] - previous),
        total_magmom=None if mag is None else float(mag),
        fmax=_fmax(last),
        converged=bool(run.converged),
        from_vasprun=True,
    )


#: Readers by name, in order of preference, with the file that selects each.
READERS: dict[str, tuple[str, Callable[[Path], RunResult]]] = {
    "vasprun": ("vasprun.xml", _read_vasprun),
    "oszicar": ("OSZICAR", _read_oszicar),
}


def _read_run(folder: Path) -> RunResult:
    for marker, reader in READERS.values():
        if _find(folder, marker) is not None:
            return reader(folder)
    raise _bad(folder, "OSZICAR", "is missing (and there is no vasprun.xml)")


def _read_incar(folder: Path) -> Incar:
    path = _required(folder, "INCAR")
    try:
        return Incar.from_file(path)
    except Exception as exc:  # malformed tag lines
        raise _bad(folder, "INCAR", f"cannot be read ({exc})") from None


def _read_kpoints(folder: Path) -> Kpoints | None:
    path = _find(folder, "KPOINTS")
    if path is None:
        return None
    try:
        return Kpoints.from_file(path)
    except Exception as exc:  # malformed KPOINTS
        raise _bad(folder, "KPOINTS", f"cannot be read ({exc})") from None


def potcar_family(folder: Path) -> str | None:
    """POTCAR family from the TITELs (``PAW_PBE``) of POTCAR or POTCAR_info, if present."""
    for name in ("POTCAR", "POTCAR_info"):
        path = _find(folder, name)
        if path is None:
            continue
        titels = [
            line.split("=", 1)[1].split()
            for line in path.read_text(errors="replace").splitlines()
            if line.strip().startswith("TITEL")
        ]
        families = sorted({t[0] for t in titels if t})
        if families:
            return "+".join(families)
    return None


def _outcar_extras(folder: Path) -> tuple[list[float], float | None]:
    path = _find(folder, "OUTCAR")
    if path is None:
        return [], None
    try:
        outcar = Outcar(str(path))
    except Exception as exc:  # a cut OUTCAR
        raise _bad(folder, "OUTCAR", f"cannot be read ({exc})") from None
    moments = [float(m.get("tot", 0.0)) for m in (outcar.magnetization or ())]
    wall = outcar.run_stats.get("Elapsed time (sec)")
    return moments, None if wall is None else float(wall)


def custodian_retries(folder: Path) -> list[str]:
    """Corrections custodian applied (``custodian.json``), one line each, in order."""
    path = _find(folder, "custodian.json")
    if path is None or path.suffix == ".gz":
        return []
    try:
        runs = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise _bad(folder, "custodian.json", f"is not JSON ({exc})") from None
    out = []
    for run in runs if isinstance(runs, list) else []:
        for corr in run.get("corrections", []):
            handler = str(corr.get("handler", {}).get("@class", "handler"))
            errors = ", ".join(str(e) for e in corr.get("errors", []))
            actions = "; ".join(
                json.dumps(a.get("action", a), sort_keys=True) for a in corr.get("actions") or []
            )
            out.append(f"{handler}: {errors} -> {actions}".strip())
    return out


def _convergence(incar: Incar, run: RunResult, retries: list[str]) -> tuple[Convergence, list[str]]:
    """Convergence record and the reasons it failed (empty when converged)."""
    nsw = int(incar.get("NSW", 0) or 0)
    nelm = int(incar.get("NELM", 60))
    ediffg = incar.get("EDIFFG")
    problems = list(run.problems)
    if run.converged is None:
        if run.scf_iterations is not None and run.scf_iterations >= nelm:
            problems.append(f"last SCF used all NELM = {nelm} iterations")
        if nsw > 0 and run.ionic_steps >= nsw:
            problems.append(f"ionic steps reached NSW = {nsw}")
        if (
            nsw > 0
            and ediffg is not None
            and float(ediffg) > 0
            and run.last_energy_change is not None
            and abs(run.last_energy_change) >= float(ediffg)
        ):
            problems.append(f"last energy change {run.last_energy_change:g} eV >= EDIFFG")
    elif not run.converged:
        problems.append("VASP did not converge (vasprun.xml)")
    conv = Convergence(
        converged=not problems,
        ionic_steps=run.ionic_steps,
        scf_iterations=run.scf_iterations,
        fmax=run.fmax,
        fmax_target=-float(ediffg) if ediffg is not None and float(ediffg) < 0 else None,
        last_energy_change=run.last_energy_change,
        retries=retries,
    )
    return conv, problems


def _with_initial_moments(structure: Structure, incar: Incar) -> Structure:
    out = structure.copy()
    magmom = incar.get("MAGMOM")
    if isinstance(magmom, list) and len(magmom) == len(out):
        out.add_site_property("magmom", [float(m) for m in magmom])
    return out


def _input_structure(folder: Path, incar: Incar, final: Structure) -> Structure:
    if _find(folder, "POSCAR") is not None:
        return _with_initial_moments(_read_structure(folder, "POSCAR"), incar)
    return _with_initial_moments(final, incar)


def metal_indices(structure: Structure) -> dict[str, int]:
    """Return the indices of the metals by role: tags 1/2 (M1/M2), else the first two metals.

    Without tags, transition metals are named M1, M2 in POSCAR order.
    """
    tags = structure.site_properties.get("tags")
    if tags is not None:
        roles = {f"M{t}": i for i, t in enumerate(tags) if t in (1, 2)}
        if roles:
            return dict(sorted(roles.items()))
    metals = [i for i, s in enumerate(structure) if Element(s.specie.symbol).is_transition_metal]
    return {f"M{k + 1}": i for k, i in enumerate(metals[:2])}


def _dband(
    folder: Path, metals: Mapping[str, int], sigma: float
) -> tuple[dict[str, Any], ProjectedDos | None]:
    """d-band moments and d-DOS arrays of the metals from vasprun.xml (empty without a PDOS)."""
    from arsc import dband

    path = _find(folder, "vasprun.xml")
    if path is None or not metals:
        return {}, None
    try:
        dos = dband.read_vasp_dos(path)
        moments = {
            role: dband.analyse(dos.energies, dos.d[i], dos.fermi) for role, i in metals.items()
        }
    except ArscInputError:  # no projected DOS in this run (LORBIT unset)
        return {}, None
    arrays = ProjectedDos(
        energies=dos.energies.tolist(),
        fermi=dos.fermi,
        width=sigma,
        d={role: dos.d[i].tolist() for role, i in metals.items()},
    )
    return moments, arrays


def calc_doc_from_vasp_dir(
    path: str | Path,
    *,
    initial: Structure | None = None,
    settings: Mapping[str, Any] | None = None,
    fingerprint: str | None = None,
    labels: Mapping[str, str | None] | None = None,
) -> CalcDoc:
    """Parse a finished VASP folder into the engine-independent document.

    Parameters
    ----------
    path
        Folder with INCAR, CONTCAR and OSZICAR (or vasprun.xml); KPOINTS,
        POSCAR, POTCAR/POTCAR_info, OUTCAR, custodian.json are optional.
    initial
        Input structure in POSCAR order (tags, initial moments and the
        ``site_id``/``adsorbate``/``mode`` properties are used); default read
        from the folder (see the module docstring).
    settings
        Settings record to store instead of the one read from the folder's
        inputs (a job passes the record its fingerprint was made from).
    fingerprint
        Key to store; default computed from the input structure, engine
        ``vasp``, the task and the settings.
    labels
        ``site_id``, ``adsorbate``, ``mode`` overriding those of ``initial``.

    Returns
    -------
    CalcDoc
        ``task`` is ``relax`` when NSW > 0 and IBRION is not -1, else ``static``;
        ``status`` is ``failed`` (with the reasons) when not converged.

    Raises
    ------
    ArscInputError
        One line naming the folder and the file when a needed file is missing,
        empty, truncated or malformed.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise ArscInputError(f"VASP folder {str(folder)!r} does not exist")
    incar = _read_incar(folder)
    run = _read_run(folder)
    start = initial if initial is not None else _input_structure(folder, incar, run.structure)
    nsw = int(incar.get("NSW", 0) or 0)
    task: Literal["relax", "static"] = (
        "relax" if nsw > 0 and int(incar.get("IBRION", 0)) != -1 else "static"
    )
    species = Poscar(run.structure).site_symbols
    record = dict(settings) if settings is not None else None
    if record is None:
        record = vasp_settings(incar, species, _read_kpoints(folder), potcar_family(folder))
    key = fingerprint or calc_fingerprint(AseAtomsAdaptor.get_atoms(start), ENGINE, task, record)
    moments, wall = _outcar_extras(folder)
    convergence, problems = _convergence(incar, run, custodian_retries(folder))
    final = run.structure.copy()
    if "tags" in start.site_properties and len(start) == len(final):
        final.add_site_property("tags", list(start.site_properties["tags"]))
    moments_d, dos = (
        _dband(folder, metal_indices(final), float(incar.get("SIGMA", VASP_DEFAULT_SIGMA)))
        if run.from_vasprun
        else ({}, None)
    )
    meta = {k: start.properties.get(k) for k in ("site_id", "adsorbate", "mode")}
    meta.update(labels or {})
    return CalcDoc(
        fingerprint=key,
        engine=ENGINE,
        task=task,
        status="ok" if not problems else "failed",
        error=None if not problems else "; ".join(problems),
        site_id=meta.get("site_id"),
        adsorbate=meta.get("adsorbate") or "bare",
        mode=meta.get("mode"),
        formula=AseAtomsAdaptor.get_atoms(final).get_chemical_formula(),
        natoms=len(final),
        energy=run.energy,
        free_energy=run.free_energy,
        magmoms=moments,
        total_magmom=run.total_magmom,
        structure=structure_dict(final),
        convergence=convergence,
        settings=record,
        settings_hash=settings_hash(record),
        dband=moments_d,
        dos=dos,
        wall_time=wall,
    )
