"""The energies table: one row per DFT calculation, and the pick of one row per (site, adsorbate).

Columns used (others, such as engine, encut or path, are ignored):

``site``
    site name (str);
``adsorbate``
    intermediate name as in ``arsc/data/adsorbates.yaml``, or ``bare`` for the clean site;
``e0``, ``f``
    energy extrapolated to sigma -> 0 and electronic free energy, eV;
``mode``
    binding mode (optional);
``consistent``
    False when the run's comparability settings differ from its bare-site run
    (optional, True when absent);
``reason``
    why not consistent (optional).

Where several rows exist for one (site, adsorbate) (several binding modes),
the lowest energy among the consistent rows is used and its mode recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np
import pandas as pd

from arsc.adsorbates import adsorbates
from arsc.errors import ArscInputError, unknown
from arsc.ingest.table import BARE
from arsc.io import input_file, plain

#: Adsorbate name of the clean-site row.

_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n"}


class EnergyColumn(StrEnum):
    """Which energy of a calculation to use."""

    e0 = "e0"
    f = "f"


@dataclass(frozen=True)
class Pick:
    """The row chosen for one (site, adsorbate).

    Attributes
    ----------
    energy
        eV, total energy of the chosen calculation.
    mode
        Its binding mode ("" when the table has none).
    consistent
        Whether its settings match its bare-site run.
    reason
        Why not consistent ("" when consistent).
    """

    energy: float
    mode: str
    consistent: bool
    reason: str


@dataclass(frozen=True)
class Gap:
    """Why no row was chosen for one (site, adsorbate).

    Attributes
    ----------
    cause
        Short cause: ``"excluded as inconsistent"`` or ``"no finite e0"`` (etc.).
    detail
        The rows' own reasons, when there are any.
    """

    cause: str
    detail: str = ""


@dataclass(frozen=True)
class Selection:
    """One picked row per (site, adsorbate), and why the others have none.

    Attributes
    ----------
    energy
        The energy column used (``e0`` or ``f``).
    sites
        Every site of the table, sorted.
    picks
        (site, adsorbate) -> chosen row.
    gaps
        (site, adsorbate) -> why rows exist but none was chosen.
    excluded
        (site, adsorbate) -> reasons of inconsistent rows left out although a
        consistent row was chosen (kept for the record).
    """

    energy: str
    sites: tuple[str, ...]
    picks: dict[tuple[str, str], Pick]
    gaps: dict[tuple[str, str], Gap] = field(default_factory=dict)
    excluded: dict[tuple[str, str], str] = field(default_factory=dict)


def _bool_column(values: pd.Series, source: str) -> pd.Series:
    def conv(v: object, row: int) -> bool:
        if isinstance(v, bool | np.bool_):
            return bool(v)
        text = str(v).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ArscInputError(
            f"{source} row {row + 2}: consistent = {plain(v)} is not a boolean; "
            "allowed: True, False"
        )

    return pd.Series([conv(v, i) for i, v in enumerate(values)], index=values.index, dtype=bool)


def validate_energies(
    table: pd.DataFrame, energy: str = "e0", source: str = "energies table"
) -> pd.DataFrame:
    """Check an energies table and return the columns this module uses, normalised.

    Parameters
    ----------
    table
        The raw table (one row per calculation).
    energy
        The energy column to use, ``e0`` or ``f``.
    source
        Where the table came from, for messages.

    Returns
    -------
    pandas.DataFrame
        Columns ``site, adsorbate, energy (eV, float, NaN where empty), mode,
        consistent (bool), reason``, in the input's row order.

    Raises
    ------
    ArscInputError
        Missing column, unknown adsorbate, non-numeric energy, non-boolean
        ``consistent`` -- one line naming the source, the row and the value.
    """
    if energy not in EnergyColumn.__members__:
        raise unknown("energy column", energy, list(EnergyColumn.__members__))
    for col in ("site", "adsorbate", energy):
        if col not in table.columns:
            raise ArscInputError(
                f"{source}: missing column {col!r}; have: {', '.join(map(str, table.columns))}"
            )
    allowed = [BARE, *adsorbates()]
    ads = table["adsorbate"].astype(str).str.strip()
    for i, name in enumerate(ads):
        if name not in allowed:
            raise ArscInputError(
                f"{source} row {i + 2}: unknown adsorbate {name!r}; allowed: {', '.join(allowed)}"
            )
    values = pd.to_numeric(table[energy], errors="coerce")
    bad = values.isna() & table[energy].notna() & (table[energy].astype(str).str.strip() != "")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ArscInputError(
            f"{source} row {i + 2}: {energy} = {plain(table[energy].iloc[i])} is not a number (eV)"
        )
    n = len(table)
    blank = pd.Series([""] * n, index=table.index)

    def text(col: str) -> pd.Series:
        return table[col].map(lambda v: "" if pd.isna(v) else str(v)) if col in table else blank

    return pd.DataFrame(
        {
            "site": table["site"].astype(str).str.strip(),
            "adsorbate": ads,
            "energy": values.astype(float),
            "mode": text("mode"),
            "consistent": _bool_column(table["consistent"], source)
            if "consistent" in table
            else pd.Series([True] * n, index=table.index, dtype=bool),
            "reason": text("reason"),
        }
    )


def read_energies(path: str | Path) -> pd.DataFrame:
    """Read an energies CSV as it is; :func:`validate_energies` checks it.

    Raises
    ------
    ArscInputError
        If the file is missing or not a CSV table.
    """
    p = input_file(path, "energies table")
    try:
        return pd.read_csv(p)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable"
        raise ArscInputError(f"energies table {str(p)!r} is not a CSV table: {first}") from exc


def select_energies(
    table: pd.DataFrame, energy: str = "e0", include_inconsistent: bool = False
) -> Selection:
    """Pick one row per (site, adsorbate): the lowest energy among the usable rows.

    Parameters
    ----------
    table
        Output of :func:`validate_energies`.
    energy
        Name of the energy column it was built from (for messages).
    include_inconsistent
        Also use rows whose ``consistent`` is False (flagged, not excluded).

    Returns
    -------
    Selection
        Picks, and for each (site, adsorbate) with rows but no pick, the cause.
        Ties in energy are broken by mode name, so row order never matters.
    """
    picks: dict[tuple[str, str], Pick] = {}
    gaps: dict[tuple[str, str], Gap] = {}
    excluded: dict[tuple[str, str], str] = {}
    ordered = table.sort_values(["site", "adsorbate", "energy", "mode", "reason"], kind="stable")
    records = ordered[["site", "adsorbate", "energy", "mode", "consistent", "reason"]]
    groups: dict[tuple[str, str], list[Pick]] = {}
    for site, ads, e, mode, ok, reason in records.itertuples(index=False, name=None):
        groups.setdefault((str(site), str(ads)), []).append(
            Pick(float(e), str(mode), bool(ok), str(reason))
        )
    for key, rows in groups.items():
        finite = [r for r in rows if np.isfinite(r.energy)]  # already sorted by energy
        if not finite:
            gaps[key] = Gap(f"no finite {energy}")
            continue
        bad = "; ".join(sorted({r.reason for r in finite if not r.consistent} - {""}))
        usable = finite if include_inconsistent else [r for r in finite if r.consistent]
        if not usable:
            gaps[key] = Gap("excluded as inconsistent", bad)
            continue
        if not include_inconsistent and len(usable) < len(finite):
            excluded[key] = bad
        picks[key] = usable[0]
    sites = tuple(sorted(set(table["site"])))
    return Selection(energy=energy, sites=sites, picks=picks, gaps=gaps, excluded=excluded)
