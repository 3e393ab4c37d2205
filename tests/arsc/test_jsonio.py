"""Versioned JSON documents: one reader, one loader, one atomic writer (arsc.jsonio)."""

from __future__ import annotations

import doctest
import json
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

import arsc.jsonio
from arsc.errors import ArscInputError
from arsc.jsonio import load_json, read_json, save_json, schema_version


class Doc(BaseModel):
    """A versioned document, as arsc writes them."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[2] = 2
    fmax: float = Field(gt=0)
    label: str = "x"


class Plain(BaseModel):
    """A document without a layout version (the run request)."""

    steps: int


def _one_line(err: pytest.ExceptionInfo[ArscInputError]) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def test_module_examples_run() -> None:
    result = doctest.testmod(arsc.jsonio, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_a_document_round_trips_and_is_written_atomically(tmp_path) -> None:
    path = tmp_path / "sub" / "doc.json"
    assert save_json(path, Doc(fmax=0.05)) == path
    assert path.read_text() == Doc(fmax=0.05).model_dump_json(indent=1) + "\n"
    assert load_json(path, Doc, what="doc file") == Doc(fmax=0.05)
    assert [p.name for p in path.parent.iterdir()] == ["doc.json"]  # no temporary file left


def test_the_layout_of_existing_files_is_kept_byte_for_byte(tmp_path) -> None:
    """indent and the final newline are the writer's choice, so every file keeps its bytes."""
    doc = Plain(steps=3)
    save_json(tmp_path / "a.json", doc, indent=2, newline=False)
    assert (tmp_path / "a.json").read_text() == doc.model_dump_json(indent=2)
    save_json(tmp_path / "b.json", {"steps": 3, "name": "Fé"})
    assert (tmp_path / "b.json").read_text() == '{\n "steps": 3,\n "name": "Fé"\n}\n'


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "doc file '{path}' cannot be read: No such file or directory"),
        (b"\xff\xfe{", "doc file '{path}' is not valid JSON (not UTF-8 text)"),
        (
            b"{not json",
            "doc file '{path}' is not valid JSON (line 1, column 2): "
            "Expecting property name enclosed in double quotes",
        ),
        (b"[1, 2]", "doc file '{path}' has no schema_version; not a doc file written by arsc"),
        (b'{"fmax": 1}', "doc file '{path}' has no schema_version; not a doc file written by arsc"),
        (
            b'{"schema_version": 1, "fmax": 1}',
            "doc file '{path}' has schema_version 1; this arsc reads schema_version 2; rewrite it",
        ),
        (
            b'{"schema_version": 3, "fmax": 1}',
            "doc file '{path}' has schema_version 3; this arsc reads schema_version 2; "
            "it was written by a newer arsc: upgrade arsc to read it",
        ),
        (
            b'{"schema_version": "2", "fmax": 1}',
            "doc file '{path}' has schema_version '2'; this arsc reads schema_version 2; "
            "rewrite it",
        ),
        (
            b'{"schema_version": 2, "fmax": -1, "lable": "y"}',
            "doc file '{path}' is malformed: fmax: must be > 0 (got -1); "
            "lable: unknown key; allowed: schema_version, fmax, label",
        ),
    ],
)
def test_every_problem_is_one_line_naming_the_file(tmp_path, content, expected) -> None:
    path = tmp_path / "doc.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ArscInputError) as err:
        load_json(path, Doc, what="doc file", advice="rewrite it")
    assert _one_line(err) == expected.format(path=path)


def test_a_folder_cannot_be_read(tmp_path) -> None:
    with pytest.raises(ArscInputError, match=r"^doc file '.*' cannot be read: Is a directory$"):
        load_json(tmp_path, Doc, what="doc file")


def test_a_document_without_version_is_only_validated(tmp_path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"steps": 4}))
    assert schema_version(Plain) is None and schema_version(Doc) == 2
    assert load_json(path, Plain, what="request file").steps == 4
    path.write_text("[4]")
    with pytest.raises(ArscInputError) as err:
        load_json(path, Plain, what="request file")
    assert _one_line(err) == f"request file {str(path)!r} is not a JSON object (got a list)"
    path.write_text(json.dumps({"steps": "many"}))
    with pytest.raises(ArscInputError) as err:
        load_json(path, Plain, what="request file", source=f"malformed request file {str(path)!r}")
    assert _one_line(err).startswith(f"malformed request file {str(path)!r}: steps: Input should")


def test_read_json_without_a_noun_heads_the_message_with_the_bare_path(tmp_path) -> None:
    """The ingest's error rows start with the file, so no noun and no quotes there."""
    path = tmp_path / "settings.json"
    path.write_text("{,}")
    with pytest.raises(ArscInputError) as err:
        read_json(path)
    assert _one_line(err).startswith(f"{path} is not valid JSON (line 1, column 2)")
    path.write_text('{"encut": 400}')
    assert read_json(path) == {"encut": 400}
