"""Walk a tree of calculations, read each one and check the settings' consistency."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

from arsc.errors import ArscInputError, unknown
from arsc.ingest.consistency import check_consistency, count_causes
from arsc.ingest.gpaw import ASE_SUFFIXES, find_ase_files, read_ase_file
from arsc.ingest.messages import shown
from arsc.ingest.pattern import NameParts, NamePattern
from arsc.ingest.table import BARE, EnergyRow, Engine, error_row
from arsc.ingest.vasp import OUTPUT_FILES, find_vasp_folders, read_vasp_folder


@dataclass(frozen=True)
class Reader:
    """How to find and read the calculations of one code.

    Attributes
    ----------
    find
        Yields the calculations (folders or files) under a root.
    name
        The name the pattern is matched against, from a calculation's path
        relative to the root.
    read
        Reads one calculation into a row.
    what
        What a calculation is, for messages.
    """

    find: Callable[[Path], Iterable[Path]]
    name: Callable[[Path, Path], str]
    read: Callable[[Path, NameParts, Engine], EnergyRow]
    what: str


def _folder_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).as_posix()
    return path.resolve().name if rel == "." else rel


def _file_name(path: Path, root: Path) -> str:
    rel = path.name if path == root else path.relative_to(root).as_posix()
    return rel[: -len(path.suffix)] if path.suffix else rel


#: Reader of each engine; ``mlip`` results are ASE files like GPAW's.
READERS: dict[Engine, Reader] = {
    "vasp": Reader(
        find_vasp_folders,
        _folder_name,
        lambda p, parts, engine: read_vasp_folder(p, parts),
        f"VASP calculation folders (with {', '.join(OUTPUT_FILES)})",
    ),
    "gpaw": Reader(
        find_ase_files, _file_name, read_ase_file, f"ASE files ({', '.join(ASE_SUFFIXES)})"
    ),
    "mlip": Reader(
        find_ase_files, _file_name, read_ase_file, f"ASE files ({', '.join(ASE_SUFFIXES)})"
    ),
}


class IngestSummary(BaseModel):
    """Counts of an ingestion (all are numbers of calculations unless said otherwise)."""

    rows: int = Field(description="Rows in the table (read errors included)")
    sites: int = Field(description="Distinct sites")
    bare_runs: int = Field(description="Rows of bare-site runs")
    consistent: int = Field(description="Rows with consistent=True")
    inconsistent: int = Field(
        description="Readable rows whose settings differ from the bare run's, or without one"
    )
    read_errors: int = Field(description="Rows whose files could not be read")
    skipped: int = Field(description="Calculations whose name did not match the pattern")
    not_converged: int = Field(description="Readable rows with converged=False")
    by_cause: dict[str, int] = Field(
        description="Inconsistent and unreadable rows per cause combination, e.g. 'LDAU', "
        "'ENCUT+IVDW', 'no bare-site run', 'read error'"
    )


@dataclass
class IngestResult:
    """Rows of an ingested tree and what could not be ingested.

    Attributes
    ----------
    rows
        One row per calculation whose name matched, consistency checked;
        unreadable calculations are rows with ``consistent=False`` and the
        error as ``reason``.
    skipped
        Paths whose name did not match the pattern.
    """

    rows: list[EnergyRow]
    skipped: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        """One line per calculation that could not be read."""
        return [r.reason for r in self.rows if not r.readable]

    @property
    def inconsistent(self) -> list[EnergyRow]:
        """Readable rows whose settings differ from their bare run (or that have none)."""
        return [r for r in self.rows if r.readable and not r.consistent]

    def summary(self) -> IngestSummary:
        """Count rows, sites, consistent and inconsistent rows (by cause), errors, skipped."""
        return IngestSummary(
            rows=len(self.rows),
            sites=len({r.site for r in self.rows}),
            bare_runs=sum(r.adsorbate == BARE for r in self.rows),
            consistent=sum(r.consistent for r in self.rows),
            inconsistent=len(self.inconsistent),
            read_errors=len(self.errors),
            skipped=len(self.skipped),
            not_converged=sum(r.readable and not r.converged for r in self.rows),
            by_cause=count_causes(self.rows),
        )


def ingest_runs(
    root: str | Path, engine: Engine = "vasp", pattern: str = "{site}_{adsorbate}", bare: str = BARE
) -> IngestResult:
    """Read every calculation under ``root`` into rows and check their consistency.

    Parameters
    ----------
    root
        Folder to walk (for ASE engines also a single file).
    engine
        ``vasp``, ``gpaw`` or ``mlip`` (see :data:`READERS`).
    pattern
        Name pattern, see :mod:`arsc.ingest.pattern`.
    bare
        Adsorbate token of the bare-site runs (e.g. ``substrate``).

    Raises
    ------
    ArscInputError
        If the root does not exist or is a file the engine cannot read, the
        engine, pattern or bare token is invalid, no calculation is found, or
        no calculation's name matches the pattern. A calculation that cannot
        be read is not an exception: it is an error row.
    """
    base = Path(root)
    if engine not in READERS:
        raise unknown("engine", engine, READERS)
    reader = READERS[engine]
    names = NamePattern(pattern, bare)
    names.regex  # noqa: B018 - compile now: a bad pattern fails before the walk
    check_root(base, engine)
    rows, skipped, found = [], [], 0
    for path in reader.find(base):
        found += 1
        parts = names.parse(reader.name(path, base))
        if parts is None:
            skipped.append(str(path))
            continue
        rows.append(_read_one(reader, path, parts, engine))
    if not found:
        raise ArscInputError(f"no {reader.what} under {str(base)!r}")
    if not rows:
        raise ArscInputError(
            f"none of the {found} {reader.what} under {str(base)!r} has a name that matches "
            f"the name pattern: {names.hint()}; e.g. {shown(Path(skipped[0]).name)!r}"
        )
    return IngestResult(check_consistency(rows), skipped)


def check_root(root: Path, engine: Engine) -> None:
    """Refuse a root that does not exist or is not what ``engine`` reads.

    Raises
    ------
    ArscInputError
        A missing root, a file given to ``vasp`` (which reads folders), or a
        file without an ASE suffix given to ``gpaw``/``mlip``.
    """
    if not root.exists():
        raise ArscInputError(f"{str(root)!r} does not exist")
    if root.is_dir():
        return
    if engine == "vasp":
        raise ArscInputError(
            f"{str(root)!r} is a file; give the folder that holds the VASP calculation folders"
        )
    if root.suffix not in ASE_SUFFIXES:
        raise ArscInputError(
            f"{str(root)!r} is not an ASE file ({', '.join(ASE_SUFFIXES)}); "
            "give one of those or a folder that holds them"
        )


def _read_one(reader: Reader, path: Path, parts: NameParts, engine: Engine) -> EnergyRow:
    """Read one calculation; any failure becomes an error row, never an exception."""
    try:
        return reader.read(path, parts, engine)
    except ArscInputError as exc:
        reason = str(exc)
    except Exception as exc:
        reason = (
            f"{path}: cannot be read (unexpected {type(exc).__name__} in the reader; "
            "please report it)"
        )
    return error_row(parts.site, parts.adsorbate, parts.mode, engine, path, reason)


def ingest_vasp(
    root: str | Path, pattern: str = "{site}_{adsorbate}", bare: str = BARE
) -> IngestResult:
    """Ingest a tree of VASP folders; see :func:`ingest`."""
    return ingest_runs(root, "vasp", pattern, bare)


def ingest_gpaw(
    root: str | Path,
    pattern: str = "{site}_{adsorbate}",
    bare: str = BARE,
    engine: Engine = "gpaw",
) -> IngestResult:
    """Ingest ASE files of GPAW (or, with ``engine="mlip"``, MLIP) runs; see :func:`ingest`."""
    return ingest_runs(root, engine, pattern, bare)
