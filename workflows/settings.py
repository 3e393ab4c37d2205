"""Settings of the workflows: project folder, job store, default engine, preset, reactions.

The defaults and descriptions of ``engine``, ``preset`` and ``reactions`` are
those of :class:`workflows.flow_options.FlowOptions`;
:meth:`ArscSettings.flow_options` turns the settings into the flow's options.

One pydantic-settings class, :class:`ArscSettings`, read through
:func:`get_settings` (never at import). Sources, highest priority first:

1. keyword arguments to :func:`get_settings` (the CLI's options);
2. environment variables with the prefix ``ARSC_`` (nested fields with
   ``__``: ``ARSC_STORE__TYPE=mongodb``, ``ARSC_STORE__HOST=db.example.org``);
3. a YAML file: ``$ARSC_CONFIG_FILE`` if set, else ``./arsc.yaml`` if present;
4. the defaults below.

Example ``arsc.yaml``::

    project: campaigns/fe-co
    engine: gpaw
    preset: fast
    reactions: [orr, oer]
    store:
      type: mongodb          # or: embedded (the default, no server)
      host: db.example.org
      database: arsc
      username: arsc
      password: secret

Unknown keys and malformed files raise :class:`arsc.errors.ArscInputError`
with one line naming the file and the key.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from arsc.errors import ArscInputError
from arsc.yamlio import Problem, problems
from workflows.flow_options import FlowOptions, option_field

#: Environment variable naming the YAML settings file.
CONFIG_ENV = "ARSC_CONFIG_FILE"
#: Settings file read from the working directory when ``ARSC_CONFIG_FILE`` is unset.
DEFAULT_CONFIG_FILE = "arsc.yaml"

_FILE_DATA: ContextVar[dict[str, Any] | None] = ContextVar("arsc_settings_file_data", default=None)


class EmbeddedStoreSettings(BaseModel):
    """The default job store: one sqlite file in the project folder, no server."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["embedded"] = "embedded"
    path: Path | None = Field(
        None, description="sqlite file; default <project>/store.sqlite (relative to the project)"
    )


class MongoStoreSettings(BaseModel):
    """Production job store: a MongoDB server through maggma's MongoStore."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["mongodb"]
    host: str = Field("localhost", description="Server host name (ignored when uri is set)")
    port: int = Field(27017, description="Server TCP port (ignored when uri is set)")
    database: str = Field("arsc", description="Database name")
    username: str = Field("", description="User name (ignored when uri is set)")
    password: SecretStr = Field(SecretStr(""), description="Password (ignored when uri is set)")
    uri: str | None = Field(None, description="mongodb:// or mongodb+srv:// connection string")
    collection: str = Field("arsc_jobs", description="Collection of job documents")
    data_collection: str = Field(
        "arsc_data", description="Collection of bulky outputs (DOS arrays, trajectories)"
    )


StoreSettings = Annotated[EmbeddedStoreSettings | MongoStoreSettings, Field(discriminator="type")]


class ArscSettings(BaseSettings):
    """Everything the workflows read from the environment (see the module docstring)."""

    model_config = SettingsConfigDict(
        env_prefix="ARSC_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    project: Path = Field(
        Path("arsc-project"), description="Project folder: embedded store, last request"
    )
    store: StoreSettings = Field(
        default_factory=lambda: EmbeddedStoreSettings(path=None),
        description="Job store backend, chosen by `type`",
    )
    # defaults of the flow options (workflows.flow_options); their names are checked when
    # the flow's options are built from them (ArscSettings.flow_options), not here
    engine: str = option_field("engine")
    preset: str | None = option_field("preset")
    reactions: list[str] = option_field("reactions")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments, then ``ARSC_*`` variables, then the YAML file."""
        return (
            init_settings,
            env_settings,
            InitSettingsSource(settings_cls, _FILE_DATA.get() or {}),
        )

    def flow_options(self, **given: Any) -> FlowOptions:
        """Return the flow's options: ``engine``, ``preset`` and ``reactions`` from here.

        Parameters
        ----------
        **given
            Other :class:`workflows.flow_options.FlowOptions` fields (the CLI's
            ``--modes``, ``--min-image`` ...); None values are left out (defaults).

        Raises
        ------
        ArscInputError
            An unknown engine, reaction or mode, or a bad value, in one line.
        """
        data = {"engine": self.engine, "preset": self.preset, "reactions": list(self.reactions)}
        data.update({k: v for k, v in given.items() if v is not None})
        return FlowOptions.validated(data, "the flow options")

    def store_path(self) -> Path:
        """Path of the embedded store's sqlite file (embedded backend only)."""
        if not isinstance(self.store, EmbeddedStoreSettings):
            raise ArscInputError(f"store type {self.store.type!r} has no local file")
        path = self.store.path or Path("store.sqlite")
        return path if path.is_absolute() else self.project / path


def config_file() -> Path | None:
    """Return the YAML settings file in effect: ``$ARSC_CONFIG_FILE``, else ``./arsc.yaml``.

    Raises
    ------
    ArscInputError
        If ``ARSC_CONFIG_FILE`` names a file that does not exist.
    """
    named = os.environ.get(CONFIG_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise ArscInputError(f"settings file {named!r} (from {CONFIG_ENV}) does not exist")
        return path
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ArscInputError(f"malformed settings file {str(path)!r}{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ArscInputError(
            f"malformed settings file {str(path)!r}: expected a mapping of keys, "
            f"got {type(data).__name__}"
        )
    return data


def _one_line(first: Problem, source: str) -> str:
    """Return a settings problem in one line naming the key and where the value came from."""
    if first.kind == "extra_forbidden":
        return (
            f"unknown settings key {first.key!r} in {source}; allowed: {', '.join(first.allowed)}"
        )
    return f"bad settings value for {first.key!r} in {source}: {first.message}"


def get_settings(**overrides: Any) -> ArscSettings:
    """Read the settings now (YAML file, environment, then ``overrides``).

    Parameters
    ----------
    **overrides
        Field values that win over every other source; None values are ignored
        (so CLI options left unset fall through).

    Raises
    ------
    ArscInputError
        Malformed YAML, an unknown key or a bad value, in one line naming the
        file (or the environment) and the key.
    """
    path = config_file()
    data = _read_yaml(path) if path is not None else {}
    token = _FILE_DATA.set(data)
    try:
        return ArscSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = problems(exc, ArscSettings)[0]
        top = first.key.partition(".")[0]
        source = (
            f"settings file {str(path)!r}" if path is not None and top in data else "ARSC_* env"
        )
        if top in overrides:
            source = "the command line"
        raise ArscInputError(_one_line(first, source)) from None
    finally:
        _FILE_DATA.reset(token)
