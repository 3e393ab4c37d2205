"""A bad campaign file costs nothing: every problem in one line, before any file is written.

Covers the schema (every key, every number finite and in range, all problems
together), the checks the schema cannot make (:mod:`workflows.campaign.checks`),
the budget that must buy one site, and the campaign folder's files.
"""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pandas as pd
import pytest
from pydantic import BaseModel

from arsc.errors import ArscInputError
from tests.workflows.campaign_helpers import write_campaign
from workflows.campaign.checks import definition_problems
from workflows.campaign.definition import (
    CampaignDefinition,
    packaged_campaigns,
    parse_definition,
    read_definition,
)
from workflows.campaign.loop import start_campaign
from workflows.campaign.state import load_state, save_state
from workflows.cli.main import main


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("arsc: error: ") and err.count("\n") == 1, err
    return err


def _table(folder: Path, drop: list[str] = (), **cells: object) -> None:
    """Edit the replay table that write_campaign wrote into ``folder``."""
    path = folder / "replay.csv"
    frame = pd.read_csv(path).drop(columns=list(drop))
    for col, value in cells.items():
        frame[col] = frame[col].astype(object)
        frame.loc[0, col] = value
    frame.to_csv(path, index=False)


# (sections given to write_campaign, table edit, key named in the message, text in it)
BAD_FILES = [
    ({"space": {"metals": ["Fe", "Xx"]}}, None, "space.metals", "unknown element 'Xx'"),
    ({"space": {"motifs": ["qv-n6"], "supports": ["c2n"]}}, None, "space.motifs", "fits none"),
    ({"space": {"motifs": ["nosuch"]}}, None, "space.motifs", "unknown motif 'nosuch'"),
    ({"space": {"supports": ["moon"]}}, None, "space.supports", "unknown support 'moon'"),
    ({"space": {"sites": ["Fe-Co"]}}, None, "space.sites", "malformed site id"),
    ({"objective": {"reaction": "fusion"}}, None, "objective.reaction", "unknown reaction"),
    ({"objective": {"goal": "lowest"}}, None, "objective.goal", "unknown objective 'lowest'"),
    (
        {"objective": {"quantity": "dg", "intermediate": "CO"}},
        None,
        "objective.intermediate",
        "'CO'",
    ),
    (
        {"objective": {"quantity": "selectivity", "competition": "nope"}},
        None,
        "objective.competition",
        "'nope'",
    ),
    ({"objective": {"product": "CH4"}}, None, "objective.product", "unknown product 'CH4'"),
    ({"model": {"prior": "no-such-prior"}}, None, "model.prior", "no-such-prior"),
    ({"model": {"variant": "deep"}}, None, "model.variant", "unknown model variant 'deep'"),
    ({"model": {"formula": "2 * foo"}}, None, "model.formula", "unknown variable 'foo'"),
    ({"dft": {"modes": ["top9"]}}, None, "dft.modes", "unknown binding mode 'top9'"),
    ({"dft": {"corrections": "nosuchref"}}, None, "dft.corrections", "'nosuchref'"),
    ({"dft": {"replay": {"table": "missing.csv"}}}, None, "dft.replay.table", "does not exist"),
    ({}, {"drop": ["id"]}, "dft.replay.table", "needs a column 'id' or 'site'"),
    ({}, {"drop": ["dG_OOH"]}, "dft.replay.table", "lacks column dG_OOH"),
    ({}, {"dG_O": "high"}, "dft.replay.table", "column 'dG_O' row 2: 'high' is not a number"),
    ({}, {"id": "Fe-Xx_qv-n6_graphene"}, "dft.replay.table", "row 2"),
    ({"acquisition": {"strategy": "best"}}, None, "acquisition.strategy", "'best'"),
    (
        {"dft": {"executor": "fireworks", "engine": "mlip", "fireworks": {"launchpad": "no.yaml"}}},
        None,
        "dft.fireworks.launchpad",
        "does not exist",
    ),
    (
        {
            "dft": {
                "executor": "fireworks",
                "engine": "mlip",
                "protocol": "sp-tuned",
                "fireworks": {"launchpad": "no.yaml"},
            }
        },
        None,
        "dft.protocol",
        "sp-tuned: the fireworks executor cannot tune the MLIP between rounds",
    ),
]


