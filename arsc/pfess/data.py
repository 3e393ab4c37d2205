"""PFESS input: a table of metal pairs and a target, read and checked row by row.

Accepted layouts (CSV, or an Excel sheet):

- columns ``metal1`` (binding metal x) and ``metal2`` (partner y; symbols in
  any case) plus the target column;
- the authors' layout: a ``sample`` column such as ``WFe`` (metal x then metal
  y, split before each capital letter) plus the target column.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from arsc.errors import ArscInputError, unknown
from arsc.io import input_file, plain

_SYMBOL = re.compile(r"[A-Z][a-z]?")


def _pair_group(x: str, y: str) -> str:
    return "-".join(sorted((x, y)))


def _metal1_group(x: str, y: str) -> str:
    return x


#: Cross-validation groupings: group label of a row from (metal x, metal y).
GROUPINGS: dict[str, Callable[[str, str], str]] = {
    "pair": _pair_group,
    "metal1": _metal1_group,
}


@dataclass(frozen=True)
class PairData:
    """Checked PFESS input: binding metals, partners, target and its column name."""

    metals_x: tuple[str, ...]
    metals_y: tuple[str, ...]
    target: np.ndarray
    target_name: str

    def groups(self, kind: str) -> np.ndarray:
        """Group label of every row for grouped cross-validation (``pair`` or ``metal1``)."""
        if kind not in GROUPINGS:
            raise unknown("cross-validation grouping", kind, GROUPINGS)
        func = GROUPINGS[kind]
        return np.array([func(x, y) for x, y in zip(self.metals_x, self.metals_y, strict=True)])


def split_sample(name: str) -> tuple[str, str]:
    """Split an authors' sample name into (metal x, metal y): ``"WFe"`` -> ``("W", "Fe")``.

    Raises
    ------
    ArscInputError
        If the name is not exactly two element symbols.
    """
    parts = _SYMBOL.findall(str(name))
    if len(parts) != 2 or "".join(parts) != str(name).strip():
        raise ArscInputError(
            f"sample {name!r} is not two element symbols (metal x then metal y, e.g. 'WFe')"
        )
    return parts[0], parts[1]


def read_table(path: str | Path, sheet: str = "property") -> pd.DataFrame:
    """Read a CSV file, or one sheet of an Excel workbook (.xlsx/.xls).

    Raises
    ------
    ArscInputError
        If the file is missing or cannot be parsed.
    """
    p = input_file(path, "data file")
    try:
        if p.suffix.lower() in (".xlsx", ".xls"):
            return pd.read_excel(p, sheet_name=sheet)
        return pd.read_csv(p)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        msg = " ".join(str(exc).split())
        raise ArscInputError(f"cannot read {str(p)!r} as a table: {msg}") from None


def convert_workbook(xlsx: str | Path, csv: str | Path, sheet: str = "property") -> pd.DataFrame:
    """Convert the authors' workbook sheet (``sample``, target) to a pairs CSV.

    The CSV has columns ``metal1, metal2`` followed by the sheet's columns.

    Examples
    --------
    ``convert_workbook("train-test.xlsx", "pairs.csv")`` wrote
    ``tests/data/pfess-demo/pairs.csv``.
    """
    raw = read_table(xlsx, sheet)
    if "sample" not in raw.columns:
        raise ArscInputError(f"sheet {sheet!r} of {str(xlsx)!r} has no 'sample' column")
    pairs = [split_sample(s) for s in raw["sample"]]
    out = pd.concat(
        [pd.DataFrame(pairs, columns=["metal1", "metal2"], index=raw.index), raw], axis=1
    )
    out.to_csv(csv, index=False)
    return out


def _metal_columns(data: pd.DataFrame, source: str) -> tuple[list[str], list[str]]:
    if {"metal1", "metal2"} <= set(data.columns):
        return (
            [str(v).strip().capitalize() for v in data["metal1"]],
            [str(v).strip().capitalize() for v in data["metal2"]],
        )
    if "sample" in data.columns:
        xs, ys = [], []
        for row, name in enumerate(data["sample"], start=1):
            try:
                x, y = split_sample(name)
            except ArscInputError as exc:
                raise ArscInputError(f"row {row} of {source}: {exc}") from None
            xs.append(x)
            ys.append(y)
        return xs, ys
    raise ArscInputError(
        f"{source} needs columns metal1 and metal2 (or sample, e.g. 'WFe'); "
        f"found: {', '.join(map(str, data.columns))}"
    )


def prepare(data: pd.DataFrame, target: str, known: pd.Index, source: str = "data") -> PairData:
    """Check a pairs table and return metals and target.

    Parameters
    ----------
    data
        The table (see the module docstring for its columns).
    target
        Name of the target column (numbers; eV for adsorption free energies).
    known
        Symbols of the element table.
    source
        Where the table came from, for messages.

    Raises
    ------
    ArscInputError
        Missing target column, unknown metal (naming the row), a target value
        that is not a number, or fewer than three rows.
    """
    if target not in data.columns:
        raise ArscInputError(
            f"no target column {target!r} in {source}; columns: "
            + ", ".join(map(str, data.columns))
        )
    xs, ys = _metal_columns(data, source)
    for row, (x, y) in enumerate(zip(xs, ys, strict=True), start=1):
        for col, sym in (("metal1", x), ("metal2", y)):
            if sym not in known:
                raise ArscInputError(
                    f"row {row} of {source}: unknown metal {sym!r} ({col}); allowed: "
                    + ", ".join(known)
                )
    values = pd.to_numeric(data[target], errors="coerce")
    bad = np.flatnonzero(~np.isfinite(values.to_numpy(dtype=float)))
    if len(bad):
        raw = data[target].iloc[bad[0]]
        raise ArscInputError(
            f"row {bad[0] + 1} of {source}: target {target!r} value {plain(raw)} is not a number"
        )
    if len(data) < 3:
        raise ArscInputError(f"{source} has {len(data)} rows; PFESS needs at least 3")
    return PairData(tuple(xs), tuple(ys), values.to_numpy(dtype=float), target)
