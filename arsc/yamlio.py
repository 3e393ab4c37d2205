"""YAML files into pydantic models, with every problem in one line.

One reader and one message format for every YAML file the project reads
(references tables, reactions, campaign files, settings): a malformed file
names its line, and a file that does not validate lists all its problems,
``; ``-separated, each as ``key.path: what is wrong (got value)``.

Every pydantic ValidationError in the project is put into words here:
:func:`problems` turns it into :class:`Problem` items (the key as the user
wrote it, without pydantic's union and ``[key]`` tags; what is wrong; the
value; the keys allowed beside an unknown one), :func:`problems_error` into
one line. Sites with a wording of their own (queue settings, the energies
table) build their line from the first :class:`Problem`.

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

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

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
#: Error types whose line shows no value: the key names it, or the check's message does.
_NO_VALUE_KINDS = ("extra_forbidden", "missing", "value_error")
#: A location part that is pydantic's tag, not a key: ``[key]``, ``function-after[...]``.
_TAG = re.compile(r"\[.*\]|[\w-]+\[.*\]")


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


def _bare(annotation: Any) -> Any:
    """Return the type inside ``Annotated[...]`` (repeatedly)."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _members(annotation: Any) -> list[Any]:
    """Return the types of a union, without None (one type for anything else)."""
    annotation = _bare(annotation)
    if get_origin(annotation) in (Union, UnionType):
        return [_bare(a) for a in get_args(annotation) if a is not type(None)]
    return [annotation]


def _model(annotation: Any) -> type[BaseModel] | None:
    """Return ``annotation`` if it is a pydantic model class, else None."""
    is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
    return annotation if is_model else None


def _names_member(member: Any, tag: str) -> bool:
    """Whether pydantic's union tag ``tag`` names ``member``.

    A smart union tags by the type's name (``MongoStoreSettings``, ``int``); a
    discriminated union by the value of the discriminator (a Literal field).
    """
    if getattr(member, "__name__", None) == tag:
        return True
    fields = getattr(_model(member), "model_fields", {})
    return any(
        get_origin(f.annotation) is Literal and tag in get_args(f.annotation)
        for f in fields.values()
    )


def _container_item(annotation: Any, part: str | int) -> Any:
    """Return the type of an item of a list / tuple (``part`` an index) or a dict's value."""
    origin, args = get_origin(annotation), get_args(annotation)
    if isinstance(part, int) and origin in (list, tuple, set, frozenset) and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def key_path(
    loc: tuple[str | int, ...], model: type[BaseModel] | None = None
) -> tuple[str, type[BaseModel] | None]:
    """Return the key of an error location as the user wrote it, and the model that holds it.

    pydantic's locations hold tags that are no key of the input: the member
    of a union (``store.mongodb.hots``), ``[key]`` for a bad mapping key,
    ``function-after[...]``. Walking ``model`` along the location drops them
    (``store.hots``); without a model only the bracketed tags are dropped.

    Returns
    -------
    tuple
        The dotted key (``""`` for the whole model) and the model whose field
        (or unknown key) the last part is, None when it is no model's.
    """
    kept: list[str] = []
    annotation: Any = model
    holder: type[BaseModel] | None = None
    for part in loc:
        if isinstance(part, str) and _TAG.fullmatch(part):
            continue
        members = _members(annotation) if annotation is not None else []
        if len(members) > 1 and isinstance(part, str):
            named = [m for m in members if _names_member(m, part)]
            if named:  # a union tag: continue inside that member
                annotation = named[0]
                continue
        current = members[0] if len(members) == 1 else None
        kept.append(str(part))
        holder = _model(current)
        if holder is not None:
            field = holder.model_fields.get(str(part))
            annotation = field.annotation if field is not None else None
        else:
            annotation = _container_item(current, part)
    return ".".join(kept), holder


