"""The engine registry.

An engine is one entry: a name and two factories that return jobflow Makers
(dataclasses whose fields are the knobs) for a relaxation and a static
calculation, given a preset name. Both Makers' ``make(atoms)`` return a Job
whose output is a :class:`workflows.schemas.CalcDoc`. Engine modules are
imported lazily (``workflows.engines.<name>``) so that a missing optional
dependency (torch, GPAW) only matters when that engine is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from jobflow import Maker

from arsc.errors import ArscInputError, unknown

#: Engine name -> module that registers it.
ENGINE_MODULES: dict[str, str] = {
    "mlip": "workflows.engines.mlip",
    "gpaw": "workflows.engines.gpaw",
    "vasp": "workflows.engines.vasp",
}

MakerFactory = Callable[[str], Maker]


@dataclass(frozen=True)
class Engine:
    """A DFT (or MLIP) engine.

    Attributes
    ----------
    name
        Registry key.
    description
        One line for humans.
    relax
        ``relax(preset) -> Maker`` for a relaxation.
    static
        ``static(preset) -> Maker`` for a single point.
    presets
        Preset names the factories accept; the first is the default.
    """

    name: str
    description: str
    relax: MakerFactory
    static: MakerFactory
    presets: tuple[str, ...]

    def check_preset(self, preset: str | None) -> str:
        """Return the preset (default when None) or raise naming the allowed ones."""
        if preset is None:
            return self.presets[0]
        if preset not in self.presets:
            raise unknown(f"{self.name} preset", preset, self.presets)
        return preset


_REGISTRY: dict[str, Engine] = {}


def register_engine(engine: Engine) -> Engine:
    """Add an engine to the registry (called by each engine module at import)."""
    _REGISTRY[engine.name] = engine
    return engine


def engine_names() -> tuple[str, ...]:
    """Names of all known engines (registered or importable)."""
    return tuple(ENGINE_MODULES)


def get_engine(name: str) -> Engine:
    """Import and return an engine by name.

    Raises
    ------
    ArscInputError
        If the name is unknown, or the engine's optional dependencies are
        missing (the message says which extra to install).
    """
    if name not in ENGINE_MODULES:
        raise unknown("engine", name, ENGINE_MODULES)
    if name not in _REGISTRY:
        try:
            importlib.import_module(ENGINE_MODULES[name])
        except ImportError as exc:
            raise ArscInputError(
                f"engine {name!r} needs a package that is not installed ({exc.name}); "
                f"install the extra: pip install 'arsc-dac[{name}]'"
            ) from None
    return _REGISTRY[name]


@cache
def load_data(name: str) -> dict[str, Any]:
    """Read a YAML file of ``workflows/data`` (cached)."""
    import yaml

    return dict(yaml.safe_load(files("workflows.data").joinpath(name).read_text()))
