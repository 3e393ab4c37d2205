"""JSON documents: one reader with one-line errors, one versioned loader, one atomic writer.

Every JSON file arsc reads (model files, campaign state, the last run
request, the settings beside a GPAW run) is parsed by :func:`read_json` and,
when it is a document arsc wrote, loaded by :func:`load_json`: parse, check
the layout version (``schema_version``, when the model has one), validate.
:func:`save_json` writes a document atomically (:mod:`arsc.outputs`). Every
problem is one :class:`~arsc.errors.ArscInputError` line naming the file:
it cannot be read, it is not JSON, it has no or another ``schema_version``
(older: ``advice``; newer: upgrade arsc), or which keys do not validate
(:func:`arsc.yamlio.problems_error`).

Examples
--------
>>> import tempfile, pathlib
>>> from typing import Literal
>>> from pydantic import BaseModel
>>> class Doc(BaseModel):
...     schema_version: Literal[1] = 1
...     fmax: float
>>> path = pathlib.Path(tempfile.mkdtemp()) / "doc.json"
>>> load_json(save_json(path, Doc(fmax=0.05)), Doc, what="doc file").fmax
0.05
>>> _ = path.write_text('{"schema_version": 2, "fmax": 0.05}')
>>> load_json(path, Doc, what="doc file")
Traceback (most recent call last):
arsc.errors.ArscInputError: doc file '...doc.json' has schema_version 2; ... upgrade arsc to read it
>>> _ = path.write_text('{"schema_version": 1, "fmax": "x"}')
>>> load_json(path, Doc, what="doc file")
Traceback (most recent call last):
arsc.errors.ArscInputError: doc file '...doc.json' is malformed: fmax: Input should be ...
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

from pydantic import BaseModel, ValidationError

from arsc.errors import ArscInputError
from arsc.outputs import write_text_atomic
from arsc.yamlio import problems_error

M = TypeVar("M", bound=BaseModel)

#: Key of a document's layout version.
VERSION_KEY = "schema_version"


def _subject(path: str | Path, what: str | None) -> str:
    return f"{what} {str(path)!r}" if what else str(path)


def read_json(path: str | Path, what: str | None = None) -> Any:
    """Parse a JSON file; one-line ArscInputError if it cannot be read or is not JSON.

    Parameters
    ----------
    path
        The file.
    what
        What the file is ("model file"), put with the quoted path at the
        head of a message; None: the bare path heads it (the ingest's error
        rows start with the file).
    """
    subject = _subject(path, what)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ArscInputError(f"{subject} is not valid JSON (not UTF-8 text)") from None
    except OSError as exc:
        why = " ".join(str(exc.strerror or exc).split())
        raise ArscInputError(f"{subject} cannot be read: {why}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArscInputError(
            f"{subject} is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        ) from None


def schema_version(model: type[BaseModel]) -> Any:
    """Return the layout version a model reads: its ``schema_version: Literal[n]``; else None."""
    field = model.model_fields.get(VERSION_KEY)
    args = get_args(field.annotation) if field is not None else ()
    is_literal = field is not None and get_origin(field.annotation) is Literal
    return args[0] if is_literal and len(args) == 1 else None


def _check_version(data: Any, version: Any, subject: str, what: str, advice: str) -> None:
    found = data.get(VERSION_KEY) if isinstance(data, dict) else None
    if found is None:
        noun = what or "file"
        article = "an" if noun[:1].lower() in "aeiou" else "a"
        raise ArscInputError(
            f"{subject} has no {VERSION_KEY}; not {article} {noun} written by arsc"
        )
    if found == version and not isinstance(found, bool):
        return
    newer = (
        isinstance(found, int)
        and isinstance(version, int)
        and not isinstance(found, bool)
        and found > version
    )
    hint = "it was written by a newer arsc: upgrade arsc to read it" if newer else advice
    raise ArscInputError(
        f"{subject} has {VERSION_KEY} {found!r}; this arsc reads {VERSION_KEY} {version!r}"
        + (f"; {hint}" if hint else "")
    )


def load_json(
    path: str | Path,
    model: type[M],
    *,
    what: str,
    advice: str = "",
    source: str | None = None,
) -> M:
    """Read a JSON document into ``model``; every problem in one ArscInputError line.

    Parameters
    ----------
    path
        The file.
    model
        The document's model. If it has a ``schema_version: Literal[n]``
        field, a file without ``schema_version`` or with another value is
        refused before validation.
    what
        What the file is ("model file"), for the messages.
    advice
        What to do with a file of an older version ("refit it with `arsc fit`").
    source
        Head of the line that lists the problems of a file that does not
        validate; default ``<what> '<path>' is malformed``.

    Raises
    ------
    ArscInputError
        The file cannot be read, is not JSON, is not a JSON object, has no or
        another ``schema_version``, or does not validate.
    """
    data = read_json(path, what)
    subject = _subject(path, what)
    version = schema_version(model)
    if version is not None:
        _check_version(data, version, subject, what, advice)
    if not isinstance(data, dict):
        raise ArscInputError(f"{subject} is not a JSON object (got a {type(data).__name__})")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise problems_error(exc, model, source or f"{subject} is malformed") from None


def save_json(
    path: str | Path,
    doc: BaseModel | Mapping[str, Any],
    *,
    indent: int = 1,
    newline: bool = True,
) -> Path:
    """Write a document (a pydantic model or a mapping) as indented JSON, atomically.

    Parameters
    ----------
    path
        The file; a temporary file beside it is renamed over it
        (:func:`arsc.outputs.write_text_atomic`), so a failure leaves an old
        file intact.
    doc
        The document.
    indent
        Spaces per indentation level.
    newline
        End the file with a newline (files written before this helper keep
        their exact bytes: ``state.json`` and ``last_request.json`` had none).

    Raises
    ------
    ArscInputError
        One line when the folder cannot be created or written.
    """
    if isinstance(doc, BaseModel):
        text = doc.model_dump_json(indent=indent)
    else:
        text = json.dumps(dict(doc), indent=indent, ensure_ascii=False)
    return write_text_atomic(path, text + ("\n" if newline else ""))
