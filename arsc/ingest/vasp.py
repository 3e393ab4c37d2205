"""Read one VASP calculation folder: the one reader of a VASP result.

:func:`read_vasp_run` gives the whole record (:class:`VaspRun`) that both the
energies table (:func:`read_vasp_folder`) and the workflows' ``CalcDoc``
(``workflows.engines.vasp.parse``) are built from.

Energies come from the first output present of ``vasprun.xml``, ``OUTCAR``
and ``OSZICAR`` (pymatgen parsers; OSZICAR falls back to a tolerant reader
of the ionic lines). Settings come from INCAR (or the INCAR copy inside
vasprun.xml) and the POTCAR TITELs (POTCAR_info, POTCAR or vasprun.xml);
the final structure and atom count from vasprun.xml, CONTCAR or POSCAR; the
total moment from OSZICAR's ``mag=``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from arsc.errors import ArscInputError
from arsc.ingest.messages import (
    FileFormatError,
    file_problem,
    is_binary,
    is_finite,
    number,
    one_line,
    present,
    read_head,
    shown,
)
from arsc.ingest.pattern import NameParts
from arsc.ingest.table import DftSettings, EnergyRow, row_from
from arsc.ingest.vasp_settings import (
    convergence_problems,
    numeric_tags,
    potcar_elements,
    vasp_settings,
)
from arsc.io import read_structure

if TYPE_CHECKING:  # ASE is imported when a structure is read
    from ase import Atoms

T = TypeVar("T")

#: Output files that make a folder a VASP calculation, in order of preference.
OUTPUT_FILES: tuple[str, ...] = ("vasprun.xml", "OUTCAR", "OSZICAR")
#: Files that list POTCAR TITELs, in order of preference.
POTCAR_FILES: tuple[str, ...] = ("POTCAR_info", "POTCAR")
#: Structure files for the atom count, in order of preference.
STRUCTURE_FILES: tuple[str, ...] = ("CONTCAR", "POSCAR")

_TITEL = re.compile(r"TITEL\s*=\s*(.+?)\s*$", re.MULTILINE)
_IONIC = re.compile(
    r"^\s*(\d+)\s+(?:T=.*?)?F=\s*(\S+)\s+E0=\s*(\S+)(?:.*?\bd\s*E\s*=\s*(\S+))?"
    r"(?:.*?\bmag=\s*(\S+))?",
    re.MULTILINE,
)
_SCF = re.compile(r"^\s*[A-Z]{2,4}:\s+\d+")
_MISSING_EXPONENT = re.compile(r"(?<=\d)([+-]\d+)$")
#: Exceptions a pymatgen parser raises on a malformed file.
PARSE_ERRORS = (ValueError, IndexError, KeyError, TypeError, AttributeError, SyntaxError)


@dataclass(frozen=True)
class IonicHistory:
    """Energies of a run's ionic steps, as far as an output file tells."""

    e0: float
    f: float
    ionic_steps: int
    last_de: float | None
    last_scf_steps: int | None
    total_magmom: float | None = None
    """Total moment of the last ionic step (OSZICAR ``mag=``), mu_B."""
    unfinished: bool = False
    """SCF lines follow the last ionic line: the run stopped inside an ionic step."""


@dataclass(frozen=True)
class VaspOutputs:
    """What an output file gave: energies, and from vasprun.xml also tags and structure."""

    history: IonicHistory
    source: str
    tags: dict[str, Any] = field(default_factory=dict)
    potcars: list[str] = field(default_factory=list)
    natoms: int | None = None
    final: Atoms | None = None
    converged: bool | None = None
    fmax: float | None = None


