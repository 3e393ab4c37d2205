"""``state.json``: written and read through arsc.jsonio, in the layout it always had."""

from __future__ import annotations

import json

import pytest

from arsc.errors import ArscInputError
from workflows.campaign.definition import CampaignDefinition
from workflows.campaign.state import (
    STATE_FILE,
    STATE_SCHEMA_VERSION,
    CampaignState,
    load_state,
    save_state,
)


def _state() -> CampaignState:
    definition = CampaignDefinition(name="x")
    return CampaignState(
        arsc_version="0", definition=definition, definition_sha256=definition.sha256()
    )


def test_the_state_file_keeps_its_bytes_and_round_trips(tmp_path) -> None:
    state = _state()
    path = save_state(state, tmp_path)
    assert path == tmp_path / STATE_FILE
    assert path.read_text() == state.model_dump_json(indent=1)  # indent 1, no final newline
    assert load_state(tmp_path) == state


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"schema_version": STATE_SCHEMA_VERSION + 1},
            "has schema_version 2; this arsc reads schema_version 1; "
            "it was written by a newer arsc: upgrade arsc to read it",
        ),
        ({"schema_version": None}, "has no schema_version; not a campaign state written by arsc"),
        ({"rounds": "none"}, "is malformed: rounds: Input should be a valid list (got 'none')"),
    ],
)
def test_a_bad_state_file_is_one_line_naming_it(tmp_path, change, message) -> None:
    data = json.loads(_state().model_dump_json())
    data.update(change)
    data = {k: v for k, v in data.items() if v is not None}
    (tmp_path / STATE_FILE).write_text(json.dumps(data))
    with pytest.raises(ArscInputError) as err:
        load_state(tmp_path)
    assert str(err.value) == f"campaign state {str(tmp_path / STATE_FILE)!r} {message}"