@pytest.mark.parametrize(("sections", "edit", "key", "text"), BAD_FILES)
def test_bad_campaign_file_is_refused_before_the_folder_is_created(
    tmp_path, capsys, sections, edit, key, text
):
    path = write_campaign(tmp_path / "files", **sections)
    if edit is not None:
        _table(tmp_path / "files", **edit)
    folder = tmp_path / "run"
    assert main(["campaign", "run", str(path), "--dir", str(folder), "--no-progress"]) == 2
    err = _error(capsys)
    assert f"{key}: " in err and text in err and str(path) in err
    assert not folder.exists()  # nothing created, not even the folder


def test_every_problem_of_a_file_is_listed_in_one_line(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text(
        "name: x\nstopping: {kappa: .inf}\nacquisition: {batch: 0, ucb_kappa: .nan}\n"
        "dft: {min_image: 1, colour: red}\n"
    )
    assert main(["campaign", "run", str(path), "--dir", str(tmp_path / "r")]) == 2
    err = _error(capsys)
    for part in (
        "stopping.kappa: must be a finite number (got inf)",
        "acquisition.batch: must be >= 1 (got 0)",
        "acquisition.ucb_kappa: must be a finite number (got nan)",
        "dft.min_image: must be >= 5 (got 1)",
        "dft.colour: unknown key; allowed: executor, engine",
    ):
        assert part in err
    assert err.count("; ") >= 4 and not (tmp_path / "r").exists()


def test_every_problem_of_the_checks_is_listed_too(tmp_path, capsys):
    path = write_campaign(
        tmp_path / "files",
        space={"metals": ["Fe", "Xx"]},
        dft={"corrections": "nosuchref", "modes": ["top9"]},
        acquisition={"strategy": "best"},
    )
    assert main(["campaign", "run", str(path), "--dir", str(tmp_path / "r")]) == 2
    err = _error(capsys)
    keys = ("space.metals", "dft.modes", "dft.corrections", "acquisition.strategy")
    assert all(f"{k}: " in err for k in keys)


def _float_fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted paths of every float field of a model, nested models included."""
    out = []
    for name, field in model.model_fields.items():
        args = typing.get_args(field.annotation) or (field.annotation,)
        nested = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        if nested:
            out += _float_fields(nested[0], f"{prefix}{name}.")
        elif float in args:
            out.append(f"{prefix}{name}")
    return out


FLOATS = _float_fields(CampaignDefinition)


def test_the_float_fields_are_found():
    assert {"stopping.kappa", "dft.min_image", "acquisition.prune_recall"} <= set(FLOATS)
    assert "dft.replay.delay_seconds" in FLOATS and "objective.product_penalty" in FLOATS


@pytest.mark.parametrize("key", FLOATS)
@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), 1e300])
def test_every_float_of_the_definition_must_be_finite_and_in_range(key, value):
    data: dict = {"name": "x", "dft": {"replay": {"table": "t.csv"}}}
    *sections, last = key.split(".")
    node = data
    for part in sections:
        node = node.setdefault(part, {})
    node[last] = value
    with pytest.raises(ArscInputError) as err:
        parse_definition(data, "campaign file 'c.yaml'")
    msg = str(err.value)
    assert f"{key}: " in msg and "\n" not in msg and "np.float64" not in msg


def test_a_state_written_from_a_valid_definition_is_read_back(tmp_path):
    path = write_campaign(tmp_path / "files", stopping={"kappa": 100.0})
    campaign = start_campaign(read_definition(path), tmp_path / "run", show_progress=False)
    assert load_state(campaign.folder).definition.stopping.kappa == 100.0


def test_a_malformed_state_lists_its_problems(tmp_path):
    path = write_campaign(tmp_path / "files")
    campaign = start_campaign(read_definition(path), tmp_path / "run", show_progress=False)
    save_state(campaign.state, campaign.folder)
    state = json.loads((campaign.folder / "state.json").read_text())
    state["status"] = "lost"
    state["definition"]["stopping"]["kappa"] = None
    (campaign.folder / "state.json").write_text(json.dumps(state))
    with pytest.raises(ArscInputError) as err:
        load_state(campaign.folder)
    msg = str(err.value)
    assert "status: " in msg and "definition.stopping.kappa: " in msg and "\n" not in msg


def test_every_packaged_campaign_passes_the_checks():
    for name, path in packaged_campaigns().items():
        assert definition_problems(read_definition(path)) == [], name


# ---- the budget must buy a site -------------------------------------------------------


def test_screen_budget_below_one_site_is_refused_before_any_work(tmp_path, capsys):
    folder = tmp_path / "s"
    assert main(["screen", "--budget", "5", "--project", str(folder), "--no-progress"]) == 2
    err = _error(capsys)
    assert "cannot buy a single site" in err and "one site needs 6" in err
    assert "4 for its states + 2 for the gas references" in err and not folder.exists()


def test_replay_budget_below_one_site_names_what_a_site_needs(tmp_path, capsys):
    path = write_campaign(tmp_path / "files", budget={"dft_calculations": 3})
    assert main(["campaign", "run", str(path), "--dir", str(tmp_path / "r")]) == 2
    err = _error(capsys)
    assert "budget of 3" in err and "one site needs 4 (4 for its states)" in err


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "100000000"])
def test_budget_option_is_bounded(tmp_path, capsys, value):
    path = write_campaign(tmp_path / "files")
    argv = ["campaign", "run", str(path), "--dir", str(tmp_path / "r"), "--budget", value]
    assert main(argv) == 2
    assert "--budget" in _error(capsys) and not (tmp_path / "r").exists()


# ---- the campaign folder ---------------------------------------------------------------


def test_a_folder_holding_the_campaign_file_itself_is_refused(tmp_path, capsys):
    files = tmp_path / "files"
    path = write_campaign(files)  # files/campaign.yaml
    before = path.read_bytes()
    assert main(["campaign", "run", str(path), "--dir", str(files), "--no-progress"]) == 2
    assert "campaign.yaml" in _error(capsys)
    assert path.read_bytes() == before and not (files / "state.json").exists()


def test_a_folder_with_files_a_campaign_did_not_write_is_refused(tmp_path, capsys):
    path = write_campaign(tmp_path / "files")
    folder = tmp_path / "run"
    folder.mkdir()
    mine = folder / "candidates.csv"
    mine.write_text("a,b\n1,2\n")
    before = mine.read_bytes()
    assert main(["campaign", "run", str(path), "--dir", str(folder), "--no-progress"]) == 2
    assert "candidates.csv" in _error(capsys) and mine.read_bytes() == before
    assert not (folder / "campaign.yaml").exists()


def test_a_dir_that_is_a_file_is_refused(tmp_path, capsys):
    path = write_campaign(tmp_path / "files")
    target = tmp_path / "taken"
    target.write_text("mine\n")
    assert main(["campaign", "run", str(path), "--dir", str(target), "--no-progress"]) == 2
    assert "--dir" in _error(capsys) and target.read_text() == "mine\n"


def test_an_interrupted_start_is_taken_over(tmp_path):
    """campaign.yaml and candidates.csv without state.json: the campaign's own, rewritten."""
    path = write_campaign(tmp_path / "files")
    folder = tmp_path / "run"
    start_campaign(read_definition(path), folder, show_progress=False)
    (folder / "state.json").unlink()
    campaign = start_campaign(read_definition(path), folder, show_progress=False)
    assert (folder / "state.json").is_file() and campaign.state.space is not None
    assert not list(folder.glob(".*tmp*"))  # atomic writes leave no temporary file


def test_a_campaign_folder_given_as_campaign_file_is_one_line(tmp_path, capsys):
    assert main(["campaign", "run", str(tmp_path)]) == 2
    assert "is a folder" in _error(capsys)
