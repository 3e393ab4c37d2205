"""Input tables of the ARSC model: columns, validation, coordination, groups and hash.

A table is plain CSV (or a DataFrame) with ``metal1`` (the binding metal),
``metal2`` (its partner; equal for homonuclear sites), any numeric
first-shell counts ``coord_<El><k>`` (element El bound to metal k = 1 or 2;
an atom bound to both metals counts for both), optional shared counts
``coord_<El>_shared`` (atoms of El bound to both metals: the shared positions of
the project's motifs), an optional ``intermediate`` and, for fitting, a
numeric target column (eV). Other columns (``id``, ``motif``, ``support``,
...) are carried along.

A table that gives only ``coord_<El>1`` for an element takes metal 2's count
of that element equal to metal 1's (single-atom and homonuclear data). A
single-atom table may name its metal ``metal`` (read as ``metal1``) and
leave out ``metal2`` (read as equal to ``metal1``).
Internally a shared count is the first-shell key ``<El>_shared`` (both
metals' value the same column), beside the per-metal key ``<El>``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from arsc.errors import ArscInputError, unknown
from arsc.io import input_file, plain

METAL_COLUMNS: tuple[str, str] = ("metal1", "metal2")
INTERMEDIATE_COLUMN = "intermediate"
_COORD = re.compile(r"^coord_([A-Z][a-z]?)(1|2|_shared)$")
#: Suffix of a shared count's column and first-shell key (``coord_N_shared`` -> ``N_shared``).
SHARED = "_shared"


def coord_column(key: str) -> str:
    """Return the column of a first-shell key: ``N`` -> ``coord_N1``, ``N_shared`` -> itself."""
    return f"coord_{key}" if key.endswith(SHARED) else f"coord_{key}1"


def read_table(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Read a model table from CSV (or copy a DataFrame) and normalise metal symbols.

    Raises
    ------
    ArscInputError
        If the file is missing or not CSV, or lacks ``metal1`` (or ``metal``).
    """
    if isinstance(source, pd.DataFrame):
        table = source.copy()
        name = "the table"
    else:
        name = str(input_file(source, "table"))
        try:
            table = pd.read_csv(source)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            msg = " ".join(str(exc).split())
            raise ArscInputError(f"table {name!r} is not a readable CSV file: {msg}") from None
    table = _single_atom_columns(table)
    missing = [c for c in METAL_COLUMNS if c not in table.columns]
    if missing:
        raise ArscInputError(
            f"table {name!r} lacks column {missing[0]!r}; a model table needs metal1, metal2, "
            "optional coord_<El><1|2> counts, optional intermediate and the target "
            "(a single-atom table: metal or metal1 alone)"
        )
    for col in METAL_COLUMNS:
        if table[col].isna().any():
            raise ArscInputError(f"table {name!r}: column {col!r} has empty cells")
        table[col] = _normalise(table[col], lambda s: s.strip().capitalize())
    if INTERMEDIATE_COLUMN in table.columns:
        table[INTERMEDIATE_COLUMN] = _normalise(
            table[INTERMEDIATE_COLUMN], lambda s: s.strip().lstrip("*")
        )
    return table


