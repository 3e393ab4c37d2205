"""Intrinsic properties of the transition metals.

Two tables ship as package data (see ``arsc/data/elements.yaml`` for the
source of every column):

``default``
    all 3d, 4d and 5d transition metals, from NIST/pymatgen/ASE data;
``authors``
    the 20 metals of the ARSC paper, with the authors' own values from the
    PFESS demo workbook, completed from ``default`` for columns it lacks.

Examples
--------
>>> from arsc.elements import load_elements
>>> table = load_elements("authors")
>>> float(table.loc["Fe", "IE"])
7.9024
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from arsc.errors import ArscInputError, unknown
from arsc.io import input_file, plain

#: Intrinsic properties used as primary PFESS features, in order.
PRIMARY_PROPERTIES: tuple[str, ...] = ("n", "S", "d", "IE", "X", "R")

#: The 20 metals of Lin et al. (2024), the default candidate metals.
AUTHORS_METALS: tuple[str, ...] = tuple(
    [
        "Ti",
        "V",
        "Cr",
        "Mn",
        "Fe",
        "Co",
        "Ni",
        "Zr",
        "Nb",
        "Mo",
        "Ru",
        "Rh",
        "Pd",
        "Hf",
        "Ta",
        "W",
        "Re",
        "Os",
        "Ir",
        "Pt",
    ]
)


@cache
def table_metadata() -> dict[str, Any]:
    """Return the parsed ``elements.yaml`` (units and per-column sources)."""
    text = files("arsc.data").joinpath("elements.yaml").read_text()
    meta: dict[str, Any] = yaml.safe_load(text)
    return meta


def table_names() -> tuple[str, ...]:
    """Return the names of the element tables that ship with arsc."""
    return tuple(table_metadata()["tables"])


def _read(name: str) -> pd.DataFrame:
    info = table_metadata()["tables"][name]
    with files("arsc.data").joinpath(info["file"]).open() as handle:
        return pd.read_csv(handle).set_index("symbol")


@cache
def _load(name: str) -> pd.DataFrame:
    if name not in table_names():
        raise unknown("element table", name, table_names())
    table = _read(name)
    if name != "default":
        default = _read("default")
        missing = [c for c in default.columns if c not in table.columns]
        table = table.join(default[missing])
        table = table[default.columns]
    return table


def read_user_table(path: str) -> pd.DataFrame:
    """Read a user's element table (CSV): ``symbol`` and the primary properties.

    Columns ``symbol, n, S, d, IE, X, R`` (units as in ``arsc/data/elements.yaml``)
    are required; ``Z, r_cov, mass`` are taken from the default table for the
    metals it holds when absent.

    Raises
    ------
    ArscInputError
        One line for an unreadable file, a missing column, or a missing or
        non-numeric value (naming the metal and the column).
    """
    input_file(path, "element table")
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        msg = " ".join(str(exc).split())
        raise ArscInputError(f"element table {path!r} is not a readable CSV file: {msg}") from None
    for col in ("symbol", *PRIMARY_PROPERTIES):
        if col not in table.columns:
            raise ArscInputError(
                f"element table {path!r} lacks column {col!r}; needed: symbol, "
                f"{', '.join(PRIMARY_PROPERTIES)}"
            )
    table["symbol"] = table["symbol"].astype(str).str.strip().str.capitalize()
    if table["symbol"].duplicated().any():
        dup = table["symbol"][table["symbol"].duplicated()].iloc[0]
        raise ArscInputError(f"element table {path!r} lists {dup!r} twice")
    table = table.set_index("symbol")
    for col in PRIMARY_PROPERTIES:
        values = pd.to_numeric(table[col], errors="coerce")
        bad = ~values.apply(lambda v: v == v and abs(v) != float("inf"))
        if bad.any():
            sym = bad.index[bad.to_numpy().argmax()]
            raise ArscInputError(
                f"element table {path!r}: {sym} has no numeric value for {col!r} "
                f"(got {plain(table.loc[sym, col])})"
            )
        table[col] = values.astype(float)
    default = _read("default")
    for col in default.columns:
        if col not in table.columns:
            table[col] = default[col].reindex(table.index)
    return table[[*default.columns, *(c for c in table.columns if c not in default.columns)]]


def load_elements(name: str = "default") -> pd.DataFrame:
    """Load an element table indexed by symbol.

    Parameters
    ----------
    name
        ``"default"``, ``"authors"``, or the path of a CSV file with the
        columns ``symbol, n, S, d, IE, X, R`` (:func:`read_user_table`).

    Returns
    -------
    pandas.DataFrame
        One row per metal; columns ``Z, n, S, d, IE, X, R, r_cov, mass`` with
        units as in ``arsc/data/elements.yaml``. A copy: callers may modify it.

    Raises
    ------
    ArscInputError
        If ``name`` is neither a shipped table nor a readable table file.
    """
    if name not in table_names() and (name.endswith(".csv") or Path(name).exists()):
        return read_user_table(name)
    return _load(name).copy()


def d_block(table: pd.DataFrame) -> np.ndarray:
    """Mask of the d-block transition metals of an element table (groups 3-12, no f-block)."""
    group = pd.to_numeric(table["n"], errors="coerce").to_numpy(float)
    z = pd.to_numeric(table["Z"], errors="coerce").to_numpy(float) if "Z" in table else None
    mask = (group >= 3) & (group <= 12)
    if z is not None:
        mask &= ~((z >= 57) & (z <= 70))  # La-Yb (Lu is the group-3 5d metal)
    return mask


def check_metals(metals: list[str] | tuple[str, ...], table: str = "default") -> tuple[str, ...]:
    """Validate metal symbols against an element table.

    Parameters
    ----------
    metals
        Element symbols; case is normalised ("fe" -> "Fe").
    table
        Name of the element table that must hold every metal.

    Returns
    -------
    tuple of str
        The normalised symbols, in the given order, without repeats.

    Raises
    ------
    ArscInputError
        Naming the first symbol that is not in the table.
    """
    known = _load(table).index
    out: list[str] = []
    for raw in metals:
        sym = raw.strip().capitalize()
        if sym not in known:
            raise ArscInputError(
                f"unknown element {raw!r} (not a transition metal of the {table!r} table); "
                f"allowed: {', '.join(known)}"
            )
        if sym not in out:
            out.append(sym)
    if not out:
        raise ArscInputError("no metals given; name at least one, e.g. Fe,Co")
    return tuple(out)


def compare_tables(a: str = "authors", b: str = "default") -> pd.DataFrame:
    """List every value that differs between two element tables.

    Parameters
    ----------
    a, b
        Table names.

    Returns
    -------
    pandas.DataFrame
        Columns ``symbol, property, <a>, <b>`` for the metals and primary
        properties both tables hold, where the values differ by more than
        1e-3 (relative).
    """
    ta, tb = _load(a), _load(b)
    rows = []
    for sym in ta.index.intersection(tb.index):
        for prop in PRIMARY_PROPERTIES:
            va, vb = float(ta.loc[sym, prop]), float(tb.loc[sym, prop])
            if abs(va - vb) > 1e-3 * max(abs(va), abs(vb), 1.0):
                rows.append({"symbol": sym, "property": prop, a: va, b: vb})
    return pd.DataFrame(rows, columns=["symbol", "property", a, b])
