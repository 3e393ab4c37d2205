"""Settings: defaults, sources and their priority, one-line errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from arsc.errors import ArscInputError
from workflows.settings import (
    ArscSettings,
    EmbeddedStoreSettings,
    MongoStoreSettings,
    get_settings,
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for name in ("ARSC_CONFIG_FILE", "ARSC_PROJECT", "ARSC_ENGINE", "ARSC_STORE__TYPE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_without_file_or_env() -> None:
    s = get_settings()
    assert s.project == Path("arsc-project")
    assert isinstance(s.store, EmbeddedStoreSettings)
    assert s.store_path() == Path("arsc-project/store.sqlite")
    assert (s.engine, s.preset, s.reactions) == ("gpaw", None, ["orr"])


def test_yaml_in_working_directory_is_read(tmp_path) -> None:
    (tmp_path / "arsc.yaml").write_text("project: p1\nengine: mlip\nreactions: [orr, oer]\n")
    s = get_settings()
    assert (s.project, s.engine, s.reactions) == (Path("p1"), "mlip", ["orr", "oer"])


def test_env_beats_yaml_and_overrides_beat_env(monkeypatch, tmp_path) -> None:
    cfg = tmp_path / "elsewhere.yaml"
    cfg.write_text("engine: mlip\npreset: fast\n")
    monkeypatch.setenv("ARSC_CONFIG_FILE", str(cfg))
    monkeypatch.setenv("ARSC_ENGINE", "vasp")
    s = get_settings()
    assert (s.engine, s.preset) == ("vasp", "fast")
    assert get_settings(engine="gpaw", preset=None).engine == "gpaw"
    assert get_settings(engine="gpaw", preset=None).preset == "fast"  # None falls through


def test_mongodb_store_from_nested_env(monkeypatch) -> None:
    monkeypatch.setenv("ARSC_STORE__TYPE", "mongodb")
    monkeypatch.setenv("ARSC_STORE__HOST", "db.example.org")
    monkeypatch.setenv("ARSC_STORE__PORT", "27018")
    s = get_settings()
    assert isinstance(s.store, MongoStoreSettings)
    assert (s.store.host, s.store.port, s.store.database) == ("db.example.org", 27018, "arsc")
    with pytest.raises(ArscInputError, match="no local file"):
        s.store_path()


def test_unknown_top_level_key_names_file_key_and_allowed(tmp_path) -> None:
    (tmp_path / "arsc.yaml").write_text("projekt: x\n")
    with pytest.raises(ArscInputError) as err:
        get_settings()
    msg = str(err.value)
    assert "\n" not in msg
    assert "'projekt'" in msg
    assert "arsc.yaml" in msg
    assert "allowed: project, store, engine, preset, reactions" in msg


def test_unknown_store_key_names_the_nested_key_and_its_allowed_keys(tmp_path) -> None:
    (tmp_path / "arsc.yaml").write_text("store:\n  type: mongodb\n  hots: x\n")
    with pytest.raises(ArscInputError) as err:
        get_settings()
    msg = str(err.value)
    assert "'store.hots'" in msg
    assert "arsc.yaml" in msg
    assert "host" in msg.split("allowed:")[1]


def test_malformed_yaml_is_one_line_with_file_and_line(tmp_path) -> None:
    (tmp_path / "arsc.yaml").write_text("project: [x\n")
    with pytest.raises(ArscInputError) as err:
        get_settings()
    msg = str(err.value)
    assert "\n" not in msg
    assert "malformed settings file 'arsc.yaml' line 2" in msg


def test_yaml_that_is_not_a_mapping_is_refused(tmp_path) -> None:
    (tmp_path / "arsc.yaml").write_text("- a\n- b\n")
    with pytest.raises(ArscInputError, match="expected a mapping"):
        get_settings()


def test_missing_config_file_named_by_env(monkeypatch) -> None:
    monkeypatch.setenv("ARSC_CONFIG_FILE", "nope.yaml")
    with pytest.raises(ArscInputError, match=r"'nope.yaml' \(from ARSC_CONFIG_FILE\) does not"):
        get_settings()


def test_unknown_store_type_lists_the_types(tmp_path) -> None:
    (tmp_path / "arsc.yaml").write_text("store: {type: postgres}\n")
    with pytest.raises(ArscInputError) as err:
        get_settings()
    assert "'embedded', 'mongodb'" in str(err.value)


def test_settings_are_read_when_asked_not_at_import(tmp_path) -> None:
    first = get_settings()
    (tmp_path / "arsc.yaml").write_text("engine: vasp\n")
    assert (first.engine, get_settings().engine) == ("gpaw", "vasp")
    assert isinstance(ArscSettings(), ArscSettings)


def test_flow_defaults_come_from_flow_options_and_env_keys_still_work(monkeypatch) -> None:
    from workflows.flow_options import FlowOptions

    s = get_settings()
    defaults = FlowOptions()
    assert (s.engine, s.preset, s.reactions) == (
        defaults.engine,
        defaults.preset,
        defaults.reactions,
    )
    for name in ("engine", "preset", "reactions"):
        field = ArscSettings.model_fields[name]
        assert field.description == FlowOptions.model_fields[name].description
    monkeypatch.setenv("ARSC_ENGINE", "mlip")
    monkeypatch.setenv("ARSC_REACTIONS", '["oer", "her"]')
    monkeypatch.setenv("ARSC_PRESET", "fast")
    options = get_settings().flow_options(modes=["top1"], min_image=None)
    assert options == FlowOptions(
        engine="mlip", preset="fast", reactions=["oer", "her"], modes=["top1"]
    )


def test_settings_check_no_names_but_their_flow_options_do(tmp_path) -> None:
    """A verb that runs no flow (`arsc results`) must not fail on a bad engine name."""
    (tmp_path / "arsc.yaml").write_text("engine: qe\nreactions: [xyz]\n")
    s = get_settings()
    assert (s.engine, s.reactions) == ("qe", ["xyz"])
    with pytest.raises(ArscInputError, match=r"^unknown engine 'qe'; allowed: "):
        s.flow_options()
    with pytest.raises(ArscInputError, match=r"^unknown reaction 'xyz'"):
        s.flow_options(engine="gpaw")
    with pytest.raises(ArscInputError, match=r"min_image: must be <= 40 \(got 41\)"):
        get_settings(engine="gpaw", reactions=["orr"]).flow_options(min_image=41)