def _single_atom_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Read a single-atom table: ``metal`` is ``metal1``; no ``metal2`` means ``metal2 = metal1``.

    A single-atom site has no partner; the model reads it as a homonuclear
    row (the partner terms are off unless some row is heteronuclear). A
    table with partner counts (``coord_<El>2``) keeps needing ``metal2``.
    """
    if "metal1" not in table.columns and "metal" in table.columns and "metal2" not in table.columns:
        table = table.rename(columns={"metal": "metal1"})
    partner = [c for c in table.columns if (m := _COORD.match(str(c))) and m.group(2) == "2"]
    if "metal1" in table.columns and "metal2" not in table.columns and not partner:
        table = table.assign(metal2=table["metal1"])
    return table


def _normalise(column: pd.Series, fn: Callable[[str], str]) -> np.ndarray:
    """Apply ``fn`` to each distinct value once (fast for long, repetitive columns)."""
    codes, uniq = pd.factorize(column)
    return np.array([fn(str(u)) for u in uniq], dtype=object)[codes]


def coord_columns(table: pd.DataFrame) -> dict[str, tuple[str, str | None]]:
    """Map each first-shell key to its ``(metal 1 column, metal 2 column or None)``.

    A shared count ``coord_<El>_shared`` is the key ``<El>_shared``, the
    same column for both metals.
    """
    found: dict[str, dict[str, str]] = {}
    for col in table.columns:
        match = _COORD.match(str(col))
        if match:
            found.setdefault(match.group(1), {})[match.group(2)] = str(col)
    out: dict[str, tuple[str, str | None]] = {}
    for el in sorted(found):
        cols = found[el]
        if "1" not in cols:
            given = cols.get("2", cols.get(SHARED))
            raise ArscInputError(
                f"table has {given!r} but no coord_{el}1; give metal 1's count too"
            )
        out[el] = (cols["1"], cols.get("2"))
        if SHARED in cols:
            out[el + SHARED] = (cols[SHARED], cols[SHARED])
    return out


def coord_counts(table: pd.DataFrame, elements: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """First-shell counts of the given elements for metal 1 and metal 2.

    Returns
    -------
    tuple of numpy.ndarray
        Two arrays of shape (rows, len(elements)), counts (dimensionless).

    Raises
    ------
    ArscInputError
        If a needed column is missing, not numeric, empty or negative.
    """
    cols = coord_columns(table)
    n = len(table)
    c1 = np.zeros((n, len(elements)))
    c2 = np.zeros((n, len(elements)))
    for j, el in enumerate(elements):
        if el not in cols:
            present = sorted({c for pair in cols.values() for c in pair if c})
            raise ArscInputError(
                f"table lacks column {coord_column(el)}, which the model was fitted with; "
                f"present: {', '.join(present) or 'none'}"
            )
        first, second = cols[el]
        c1[:, j] = _numeric(table, first)
        c2[:, j] = c1[:, j] if second is None else _numeric(table, second)
    for key in (k for k in cols if k.endswith(SHARED)):
        _check_shared(table, key, cols)
    return c1, c2


def _check_shared(table: pd.DataFrame, key: str, cols: dict[str, tuple[str, str | None]]) -> None:
    """Refuse a shared count above either metal's count of that element."""
    shared = _numeric(table, cols[key][0])
    for col in cols[key.removesuffix(SHARED)]:
        if col is None:
            continue
        own = _numeric(table, col)
        bad = shared > own
        if bad.any():
            i = int(np.argmax(bad))
            raise ArscInputError(
                f"row {i + 1}: {cols[key][0]} = {shared[i]:g} exceeds {col} = {own[i]:g}; "
                "shared first-shell atoms are bound to both metals and count in each"
            )


