"""YAML files into pydantic models, with every problem in one line.

One reader and one message format for every YAML file the project reads
(references tables, reactions, campaign files, settings): a malformed file
names its line, and a file that does not validate lists all its problems,
``; ``-separated, each as ``key.path: what is wrong (got value)``.

Examples
--------
>>> from pydantic import BaseModel, Field
>>> class Knobs(BaseModel):
...     fmax: float = Field(gt=0)
...     steps: int = Field(ge=1)
>>> validate(Knobs, {"fmax": -1, "steps": 0}, "knobs.yaml")
Traceback (most recent call last):
arsc.errors.ArscInputError: knobs.yaml: fmax: must be > 0 (got -1); steps: must be >= 1 (got 0)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from arsc.errors import ArscInputError
from arsc.io import plain

M = TypeVar("M", bound=BaseModel)

#: pydantic error type -> (context key of the bound, comparison shown).
_BOUNDS = {
    "greater_than_equal": ("ge", ">="),
    "greater_than": ("gt", ">"),
    "less_than_equal": ("le", "<="),
    "less_than": ("lt", "<"),
}


def read_yaml(path: str | Path, what: str) -> Any:
    """Parse a YAML file; one-line ArscInputError if unreadable or malformed.

    Parameters
    ----------
    path
        The file.
    what
        What the file is ("references file"), for the message.
    """
    p = Path(path)
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise ArscInputError(f"cannot read {what} {str(p)!r}: {why}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "malformed YAML"
        raise ArscInputError(f"{what} {str(p)!r}{where}: {problem}") from None


def shown(value: Any) -> str:
    """Show a value as a user writes it in YAML (:func:`arsc.io.plain`), cut to 60 characters."""
    text = plain(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the (nested) model that holds the key at ``loc``."""
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        ann = getattr(field, "annotation", None)
        inner = [a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type)]
        nested = [a for a in inner if issubclass(a, BaseModel)]
        if not nested:
            return []
        model = nested[0]
    return list(model.model_fields)


def problem(err: Any, model: type[BaseModel] | None = None) -> str:
    """One pydantic error as ``key.path: what is wrong (got value)``."""
    loc = tuple(err["loc"])
    key = ".".join(str(p) for p in loc)
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        allowed = _fields_at(model, loc) if model is not None else []
        return f"{key}: unknown key" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    if kind == "missing":
        return f"{key or 'top level'}: missing (required)"
    if kind in _BOUNDS and _BOUNDS[kind][0] in ctx:
        name, sign = _BOUNDS[kind]
        msg = f"must be {sign} {shown(ctx[name])}"
    elif kind == "finite_number":
        msg = "must be a finite number"
    else:
        msg = " ".join(str(err["msg"]).removeprefix("Value error, ").split())
    value = err.get("input")
    if kind != "value_error" and not isinstance(value, dict | list):
        msg += f" (got {shown(value)})"
    return f"{key}: {msg}" if key else msg  # a whole-model check names its own keys


def problems_error(
    exc: ValidationError, model: type[BaseModel] | None, source: str
) -> ArscInputError:
    """Every problem of a pydantic ValidationError in one line, ``; ``-separated.

    Parameters
    ----------
    exc
        The validation error.
    model
        The model validated (to list the allowed keys of an unknown one).
    source
        Where the data came from ("campaign file 'c.yaml'"), the line's head.
    """
    problems = list(dict.fromkeys(problem(e, model) for e in exc.errors()))
    return ArscInputError(f"{source}: {'; '.join(problems)}")


def validate(model: type[M], data: Any, source: str) -> M:
    """Validate parsed YAML against a model; every problem in one ArscInputError line."""
    if not isinstance(data, dict):
        raise ArscInputError(f"{source}: expected a mapping at the top level, got {shown(data)}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise problems_error(exc, model, source) from None
