"""Parse a finished VASP folder into a :class:`workflows.schemas.CalcDoc`.

The same document as every other engine's: energies (eV), final structure,
moments, convergence, settings record and fingerprint. The folder is read by
the one VASP reader, :func:`arsc.ingest.vasp.read_vasp_run` (the record the
energies table is built from too): energies and ionic history from
``vasprun.xml``, else ``OUTCAR``, else ``OSZICAR``; the final structure from
vasprun.xml or ``CONTCAR``; the total moment from OSZICAR's ``mag=``; the
settings from the INCAR and the POTCAR TITELs; convergence as VASP judged it
(vasprun.xml), else from NSW/NELM/EDIFFG of the INCAR
(:func:`arsc.ingest.vasp_settings.convergence_problems`). This module adds
what only the workflows need: per-atom moments and the wall time from
``OUTCAR``, custodian's corrections (``custodian.json``) as the convergence
retries, the KPOINTS, the metals' d-band moments from vasprun.xml's
projected DOS (:mod:`arsc.dband`) and the fingerprint.

The settings record (:func:`settings_record`) is every
:class:`arsc.ingest.table.DftSettings` field under its own name plus the
INCAR tags that change the result, the k-points and the POTCAR family. The
fingerprint keys the folder's *input* structure: the ``initial`` argument,
else ``POSCAR``, else (sac-hoer ships none) the final CONTCAR structure, each
with the INCAR's MAGMOM as initial moments.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pymatgen.core import Element, Structure
from pymatgen.io.ase import AseAtomsAdaptor
from pymatgen.io.vasp import Kpoints, Outcar

from arsc.errors import ArscInputError
from arsc.ingest.messages import present
from arsc.ingest.vasp import load_vasp_file, read_vasp_run, read_vasp_structure
from arsc.ingest.vasp_settings import (
    as_bool,
    integer_tag,
    number_tag,
    vasp_settings,
)
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


def _text(value: object) -> str:
    return str(value).strip().upper()


def _lreal(value: object) -> str:
    # LREAL is a logical or a word (Auto, On): compare in one spelling.
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    text = _text(value).strip(".")
    return {"T": "TRUE", "F": "FALSE", "A": "AUTO", "O": "ON"}.get(text, text)


#: INCAR tags recorded in the settings, with how each value is normalised.
RESULT_TAGS: dict[str, Callable[[Any], Any]] = {
    "GGA": _text,
    "METAGGA": _text,
    "LHFCALC": as_bool,
    "ENCUT": float,
    "PREC": _text,
    "LREAL": _lreal,
    "LASPH": as_bool,
    "ISPIN": int,
    "IVDW": int,
    "LVDW": as_bool,
    "LDAU": as_bool,
    "LDAUTYPE": int,
    "LDIPOL": as_bool,
    "IDIPOL": int,
    "EDIFF": float,
    "EDIFFG": float,
    "ISMEAR": int,
    "SIGMA": float,
}

#: Tags recorded only for relaxations (NSW > 0).
RELAX_TAGS: dict[str, Callable[[Any], Any]] = {"ISIF": int}


def kpoints_text(kpoints: Kpoints | None) -> str | None:
    """One-line description of a KPOINTS file: ``Gamma 3 3 1``, ``Automatic 25``, ..."""
    if kpoints is None:
        return None
    style = str(kpoints.style.name)
    if kpoints.num_kpts > 0:
        return f"{style} {kpoints.num_kpts} explicit points"
    text = " ".join(f"{k:g}" for k in kpoints.kpts[0])
    shift = tuple(float(s) for s in (kpoints.kpts_shift or (0, 0, 0)))
    if any(shift):
        text += " shift " + " ".join(f"{s:g}" for s in shift)
    return f"{style} {text}"


def potcar_family(potcars: Sequence[str]) -> str | None:
    """POTCAR family of the TITELs (``PAW_PBE``; ``A+B`` when mixed), None without TITELs."""
    families = sorted({t.split()[0] for t in potcars if t.split()})
    return "+".join(families) or None


def settings_record(
    incar: Mapping[str, Any],
    species: Sequence[str],
    kpoints: Kpoints | None,
    potcar: str | None,
    potcars: Sequence[str] = (),
) -> dict[str, Any]:
    """Return the settings record of a VASP calculation (a CalcDoc's ``settings``).

    The input set generator (before a run) and the output parser (after one,
    or for a foreign folder) both use it, so the same inputs give the same
    ``settings_hash``. Only structure-independent entries are kept, so the
    bare site and its adsorbed states of one site share the hash when their
    inputs agree. Tags that do not change the converged result (ALGO, NELM,
    NSW, LORBIT, NEDOS, LCHARG, parallelisation) and structure-derived tags
    (MAGMOM, DIPOL; the structure is in the fingerprint) are left out.

    Parameters
    ----------
    incar
        INCAR tags (pymatgen ``Incar`` or a mapping).
    species
        Element of each species in POTCAR order (for the U values).
    kpoints
        The KPOINTS, or None when VASP's KSPACING is used (then in the INCAR tags).
    potcar
        POTCAR functional or family (``PBE_54`` from a generator, ``PAW_PBE``
        from POTCAR TITELs), None when unknown.
    potcars
        POTCAR TITELs, when known (they name the functional when no tag does).

    Returns
    -------
    dict
        Every :class:`arsc.ingest.table.DftSettings` field under its own name
        (``functional``, ``encut``, ``ispin``, ``ldau``, ``u_values``,
        ``ivdw``, ``dipole``; :func:`arsc.ingest.vasp_settings.vasp_settings`),
        ``{tag: value or None}`` for :data:`RESULT_TAGS` (and ISIF for
        relaxations; absent tags are None: VASP's default applies),
        ``kpoints`` and ``potcar``.

    Raises
    ------
    ArscInputError
        ``tag ENCUT = Abc is not a number`` and the like.
    """
    tags = dict(RESULT_TAGS)
    if (integer_tag(incar, "NSW", 0) or 0) > 0:
        tags.update(RELAX_TAGS)
    out: dict[str, Any] = vasp_settings(incar, potcars, species).model_dump()
    out.update(
        {
            tag: (None if incar.get(tag) is None else convert(incar[tag]))
            for tag, convert in tags.items()
        }
    )
    out["kpoints"] = kpoints_text(kpoints) if kpoints is not None else incar.get("KSPACING")
    out["potcar"] = potcar
    return out


def _kpoints(folder: Path) -> Kpoints | None:
    if not present(folder / "KPOINTS"):
        return None
    return load_vasp_file(folder, "KPOINTS", Kpoints.from_file)


def _outcar_extras(folder: Path) -> tuple[list[float], float | None]:
    if not present(folder / "OUTCAR"):
        return [], None
    outcar = load_vasp_file(folder, "OUTCAR", lambda p: Outcar(str(p)))
    moments = [float(m.get("tot", 0.0)) for m in (outcar.magnetization or ())]
    wall = outcar.run_stats.get("Elapsed time (sec)")
    return moments, None if wall is None else float(wall)


def custodian_retries(folder: Path) -> list[str]:
    """Corrections custodian applied (``custodian.json``), one line each, in order."""
    if not present(folder / "custodian.json"):
        return []
    runs = load_vasp_file(folder, "custodian.json", lambda p: json.loads(p.read_text()))
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


def _with_initial_moments(structure: Structure, incar: Mapping[str, Any]) -> Structure:
    out = structure.copy()
    magmom = incar.get("MAGMOM")
    if isinstance(magmom, list) and len(magmom) == len(out):
        out.add_site_property("magmom", [float(m) for m in magmom])
    return out


def _input_structure(folder: Path, incar: Mapping[str, Any], final: Structure) -> Structure:
    if present(folder / "POSCAR"):
        poscar = AseAtomsAdaptor.get_structure(read_vasp_structure(folder, "POSCAR"))
        return _with_initial_moments(poscar, incar)
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

    path = folder / "vasprun.xml"
    if not present(path) or not metals:
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
        Folder with INCAR, CONTCAR and OSZICAR or OUTCAR (or vasprun.xml);
        KPOINTS, POSCAR, POTCAR/POTCAR_info, OUTCAR, custodian.json are
        optional.
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
        empty, truncated or malformed, or an energy is NaN or infinite (the
        messages of :func:`arsc.ingest.vasp.read_vasp_run`).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise ArscInputError(f"VASP folder {str(folder)!r} does not exist")
    run = read_vasp_run(folder)
    if run.final is None or run.structure_source not in ("vasprun.xml", "CONTCAR"):
        raise ArscInputError(f"{folder}: CONTCAR is missing (needed for the final structure)")
    incar = run.tags
    hist = run.history
    final = AseAtomsAdaptor.get_structure(run.final)
    start = initial if initial is not None else _input_structure(folder, incar, final)
    nsw = integer_tag(incar, "NSW", 0) or 0
    task: Literal["relax", "static"] = (
        "relax" if nsw > 0 and integer_tag(incar, "IBRION", 0) != -1 else "static"
    )
    record = dict(settings) if settings is not None else None
    if record is None:
        kpoints = _kpoints(folder)
        record = settings_record(
            incar, run.species, kpoints, potcar_family(run.potcars), run.potcars
        )
    key = fingerprint or calc_fingerprint(AseAtomsAdaptor.get_atoms(start), ENGINE, task, record)
    moments, wall = _outcar_extras(folder)
    if run.vasp_converged is None:
        problems = list(run.problems)
    else:  # VASP's own verdict, which also checks the forces
        problems = [] if run.vasp_converged else ["VASP did not converge (vasprun.xml)"]
    ediffg = number_tag(incar, "EDIFFG")
    convergence = Convergence(
        converged=not problems,
        ionic_steps=hist.ionic_steps,
        scf_iterations=hist.last_scf_steps,
        fmax=run.fmax,
        fmax_target=-ediffg if ediffg is not None and ediffg < 0 else None,
        last_energy_change=hist.last_de,
        retries=custodian_retries(folder),
    )
    if "tags" in start.site_properties and len(start) == len(final):
        final.add_site_property("tags", list(start.site_properties["tags"]))
    sigma = number_tag(incar, "SIGMA", VASP_DEFAULT_SIGMA)
    moments_d, dos = (
        _dband(folder, metal_indices(final), VASP_DEFAULT_SIGMA if sigma is None else sigma)
        if run.source == "vasprun.xml"
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
        energy=hist.e0,
        free_energy=hist.f,
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
