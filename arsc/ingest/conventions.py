"""Settings conventions of the DFT codes, read from ``arsc/data/ingest.yaml``."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any


@cache
def _load() -> dict[str, Any]:
    import yaml

    data: dict[str, Any] = yaml.safe_load(files("arsc.data").joinpath("ingest.yaml").read_text())
    return data


def vasp_conventions() -> dict[str, Any]:
    """Return the VASP tag meanings and defaults (the ``vasp`` section)."""
    return dict(_load()["vasp"])


def ase_conventions() -> dict[str, Any]:
    """Return the ASE/GPAW conventions (the ``ase`` section)."""
    return dict(_load()["ase"])