#: What is wrong with a file of each name when its parser fails for its own reasons.
MALFORMED: dict[str, str] = {
    "vasprun.xml": "is not a complete vasprun.xml (truncated or malformed XML)",
    "OUTCAR": "is not a readable OUTCAR (malformed or truncated)",
    "OSZICAR": "has no readable ionic step (expected lines with 'F=' and 'E0=')",
    "INCAR": "is not a readable INCAR (expected 'TAG = value' lines)",
    "CONTCAR": "is not a readable structure in POSCAR format (malformed or truncated)",
    "POSCAR": "is not a readable structure in POSCAR format (malformed or truncated)",
    "KPOINTS": "is not a readable KPOINTS file (malformed or truncated)",
    "custodian.json": "is not a readable custodian.json (malformed JSON)",
}


def load_vasp_file(folder: Path, name: str, parse: Callable[[Path], T]) -> T:
    """Parse ``folder/name``; any problem with the file raises a one-line ArscInputError.

    The message names the folder and the file and says in plain words what is
    wrong (a folder instead of a file, empty, binary data, truncated,
    malformed); it never carries a parser's raw exception text.
    """
    path = folder / name
    problem = file_problem(path)
    if problem is not None:
        raise ArscInputError(f"{folder}: {name} {problem}")
    try:
        head = read_head(path)
        if not head.strip() and path.stat().st_size <= len(head):
            raise ArscInputError(f"{folder}: {name} is empty")
        if is_binary(head):
            raise ArscInputError(f"{folder}: {name} holds binary data, not text (corrupt file?)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return parse(path)
    except ArscInputError:
        raise
    except FileFormatError as exc:
        raise ArscInputError(f"{folder}: {name} {one_line(str(exc), 200)}") from None
    except OSError as exc:
        why = one_line(exc.strerror or "input/output error", 80).lower()
        raise ArscInputError(f"{folder}: cannot read {name} ({why})") from None
    except Exception:
        raise ArscInputError(f"{folder}: {name} {MALFORMED.get(name, 'is malformed')}") from None


def _float(text: str) -> float:
    return float(_MISSING_EXPONENT.sub(r"E\1", text))


def _history(
    e0: list[float],
    f: list[float],
    de: float | None,
    scf: int | None,
    mag: float | None = None,
    unfinished: bool = False,
) -> IonicHistory:
    last_de = (de if de is not None else f[-1] - f[-2]) if len(f) > 1 else None
    return IonicHistory(e0[-1], f[-1], len(f), last_de, scf, mag, unfinished)


def parse_oszicar_text(text: str) -> IonicHistory:
    """Read the ionic lines of an OSZICAR text with regular expressions only.

    Tolerates what pymatgen's reader does not: a missing header, stray
    lines, SCF lines with overflowed (``*****``) fields.

    Raises
    ------
    FileFormatError
        If there is no complete ionic line or its energies are unreadable.
    """
    lines = text.splitlines()
    ionic = [(i, m) for i, line in enumerate(lines) if (m := _IONIC.match(line))]
    if not ionic:
        raise FileFormatError("has no ionic step (no line with 'F=' and 'E0=')")
    try:
        f = [_float(m.group(2)) for _, m in ionic]
        e0 = [_float(m.group(3)) for _, m in ionic]
    except ValueError:
        raise FileFormatError(
            "has an ionic step whose F or E0 is not a number (overflowed '****' field?)"
        ) from None
    start = ionic[-2][0] + 1 if len(ionic) > 1 else 0
    scf = sum(1 for line in lines[start : ionic[-1][0]] if _SCF.match(line))
    last = ionic[-1][1].group(4)
    try:
        de = _float(last) if last and len(ionic) > 1 else None
    except ValueError:
        de = None  # the energy change is recomputed from F
    moment = ionic[-1][1].group(5)
    try:
        mag = _float(moment) if moment else None
    except ValueError:
        mag = None  # an overflowed moment is left unknown
    unfinished = any(_SCF.match(line) for line in lines[ionic[-1][0] + 1 :])
    return _history(e0, f, de, scf or None, mag, unfinished)


def read_oszicar(path: Path) -> IonicHistory:
    """Read an OSZICAR with pymatgen, falling back to :func:`parse_oszicar_text`.

    Raises
    ------
    FileFormatError
        If the file is truncated (its last line is incomplete) or has no
        ionic step.
    """
    text = path.read_text(errors="replace")
    if not text.endswith("\n"):
        raise FileFormatError("is truncated (its last line has no end; the run was cut off?)")
    from pymatgen.io.vasp import Oszicar

    try:
        osz = Oszicar(path)
        steps = [s for s in osz.ionic_steps if "F" in s and "E0" in s]
        scf = (
            osz.electronic_steps[len(steps) - 1]
            if len(osz.electronic_steps) >= len(steps)
            else None
        )
        de = steps[-1].get("dE") if len(steps) > 1 else None
        mag = steps[-1].get("mag")
        return _history(
            [float(s["E0"]) for s in steps],
            [float(s["F"]) for s in steps],
            None if de is None else float(de),
            len(scf) if scf else None,
            None if mag is None else float(mag),
            len(osz.electronic_steps) > len(steps),
        )
    except Exception:
        return parse_oszicar_text(text)


def _from_oszicar(folder: Path) -> VaspOutputs:
    return VaspOutputs(load_vasp_file(folder, "OSZICAR", read_oszicar), "OSZICAR")


def _from_outcar(folder: Path) -> VaspOutputs:
    from pymatgen.io.vasp import Outcar

    def parse(path: Path) -> VaspOutputs:
        out = Outcar(path)
        out.read_pattern(
            {"f": r"free\s+energy\s+TOTEN\s+=\s+(\S+)", "e0": r"energy\(sigma->0\)\s+=\s+(\S+)"},
            postprocess=float,
        )
        f, e0 = [v[0] for v in out.data["f"]], [v[0] for v in out.data["e0"]]
        if not f or not e0:
            raise FileFormatError("has no ionic step (no 'free energy TOTEN' line)")
        if out.final_energy is None or out.final_fr_energy is None:
            raise FileFormatError("has no final energy")
        hist = _history(e0, f, None, None)
        # pymatgen's final energies are those of the last ionic step
        return VaspOutputs(
            replace(hist, e0=float(out.final_energy), f=float(out.final_fr_energy)), "OUTCAR"
        )

    return load_vasp_file(folder, "OUTCAR", parse)


def _fmax(step: dict[str, Any]) -> float | None:
    import numpy as np

    forces = step.get("forces")
    if forces is None or len(forces) == 0:
        return None
    return float(np.linalg.norm(np.asarray(forces, dtype=float), axis=1).max())


def _from_vasprun(folder: Path) -> VaspOutputs:
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.io.vasp import Vasprun

    def parse(path: Path) -> VaspOutputs:
        run = Vasprun(
            path,
            parse_dos=False,
            parse_eigen=False,
            parse_projected_eigen=False,
            parse_potcar_file=False,
        )
        if not run.ionic_steps:
            raise FileFormatError("has no ionic step")
        f = [float(s["e_fr_energy"]) for s in run.ionic_steps]
        hist = _history(
            [float(s["e_0_energy"]) for s in run.ionic_steps],
            f,
            None,
            len(run.ionic_steps[-1].get("electronic_steps", [])) or None,
        )
        tags = dict(run.incar)
        if "ENCUT" not in tags and "ENCUT" in run.parameters:
            tags["ENCUT"] = run.parameters["ENCUT"]
        return VaspOutputs(
            replace(hist, e0=float(run.final_energy)),  # pymatgen fixes a VASP E0 bug
            "vasprun.xml",
            tags=tags,
            potcars=[str(s) for s in run.potcar_symbols],
            natoms=len(run.final_structure),
            final=AseAtomsAdaptor.get_atoms(run.final_structure),
            converged=bool(run.converged),
            fmax=_fmax(run.ionic_steps[-1]),
        )

    return load_vasp_file(folder, "vasprun.xml", parse)


#: Reader of each output file.
OUTPUT_READERS: dict[str, Callable[[Path], VaspOutputs]] = {
    "vasprun.xml": _from_vasprun,
    "OUTCAR": _from_outcar,
    "OSZICAR": _from_oszicar,
}


def is_vasp_folder(folder: Path) -> bool:
    """Whether the folder holds a VASP output (vasprun.xml, OUTCAR or OSZICAR).

    An output that is there but is not a regular file (a folder, a broken
    link) still makes the folder a calculation: it becomes an error row
    rather than silently disappearing.
    """
    return any(present(folder / name) for name in OUTPUT_FILES)


def find_vasp_folders(root: Path) -> Iterator[Path]:
    """Yield every folder under ``root`` (itself included) that holds a VASP output, sorted."""
    candidates = [root, *sorted(p for p in root.rglob("*") if p.is_dir())]
    yield from (p for p in candidates if is_vasp_folder(p))


def _incar(folder: Path) -> dict[str, Any]:
    from pymatgen.io.vasp import Incar

    def parse(path: Path) -> dict[str, Any]:
        lines = path.read_text(errors="replace").splitlines()
        for n, line in enumerate(lines, start=1):
            body = re.split(r"[#!]", line, maxsplit=1)[0].strip()
            continued = n > 1 and lines[n - 2].rstrip().endswith("\\")
            if body and "=" not in body and not continued:
                raise FileFormatError(
                    f"line {n} ('{shown(body)}') is not 'TAG = value' (truncated file?)"
                )
        tags = dict(Incar.from_file(path))
        tags.update(numeric_tags(lines))  # pymatgen reads "52O" as 52 and "1D-5" as 1
        return tags

    return load_vasp_file(folder, "INCAR", parse)


def _potcar_titles(folder: Path) -> list[str]:
    for name in POTCAR_FILES:
        if present(folder / name):
            return load_vasp_file(
                folder, name, lambda p: _TITEL.findall(p.read_text(errors="replace"))
            )
    return []


def read_vasp_structure(folder: Path, name: str) -> Atoms:
    """Read ``folder/name`` (CONTCAR, POSCAR) as ASE Atoms; problems as one-line errors.

    ASE's reader is used: it is several times faster than pymatgen's Poscar
    for 100+ atoms.
    """
    return load_vasp_file(folder, name, read_structure)


def _structure(folder: Path) -> tuple[str, Atoms] | None:
    """Return the first structure file present (CONTCAR, else POSCAR) and its atoms."""
    for name in STRUCTURE_FILES:
        if present(folder / name):
            return name, read_vasp_structure(folder, name)
    return None


def _oszicar_magmom(folder: Path) -> float | None:
    """Total moment of OSZICAR's last ionic line, beside another output (None when unknown)."""
    path = folder / "OSZICAR"
    if file_problem(path) is not None:
        return None
    try:
        return read_oszicar(path).total_magmom
    except Exception:  # the moment is optional; the energies come from the other output
        return None


def _check_energies(folder: Path, source: str, hist: IonicHistory) -> None:
    """Refuse a NaN or infinite energy of the last ionic step (a broken run, not a result)."""
    for label, value in (("E0", hist.e0), ("F", hist.f), ("d E", hist.last_de)):
        if not is_finite(value):
            assert value is not None
            raise ArscInputError(
                f"{folder}: {source} gives {label} = {number(value)} in the last ionic step "
                "(not a finite energy)"
            )


@dataclass(frozen=True)
class VaspRun:
    """Everything read from one VASP calculation folder (energies in eV).

    The one record of a VASP result: the energies-table row
    (:func:`read_vasp_folder`) and the workflows' ``CalcDoc`` are both built
    from it.
    """

    folder: Path
    source: str
    """Output file the energies came from (vasprun.xml, OUTCAR or OSZICAR)."""
    history: IonicHistory
    tags: dict[str, Any]
    """INCAR tags (INCAR, else the copy inside vasprun.xml)."""
    tag_source: str
    potcars: list[str]
    """POTCAR TITELs in species order (may be empty)."""
    species: list[str]
    """Element of each species: POTCAR order, else order of appearance in the structure."""
    settings: DftSettings
    problems: list[str]
    """Why the run did not finish normally by its INCAR (empty: converged)."""
    nsw_reached: bool
    final: Atoms | None
    """Final structure (vasprun.xml, CONTCAR or POSCAR); None when no file gives one."""
    structure_source: str | None
    """File the final structure came from."""
    natoms: int | None
    total_magmom: float | None
    vasp_converged: bool | None
    """VASP's own verdict (vasprun.xml only), which also checks forces."""
    fmax: float | None
    """Largest residual force of the last ionic step, eV/Angstrom (vasprun.xml only)."""

    @property
    def converged(self) -> bool:
        """Whether the run finished normally by its INCAR (see :func:`convergence_problems`)."""
        return not self.problems


def read_vasp_run(folder: Path) -> VaspRun:
    """Read one VASP calculation folder into its record.

    Parameters
    ----------
    folder
        Folder with vasprun.xml, OUTCAR or OSZICAR, and INCAR (unless
        vasprun.xml is there).

    Raises
    ------
    ArscInputError
        ``"<folder>: OSZICAR is empty"`` and the like for an empty, truncated,
        binary or malformed file, an expected file that is a folder or a
        broken link, a missing output, a NaN or infinite energy, a tag that
        is not a number (``"<folder>: INCAR tag ENCUT = Abc is not a
        number"``), or a missing INCAR.
    """
    source = next((name for name in OUTPUT_FILES if present(folder / name)), None)
    if source is None:
        raise ArscInputError(f"{folder}: no VASP output ({', '.join(OUTPUT_FILES)})")
    out = OUTPUT_READERS[source](folder)
    _check_energies(folder, source, out.history)
    if present(folder / "INCAR"):
        tags, tag_source = _incar(folder), "INCAR"
    elif out.tags:
        tags, tag_source = out.tags, source
    else:
        raise ArscInputError(f"{folder}: no INCAR (needed for the settings)")
    potcars = _potcar_titles(folder) or out.potcars
    final: Atoms | None = out.final
    structure_source: str | None = source if final is not None else None
    if final is None and (found := _structure(folder)) is not None:
        structure_source, final = found
    natoms = out.natoms if out.natoms is not None else (len(final) if final else None)
    appearance = list(dict.fromkeys(final.get_chemical_symbols())) if final is not None else []
    species = potcar_elements(potcars) or appearance
    hist = out.history
    try:
        settings = vasp_settings(tags, potcars, species)
        problems, nsw_reached = convergence_problems(
            tags, hist.ionic_steps, hist.last_de, hist.last_scf_steps
        )
    except ArscInputError as exc:
        raise ArscInputError(f"{folder}: {tag_source} {exc}") from None
    if hist.unfinished:
        problems.insert(0, f"run stopped inside ionic step {hist.ionic_steps + 1} ({source})")
    magmom = hist.total_magmom if source == "OSZICAR" else _oszicar_magmom(folder)
    return VaspRun(
        folder=folder,
        source=source,
        history=hist,
        tags=tags,
        tag_source=tag_source,
        potcars=potcars,
        species=species,
        settings=settings,
        problems=problems,
        nsw_reached=nsw_reached,
        final=final,
        structure_source=structure_source,
        natoms=natoms,
        total_magmom=magmom,
        vasp_converged=out.converged,
        fmax=out.fmax,
    )


def read_vasp_folder(folder: Path, parts: NameParts) -> EnergyRow:
    """Read one VASP calculation folder as an energies-table row.

    ``parts`` are the site, adsorbate and mode parsed from the folder name;
    the folder and the errors are those of :func:`read_vasp_run`.
    """
    run = read_vasp_run(folder)
    hist = run.history
    return row_from(
        run.settings,
        site=parts.site,
        adsorbate=parts.adsorbate,
        mode=parts.mode,
        e0=hist.e0,
        f=hist.f,
        engine="vasp",
        converged=run.converged,
        ionic_steps=hist.ionic_steps,
        last_de=hist.last_de,
        nsw_reached=run.nsw_reached,
        natoms=run.natoms,
        path=str(folder),
    )
