"""Reading YAML documents into pydantic models with one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from arsc.errors import ArscInputError

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path, what: str) -> Any:
    """Parse a YAML file; raise ArscInputError (one line) if unreadable or malformed.

    Parameters
    ----------
    path
        The file.
    what
        What the file is ("references file"), for the message.
    """
    try:
        text = path.read_text()
    except OSError as exc:
        raise ArscInputError(f"cannot read {what} {str(path)!r}: {exc.strerror}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "malformed YAML"
        raise ArscInputError(f"{what} {str(path)!r}{where}: {problem}") from exc


def one_line(exc: ValidationError, source: str) -> ArscInputError:
    """Turn the first error of a pydantic ValidationError into a one-line ArscInputError.

    The message names the source, the key path (``energies.CO``) and the problem.
    """
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] not in ("value_error", "missing") and "input" in err:
        msg = f"{msg} (got {err['input']!r})"
    where = f": {loc}" if loc else ""
    return ArscInputError(f"{source}{where}: {' '.join(msg.split())}")


def validate(model: type[M], data: Any, source: str) -> M:
    """Validate parsed YAML against a model; one-line ArscInputError on failure."""
    if not isinstance(data, dict):
        raise ArscInputError(f"{source}: expected a mapping at the top level, got {data!r}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise one_line(exc, source) from exc
