"""Reusable typed CLI options and small helpers shared by the verb modules."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

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
