"""One output discipline for every command that writes a file.

Every writing verb goes through two steps:

1. :func:`check_output`, *before* any work is done: the output must not be one
   of the command's inputs or lie inside a folder it reads; it must not be a
   folder; its folder must be creatable and writable; and an existing file is
   only replaced when it is recognisably the command's own kind of output
   (an :class:`OutputKind`) or the user passed ``--force``.
2. :func:`atomic_path` (or :func:`write_text_atomic` / :func:`write_bytes_atomic`)
   to write: a temporary file beside the target is renamed over it, so a
   failure or a killed process leaves the old file intact.

Every problem is an :class:`~arsc.errors.ArscInputError` with one line naming
the path, the option and what to do.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write_text_atomic(folder / "out.txt", "hello").read_text()
'hello'
>>> check_output(folder / "new.txt", [], kind=TEXT) == folder / "new.txt"
True
>>> check_output(folder / "out.txt", [], kind=TEXT)
Traceback (most recent call last):
arsc.errors.ArscInputError: -o '...out.txt' exists and is not a text file this command wrote; ...
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from arsc.errors import ArscInputError

#: Bytes read from an existing file to recognise its kind.
_SNIFF_BYTES = 65536


@dataclass(frozen=True)
class OutputKind:
    """A kind of file a command writes, and how to recognise an existing one.

    Attributes
    ----------
    name
        What the file is, for messages ("model file (JSON)").
    recognise
        True when an existing file at the path is of this kind, so a new run
        may replace it without ``--force``.
    """

    name: str
    recognise: Callable[[Path], bool]


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(_SNIFF_BYTES)
    except OSError:
        return b""


def csv_with(*columns: str, name: str = "table (CSV)") -> OutputKind:
    """Recognise a CSV file whose header holds all of ``columns``."""

    def recognise(path: Path) -> bool:
        text = _head(path).decode("utf-8", errors="replace")
        first = text.splitlines()[0] if text else ""
        try:
            header = next(csv.reader([first]))
        except (csv.Error, StopIteration):
            return False
        return set(columns) <= {h.strip() for h in header}

    return OutputKind(name, recognise)


def json_with(key: str, name: str = "file (JSON)") -> OutputKind:
    """Recognise a JSON object that has ``key`` at its top level."""

    def recognise(path: Path) -> bool:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(doc, dict) and key in doc

    return OutputKind(name, recognise)


def _is_png(path: Path) -> bool:
    return _head(path)[:8] == b"\x89PNG\r\n\x1a\n"


def _is_structure(path: Path) -> bool:
    """Whether ASE reads the file as an atomic structure."""
    try:
        from ase.io import read

        read(path)
    except Exception:  # any failure to read means "not a structure"
        return False
    return True


#: A PNG image (plots).
PNG = OutputKind("PNG image", _is_png)
#: An atomic structure that ASE can read (extxyz, POSCAR, CIF, ...).
STRUCTURE = OutputKind("structure file", _is_structure)
#: Plain text written by arsc (recognised by nothing: never replaced without --force).
TEXT = OutputKind("text file", lambda path: False)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output(
    path: str | Path,
    inputs: Iterable[str | Path] = (),
    option: str = "-o",
    kind: OutputKind | None = None,
    force: bool = False,
) -> Path:
    """Check, before any work, that writing ``path`` is safe.

    Parameters
    ----------
    path
        The output file.
    inputs
        The command's inputs, files or folders it reads; the output may be none
        of them and may not lie inside one of the folders.
    option
        The option that named the output, for messages.
    kind
        The kind of file the command writes. An existing file at ``path`` that
        is not recognisably of this kind is refused unless ``force``; None
        allows replacing any existing file.
    force
        Replace an existing file of another kind.

    Returns
    -------
    Path
        ``path`` as a Path.

    Raises
    ------
    ArscInputError
        One line naming the path and what is wrong with it.
    """
    out = Path(path)
    shown = f"{option} {str(out)!r}"
    if out.is_dir():
        raise ArscInputError(f"{shown} is a folder; give a file name")
    if str(out) == "" or out.name in ("", ".", ".."):
        raise ArscInputError(f"{shown} is not a file name")
    target = out.resolve()
    for source in inputs:
        src = Path(source).resolve()
        if target == src:
            raise ArscInputError(
                f"{shown} is an input of this command; writing it would destroy the input: "
                "choose another output file"
            )
        if src.is_dir() and _inside(target, src):
            raise ArscInputError(
                f"{shown} lies inside {str(source)!r}, which this command reads: "
                "write it somewhere else"
            )
    _check_folder(out.parent, shown)
    if out.exists() and kind is not None and not force and not kind.recognise(out):
        raise ArscInputError(
            f"{shown} exists and is not {_article(kind.name)} {kind.name} this command wrote; "
            "pass --force to overwrite it, or choose another output file"
        )
    return out


def _article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"


def _check_folder(folder: Path, shown: str) -> None:
    """Refuse a folder whose nearest existing ancestor is a file or not writable."""
    probe = folder if str(folder) else Path(".")
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise ArscInputError(f"{shown}: {str(probe)!r} is a file, not a folder")
    if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        raise ArscInputError(f"{shown}: folder {str(probe)!r} is not writable (read-only?)")


def check_output_folder(
    path: str | Path, inputs: Iterable[str | Path] = (), option: str = "-o"
) -> Path:
    """Check an output *folder*: not a file, not an input, creatable and writable.

    Raises
    ------
    ArscInputError
        One line naming the path and what is wrong with it.
    """
    out = Path(path)
    shown = f"{option} {str(out)!r}"
    if out.exists() and not out.is_dir():
        raise ArscInputError(f"{shown} is a file; give a folder")
    target = out.resolve()
    for source in inputs:
        if Path(source).resolve() == target:
            raise ArscInputError(f"{shown} is an input of this command: choose another folder")
    _check_folder(out, shown)
    return out


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` on success.

    The temporary file keeps ``path``'s suffix, so writers that choose the
    format by suffix (matplotlib, ASE) work unchanged. On an exception the
    temporary file is removed and the old file is left as it was.

    Raises
    ------
    ArscInputError
        One line when the folder cannot be created or written.
    """
    out = Path(path)
    # process and thread in the name: two writers of one file never share a temporary file
    tmp = out.with_name(f".{out.stem}.{os.getpid()}-{threading.get_ident()}.tmp{out.suffix}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except OSError as exc:
        raise ArscInputError(f"cannot write {str(out)!r}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write bytes atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write text to a temporary file beside ``path``, then rename it over ``path``.

    A failure (or a killed process) leaves the old file intact, never part of
    a new one.

    Raises
    ------
    ArscInputError
        One line when the folder cannot be created or written.
    """
    return write_bytes_atomic(path, text.encode("utf-8"))