@dataclass(frozen=True, eq=False)
class Problem:
    """One problem of a pydantic ValidationError, in the words of the input's author.

    Attributes
    ----------
    key
        Dotted key as written in the input (``store.hots``, ``modules.0``);
        ``""`` when a check of the whole model failed.
    kind
        pydantic's error type (``extra_forbidden``, ``missing``, ``greater_than``, ...).
    what
        What is wrong, one line, without key or value (``unknown key``,
        ``must be > 0``, ``missing (required)``).
    value
        The offending input (for ``missing``, the mapping that lacks the key).
    allowed
        The keys allowed where an unknown key was found (empty otherwise).
    """

    key: str
    kind: str
    what: str
    value: Any = None
    allowed: tuple[str, ...] = ()

    @property
    def shows_value(self) -> bool:
        """Whether the line shows the value (not for unknown/missing keys, checks that name it)."""
        plain_value = not isinstance(self.value, dict | list)
        return self.kind not in _NO_VALUE_KINDS and plain_value

    @property
    def message(self) -> str:
        """What is wrong, with the value (``must be > 0 (got -1)``) or the allowed keys."""
        if self.kind == "extra_forbidden" and self.allowed:
            return f"{self.what}; allowed: {', '.join(self.allowed)}"
        return f"{self.what} (got {shown(self.value)})" if self.shows_value else self.what

    def __str__(self) -> str:
        """Show the problem as ``key.path: what is wrong (got value)``."""
        if self.kind == "missing":
            return f"{self.key or 'top level'}: {self.message}"
        return f"{self.key}: {self.message}" if self.key else self.message


def to_problem(
    err: Any, model: type[BaseModel] | None = None, patterns: Mapping[str, str] | None = None
) -> Problem:
    """One pydantic error (an item of ``exc.errors()``) as a :class:`Problem`.

    Parameters
    ----------
    err
        The error.
    model
        The model validated: tags are dropped from the key, and an unknown
        key lists the allowed ones.
    patterns
        Regular expression -> what it allows, for ``string_pattern_mismatch``
        (``"use letters, digits ..."`` instead of the expression).
    """
    key, holder = key_path(tuple(err["loc"]), model)
    kind = err["type"]
    ctx = err.get("ctx") or {}
    allowed: tuple[str, ...] = ()
    if kind == "extra_forbidden":
        what = "unknown key"
        allowed = tuple(holder.model_fields) if holder is not None else ()
    elif kind == "missing":
        what = "missing (required)"
    elif kind in _BOUNDS and _BOUNDS[kind][0] in ctx:
        name, sign = _BOUNDS[kind]
        what = f"must be {sign} {shown(ctx[name])}"
    elif kind == "finite_number":
        what = "must be a finite number"
    elif kind == "string_pattern_mismatch" and ctx.get("pattern") in (patterns or {}):
        what = f"use {(patterns or {})[ctx['pattern']]}"
    else:
        what = " ".join(str(err["msg"]).removeprefix("Value error, ").split())
    return Problem(key=key, kind=kind, what=what, value=err.get("input"), allowed=allowed)


def problems(
    exc: ValidationError,
    model: type[BaseModel] | None = None,
    patterns: Mapping[str, str] | None = None,
) -> list[Problem]:
    """Every problem of a ValidationError (see :func:`to_problem`), duplicates dropped, in order."""
    found: dict[str, Problem] = {}
    for err in exc.errors():
        item = to_problem(err, model, patterns)
        found.setdefault(str(item), item)
    return list(found.values())


def problem(err: Any, model: type[BaseModel] | None = None) -> str:
    """One pydantic error as ``key.path: what is wrong (got value)``."""
    return str(to_problem(err, model))


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
    lines = "; ".join(str(p) for p in problems(exc, model))
    return ArscInputError(f"{source}: {lines}")


def validate(model: type[M], data: Any, source: str) -> M:
    """Validate parsed YAML against a model; every problem in one ArscInputError line."""
    if not isinstance(data, dict):
        raise ArscInputError(f"{source}: expected a mapping at the top level, got {shown(data)}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise problems_error(exc, model, source) from None
