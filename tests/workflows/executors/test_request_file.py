"""``last_request.json``: written and read through arsc.jsonio, in the layout it always had."""

from __future__ import annotations

import json

import pytest

from arsc.errors import ArscInputError
from workflows.executors.local import REQUEST_FILE, RunRequest
from workflows.flow_options import FlowOptions

SITE = "Fe-Co_qv-n6_graphene"


def test_the_request_file_keeps_its_bytes_and_round_trips(tmp_path) -> None:
    request = RunRequest.of([SITE], FlowOptions(min_image=9.5))
    path = request.save(tmp_path)
    assert path == tmp_path / REQUEST_FILE
    assert path.read_text() == request.model_dump_json(indent=2)  # indent 2, no final newline
    assert RunRequest.load(tmp_path) == request


@pytest.mark.parametrize(
    ("content", "head"),
    [
        ("{not json", "request file '{path}' is not valid JSON (line 1, column 2): "),
        ("[1]", "request file '{path}' is not a JSON object (got a list)"),
        (json.dumps({"sites": [SITE], "min_image": 1}), "malformed request file '{path}': "),
    ],
)
def test_a_broken_request_file_is_one_line_naming_it(tmp_path, content, head) -> None:
    (tmp_path / REQUEST_FILE).write_text(content)
    with pytest.raises(ArscInputError) as err:
        RunRequest.load(tmp_path)
    message = str(err.value)
    assert message.startswith(head.format(path=tmp_path / REQUEST_FILE)) and "\n" not in message


def test_a_bad_value_names_the_key_and_the_value(tmp_path) -> None:
    (tmp_path / REQUEST_FILE).write_text(json.dumps({"sites": [SITE], "min_image": 1}))
    with pytest.raises(ArscInputError, match=r": min_image: must be >= \S+ \(got 1\)$"):
        RunRequest.load(tmp_path)
