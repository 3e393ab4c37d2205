"""One helper for validation errors: pydantic's errors as the input's author wrote the keys."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from arsc.errors import ArscInputError
from arsc.yamlio import key_path, problems, problems_error, validate


class Embedded(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["embedded"] = "embedded"
    path: str | None = None


class Mongo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["mongodb"]
    host: str = "localhost"
    port: int = 27017


NAME = r"^[a-z]+$"


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    store: Annotated[Embedded | Mongo, Field(discriminator="type")] = Embedded()
    either: Embedded | Mongo | None = None
    number: int | str = 0
    names: list[Annotated[str, StringConstraints(pattern=NAME)]] = []
    env: dict[Annotated[str, StringConstraints(pattern=NAME)], int] = {}
    fmax: float = Field(0.05, gt=0)


def _errors(data: dict) -> ValidationError:
    with pytest.raises(ValidationError) as err:
        Config.model_validate(data)
    return err.value


@pytest.mark.parametrize(
    ("data", "key", "allowed"),
    [
        ({"store": {"type": "mongodb", "hots": "x"}}, "store.hots", ("type", "host", "port")),
        ({"projekt": 1}, "projekt", tuple(Config.model_fields)),
    ],
)
def test_an_unknown_key_is_named_as_written_with_the_keys_allowed_there(data, key, allowed):
    (first,) = problems(_errors(data), Config)
    assert (first.kind, first.key, first.allowed) == ("extra_forbidden", key, allowed)
    assert first.message == f"unknown key; allowed: {', '.join(allowed)}"


def test_a_smart_union_reports_each_member_under_the_key_as_written() -> None:
    """Without a discriminator pydantic tries every member and reports each one's problems."""
    found = problems(_errors({"either": {"type": "mongodb", "hots": "x"}}), Config)
    assert {p.key for p in found} == {"either.type", "either.hots"}
    unknown = {p.allowed for p in found if p.kind == "extra_forbidden"}
    assert unknown == {("type", "path"), ("type", "host", "port")}


def test_union_members_and_key_tags_are_not_shown_as_keys() -> None:
    """pydantic's locations hold ``mongodb``, ``int``, ``[key]``: none is a key of the input."""
    found = problems(
        _errors(
            {
                "store": {"type": "mongodb", "port": "abc"},
                "number": [1],
                "names": ["ok", "Bad"],
                "env": {"A B": 1},
            }
        ),
        Config,
    )
    assert [p.key for p in found] == ["store.port", "number", "number", "names.1", "env.A B"]
    assert key_path(("store", "mongodb", "port"), Config) == ("store.port", Mongo)
    assert key_path(("env", "A B", "[key]"), Config) == ("env.A B", None)
    assert key_path(("a", "function-after[check(), str]", 0)) == ("a.0", None)  # no model


def test_patterns_are_shown_as_what_they_allow() -> None:
    exc = _errors({"names": ["Bad"]})
    (plain,) = problems(exc, Config)
    (named,) = problems(exc, Config, {NAME: "lower-case letters"})
    assert plain.what.startswith("String should match pattern")
    assert named.what == "use lower-case letters"
    assert str(named) == "names.0: use lower-case letters (got 'Bad')"
    assert named.value == "Bad"


def test_problems_error_lists_every_problem_in_one_line() -> None:
    err = problems_error(_errors({"fmax": -1, "projekt": 1}), Config, "config 'c.yaml'")
    assert isinstance(err, ArscInputError)
    assert str(err) == (
        "config 'c.yaml': fmax: must be > 0 (got -1); projekt: unknown key; "
        f"allowed: {', '.join(Config.model_fields)}"
    )


def test_validate_names_the_nested_key_of_a_tagged_union() -> None:
    with pytest.raises(ArscInputError) as err:
        validate(Config, {"store": {"type": "mongodb", "port": "x"}}, "c.yaml")
    assert str(err.value) == (
        "c.yaml: store.port: Input should be a valid integer, unable to parse string as an "
        "integer (got 'x')"
    )


def test_duplicates_are_dropped_and_a_missing_key_says_so() -> None:
    class Need(BaseModel):
        a: int
        b: int

    with pytest.raises(ValidationError) as err:
        Need.model_validate({})
    assert [str(p) for p in problems(err.value, Need)] == [
        "a: missing (required)",
        "b: missing (required)",
    ]
