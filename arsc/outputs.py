"""Writing output files safely: never over a command's own input, always atomically.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write_text_atomic(folder / "out.txt", "hello").read_text()
'hello'
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from arsc.errors import ArscInputError


def check_output(path: str | Path, inputs: Iterable[str | Path], option: str = "-o") -> Path:
    """Refuse an output path that is one of the command's inputs or an existing folder.

    Raises
    ------
    ArscInputError
        One line naming the path and what is wrong with it.
    """
    out = Path(path)
    if out.is_dir():
        raise ArscInputError(f"{option} {str(out)!r} is a folder; give a file name")
    target = out.resolve()
    for source in inputs:
        if Path(source).resolve() == target:
            raise ArscInputError(
                f"{option} {str(out)!r} is an input of this command; writing it would destroy "
                "the input: choose another output file"
            )
    return out


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write text to a temporary file beside ``path``, then rename it over ``path``.

    A failure (or a killed process) leaves the old file intact, never part of
    a new one.

    Raises
    ------
    ArscInputError
        One line when the folder cannot be created or written.
    """
    out = Path(path)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ArscInputError(f"cannot write {str(out)!r}: {exc.strerror or exc}") from None
    return out