def _numeric(table: pd.DataFrame, col: str) -> np.ndarray:
    values = pd.to_numeric(table[col], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        raw = table[col].iloc[int(np.argmax(bad))]
        raise ArscInputError(
            f"column {col!r} holds {plain(raw)}; coordination counts are numbers >= 0"
        )
    return values


def check_motif_shells(table: pd.DataFrame, where: str = "table") -> None:
    """Check coord_* counts against the motif registry for rows naming a registry motif.

    A row whose ``motif`` is one of the project's motifs (``arsc/data/motifs.yaml``)
    must carry the first-shell counts that motif has on its support (the ``support``
    column, else the motif's first support). Rows naming other motifs are not checked.

    Raises
    ------
    ArscInputError
        One line naming the row, the motif, the column, the value and the expected one.
    """
    if "motif" not in table.columns or not coord_columns(table):
        return
    from arsc.space import motifs  # the motif registry, only when a table names motifs

    known = motifs()
    names = table["motif"].astype(str).to_numpy()
    supports = table["support"].astype(str).to_numpy() if "support" in table.columns else None
    cols = [c for pair in coord_columns(table).values() for c in pair if c]
    checked: dict[tuple[str, str], dict[str, int]] = {}
    for i, name in enumerate(names):
        if name not in known:
            continue
        support = supports[i] if supports is not None else known[name].supports[0]
        if support not in known[name].supports:
            raise ArscInputError(
                f"{where}: row {i + 1}: motif {name!r} does not exist on support {support!r}; "
                f"allowed: {', '.join(known[name].supports)}"
            )
        if (name, support) not in checked:
            from arsc.structures import coordination

            checked[(name, support)] = coordination(name, support)
        expected = checked[(name, support)]
        for col in cols:
            value = pd.to_numeric(pd.Series([table[col].iloc[i]]), errors="coerce").iloc[0]
            if col in expected and value != expected[col]:
                raise ArscInputError(
                    f"{where}: row {i + 1}: {col} = {str(table[col].iloc[i])!r} is inconsistent "
                    f"with motif {name!r} on {support!r}, which has {col} = {expected[col]}"
                )


def target_values(table: pd.DataFrame, target: str) -> np.ndarray:
    """Return the target column as floats (eV).

    Raises
    ------
    ArscInputError
        If the column is missing or holds a non-number.
    """
    if target not in table.columns:
        allowed = [c for c in table.columns if c not in METAL_COLUMNS]
        raise unknown("target column", target, allowed)
    values = pd.to_numeric(table[target], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        raw = table[target].iloc[int(np.argmax(bad))]
        raise ArscInputError(
            f"target column {target!r} holds {plain(raw)}; expected finite numbers (eV)"
        )
    return values


def _pair(table: pd.DataFrame) -> np.ndarray:
    a, b = table["metal1"].to_numpy(dtype=str), table["metal2"].to_numpy(dtype=str)
    return np.where(
        a <= b, np.char.add(np.char.add(a, "-"), b), np.char.add(np.char.add(b, "-"), a)
    )


def _metal1(table: pd.DataFrame) -> np.ndarray:
    return table["metal1"].to_numpy(dtype=str)


def _motif(table: pd.DataFrame) -> np.ndarray:
    if "motif" not in table.columns:
        raise ArscInputError("grouping 'motif' needs a 'motif' column in the table")
    return table["motif"].astype(str).to_numpy()


def _coord(table: pd.DataFrame) -> np.ndarray:
    cols = sorted(c for c in table.columns if _COORD.match(str(c)))
    if not cols:
        raise ArscInputError("grouping 'coord' needs coord_<El><k> columns in the table")
    return table[cols].astype(str).agg(",".join, axis=1).to_numpy()


#: Row groups for cross-validation and the bootstrap: an unordered metal pair, the binding
#: metal, the site's motif (first-shell arrangement), or its first-shell counts.
GROUPINGS: dict[str, Callable[[pd.DataFrame], np.ndarray]] = {
    "pair": _pair,
    "metal1": _metal1,
    "motif": _motif,
    "coord": _coord,
}


def groups(table: pd.DataFrame, kind: str) -> np.ndarray:
    """Group label of every row (``"pair"``: unordered metal pair; ``"metal1"``)."""
    if kind not in GROUPINGS:
        raise unknown("grouping", kind, GROUPINGS)
    return GROUPINGS[kind](table)


def data_sha256(table: pd.DataFrame, target: str) -> str:
    """SHA-256 of the canonicalised training table.

    Only the columns the model reads are hashed (metal1, metal2, coord_*,
    intermediate, the target), with columns sorted by name, rows sorted, and
    numbers written with 12 significant digits; row and column order and
    extra columns do not change the hash.
    """
    cols = [*METAL_COLUMNS, *(c for c in table.columns if _COORD.match(str(c)))]
    if INTERMEDIATE_COLUMN in table.columns:
        cols.append(INTERMEDIATE_COLUMN)
    cols.append(target)
    canon = table[sorted(set(cols))].copy()
    for col in canon.columns:
        if col not in (*METAL_COLUMNS, INTERMEDIATE_COLUMN):
            canon[col] = [f"{float(v):.12g}" for v in canon[col]]
    canon = canon.astype(str).sort_values(list(canon.columns)).reset_index(drop=True)
    text = canon.to_csv(index=False, lineterminator="\n")
    return hashlib.sha256(text.encode()).hexdigest()
