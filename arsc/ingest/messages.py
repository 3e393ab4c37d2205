r"""One-line, printable reasons for calculations that cannot be read.

An error row's ``reason`` is shown in the terminal and stored in the CSV, so
it must be one short line of plain text: no raw exception text, no binary
bytes from a corrupt file, no Python repr. These helpers make user-supplied
text (a tag value, a line of a file, a path) fit for such a line, and say
what is wrong with a path that should be a regular file.

Examples
--------
>>> shown("ab\x00c")
'ab?c'
>>> shown("x" * 50, limit=10)
'xxxxxxxxxx...'
>>> one_line("a\n  b")
'a b'
"""

from __future__ import annotations

import math
import os
from pathlib import Path

#: Bytes read from the start of a file to tell text from binary data.
HEAD_BYTES = 65536
#: Longest reason kept in a row (a path plus one sentence fits easily).
REASON_LIMIT = 400
#: Share of non-text bytes above which a file is binary data.
BINARY_SHARE = 0.1
_TEXT_CONTROLS = {9, 10, 12, 13}


class FileFormatError(ValueError):
    """A file's content is wrong; the message is a clean phrase such as ``is truncated``.

    The reader that catches it puts the folder and file name in front.
    """


def shown(text: object, limit: int = 40) -> str:
    """Return user text as printable characters, at most ``limit`` of them (then ``...``)."""
    raw = str(text)
    clean = "".join(c if c.isprintable() else "?" for c in raw)
    return clean if len(clean) <= limit else clean[:limit] + "..."


def one_line(reason: str, limit: int = REASON_LIMIT) -> str:
    """Collapse whitespace, replace unprintable characters and cut to ``limit`` characters."""
    return shown(" ".join(reason.split()), limit)


def number(value: float) -> str:
    """Format a float as a user writes it (``nan``, ``inf``, ``-3.5``), never a numpy repr."""
    return f"{float(value):g}"


def is_finite(*values: float | None) -> bool:
    """Whether every given value (None ignored) is a finite number."""
    return all(v is None or math.isfinite(v) for v in values)


def present(path: Path) -> bool:
    """Whether anything is at ``path``: a file, a folder, or a link (even a broken one)."""
    return os.path.lexists(path)


def file_problem(path: Path) -> str | None:
    """Say what is wrong with ``path`` as a regular file; None when it is one.

    Returns
    -------
    str or None
        ``"is missing"``, ``"is a folder, not a file"``, ``"is a broken link"``
        or ``"is not a regular file"`` (a FIFO, socket or device, which could
        block or never end).
    """
    if path.is_file():
        return None
    if path.is_dir():
        return "is a folder, not a file"
    if path.is_symlink():
        return "is a broken link"
    if not present(path):
        return "is missing"
    return "is not a regular file"


def is_binary(head: bytes) -> bool:
    """Whether the start of a file is binary data rather than text (VASP and XYZ are text)."""
    if not head:
        return False
    if b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a multi-byte character cut at the end
            odd = sum(b >= 0x80 or (b < 32 and b not in _TEXT_CONTROLS) for b in head)
            return odd / len(head) > BINARY_SHARE
    return False


def read_head(path: Path) -> bytes:
    """Read the first :data:`HEAD_BYTES` bytes of a file (OSError propagates)."""
    with path.open("rb") as fh:
        return fh.read(HEAD_BYTES)
