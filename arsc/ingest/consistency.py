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
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from arsc.ingest.table import BARE, SETTING_LABELS, EnergyRow

#: Reason of the rows of a site without a bare run.
NO_BARE = "no bare-site run"
#: Reason of the rows of a site whose bare run could not be read.
BARE_UNREADABLE = "bare-site run unreadable"
#: Cause reported for rows whose files could not be read.
READ_ERROR = "read error"


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
    diffs = mine.differences(bare)
    return row.model_copy(update={"consistent": not diffs, "reason": "; ".join(diffs)})


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
