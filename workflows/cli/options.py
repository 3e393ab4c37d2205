"""Reusable typed CLI options and small helpers shared by the verb modules."""

from __future__ import annotations

import math
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console


class ElementTable(StrEnum):
    """Element tables shipped with arsc."""

    default = "default"
    authors = "authors"


#: ``--elements authors|default``
ElementsOpt = Annotated[
    ElementTable, typer.Option("--elements", help="Element property table: default or authors.")
]


def split_list(values: list[str] | None) -> list[str] | None:
    """Accept both ``--x a --x b`` and ``--x a,b``; None when not given."""
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def console() -> Console:
    """Console for human-readable output (stdout)."""
    return Console(highlight=False)


#: A list option given as ``--x a --x b`` or ``--x a,b`` (see :func:`split_list`).
ListOpt = list[str] | None

# ---- options of the adsorption flow, shared by ``arsc run`` and ``arsc submit`` ---------
#: ``--prerelax/--no-prerelax``
PrerelaxOpt = Annotated[
    bool | None,
    typer.Option("--prerelax/--no-prerelax", help="Pre-relax every state (default: yes)."),
]
#: ``--prerelax-engine``
PrerelaxEngineOpt = Annotated[
    str | None,
    typer.Option("--prerelax-engine", help="Engine of the pre-relaxation (default mlip)."),
]
#: ``--prerelax-weights``
PrerelaxWeightsOpt = Annotated[
    Path | None,
    typer.Option(
        "--prerelax-weights",
        help="Fine-tuned CHGNet weights for the pre-relaxation (from `arsc finetune`).",
    ),
]
#: ``--min-image``
MinImageOpt = Annotated[
    float | None,
    typer.Option("--min-image", help="Smallest metal-image distance, Angstrom (default 10)."),
]
#: ``--modes``
ModesOpt = Annotated[
    ListOpt, typer.Option("--modes", help="Binding modes to compute (default: all).")
]


def json_clean(value: Any) -> Any:
    """Turn non-finite floats (NaN, inf) into None (JSON null), recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_clean(v) for v in value]
    return value
