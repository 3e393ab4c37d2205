"""Settings-consistency check: every adsorbate run against its site's bare run.

An adsorption energy E(*X) - E(*) is meaningful only when both runs used the
same functional, cutoff, spin treatment, +U, dispersion and dipole
correction. Rows are grouped by (site, engine). The reference is the site's
bare run; with several readable bare runs, the lowest E0 (the most stable
bare configuration). Every other row whose settings differ gets
``consistent=False`` and a reason such as ``IVDW 1 vs bare 0``; the rows of a
site without a bare run get ``no bare-site run``, of a site whose bare run
could not be read ``bare-site run unreadable``. Rows whose files could not be
read keep their error reason.

:func:`compare_settings` is the one comparison of a run's settings with its
bare run's, for energies-table rows and for the workflows' ``CalcDoc``
settings records (a superset of :class:`~arsc.ingest.table.DftSettings`)
alike.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from arsc.ingest.table import BARE, SETTING_LABELS, EnergyRow

#: Reason of the rows of a site without a bare run.
NO_BARE = "no bare-site run"
#: Reason of the rows of a site whose bare run could not be read.
BARE_UNREADABLE = "bare-site run unreadable"
#: Cause reported for rows whose files could not be read.
READ_ERROR = "read error"


def _fmt(value: object) -> str:
    if value is None or value == "":
        return "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def settings_differences(mine: Mapping[str, Any], bare: Mapping[str, Any]) -> list[str]:
    """Describe every setting that differs from the bare run's (empty: comparable).

    The comparability settings (the :class:`~arsc.ingest.table.DftSettings`
    fields) come first, by label, e.g. ``IVDW 1 vs bare 0``; ``U`` is not
    reported separately when ``LDAU`` itself differs. Any other entry of an
    engine's settings record follows in key order, e.g. ``kpts [2, 2, 1] vs
    bare [1, 1, 1]``, except a raw entry of a label already reported (a VASP
    record's ``LDAU`` tag beside its ``ldau`` field).
    """
    out, named = [], set()
    for name, label in SETTING_LABELS.items():
        if name not in mine and name not in bare:
            continue
        a, b = mine.get(name), bare.get(name)
        if a == b or (name == "u_values" and mine.get("ldau") != bare.get("ldau")):
            continue
        out.append(f"{label} {_fmt(a)} vs bare {_fmt(b)}")
        named.add(label)
    others = sorted((set(mine) | set(bare)) - set(SETTING_LABELS) - named)
    out += [
        f"{k} {mine.get(k)!r} vs bare {bare.get(k)!r}" for k in others if mine.get(k) != bare.get(k)
    ]
    return out


def compare_settings(
    engine: str,
    settings: Mapping[str, Any],
    bare_engine: str,
    bare_settings: Mapping[str, Any],
    hashes: tuple[str, str] | None = None,
) -> tuple[bool, str]:
    """Judge whether a run is comparable with its site's bare run: the consistency rule.

    Parameters
    ----------
    engine, settings
        The run's engine and settings (a ``DftSettings`` dump or an engine's
        settings record).
    bare_engine, bare_settings
        The same of the bare run.
    hashes
        Settings hashes of the run and the bare run, when the settings carry
        one: equal hashes are consistent, and a different hash with equal
        settings is reported as ``settings hash differs``.

    Returns
    -------
    tuple
        ``(consistent, reason)``; the reason names the engines or every
        differing setting (:func:`settings_differences`).
    """
    if engine != bare_engine:
        return False, f"engine {engine} vs bare {bare_engine}"
    if hashes is not None and hashes[0] == hashes[1]:
        return True, ""
    diffs = settings_differences(settings, bare_settings)
    if not diffs and hashes is not None:
        diffs = ["settings hash differs"]
    return not diffs, "; ".join(diffs)


def _reference(rows: list[EnergyRow]) -> EnergyRow | str:
    bare = [r for r in rows if r.adsorbate == BARE]
    readable = [r for r in bare if r.readable]
    if readable:
        return min(readable, key=lambda r: r.e0 or 0.0)
    return BARE_UNREADABLE if bare else NO_BARE


def _judge(row: EnergyRow, ref: EnergyRow | str) -> EnergyRow:
    if not row.readable:
        return row.model_copy(update={"consistent": False})
    if isinstance(ref, str):
        return row.model_copy(update={"consistent": False, "reason": ref})
    if row is ref:
        return row.model_copy(update={"consistent": True, "reason": ""})
    mine, bare = row.settings, ref.settings
    assert mine is not None
    assert bare is not None
    ok, reason = compare_settings(row.engine, mine.model_dump(), ref.engine, bare.model_dump())
    return row.model_copy(update={"consistent": ok, "reason": reason})


def check_consistency(rows: Iterable[EnergyRow]) -> list[EnergyRow]:
    """Return the rows with ``consistent`` and ``reason`` set (input order kept).

    Parameters
    ----------
    rows
        Rows as read, before or after an earlier check.

    Returns
    -------
    list of EnergyRow
        New rows; the inputs are not modified.
    """
    rows = list(rows)
    groups: dict[tuple[str, str], list[EnergyRow]] = defaultdict(list)
    for row in rows:
        groups[(row.site, row.engine)].append(row)
    refs = {key: _reference(group) for key, group in groups.items()}
    return [_judge(row, refs[(row.site, row.engine)]) for row in rows]


def causes(row: EnergyRow) -> list[str]:
    """Return the short causes of an inconsistent row; empty for a consistent one.

    The causes are setting labels (``LDAU``, ``IVDW``, ...), ``no bare-site
    run``, ``bare-site run unreadable`` or ``read error``.
    """
    if row.consistent:
        return []
    if not row.readable:
        return [READ_ERROR]
    if row.reason in (NO_BARE, BARE_UNREADABLE):
        return [row.reason]
    labels = set(SETTING_LABELS.values())
    return [
        part.split(" ", 1)[0] for part in row.reason.split("; ") if part.split(" ", 1)[0] in labels
    ]


def count_causes(rows: Iterable[EnergyRow]) -> dict[str, int]:
    """Count inconsistent rows by cause combination (``"LDAU"``, ``"ENCUT+IVDW"``, ...)."""
    counter = Counter("+".join(c) for r in rows if (c := causes(r)))
    return dict(counter.most_common())
