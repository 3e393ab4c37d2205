"""Ingestion of DFT results into one energies table, with a settings-consistency check.

Typical use::

    from arsc.ingest import ingest_vasp, write_table

    result = ingest_vasp("sac-hoer", pattern="{site}_{adsorbate}", bare="substrate")
    write_table(result.rows, "energies.csv")

Modules: :mod:`~arsc.ingest.table` (the row model and CSV),
:mod:`~arsc.ingest.pattern` (folder-name patterns), :mod:`~arsc.ingest.vasp`
and :mod:`~arsc.ingest.vasp_settings` (VASP folders),
:mod:`~arsc.ingest.gpaw` (ASE files of GPAW or MLIP runs),
:mod:`~arsc.ingest.consistency` (the check) and :mod:`~arsc.ingest.tree`
(walking a tree).
"""

from arsc.ingest.consistency import (
    causes,
    check_consistency,
    compare_settings,
    count_causes,
    settings_differences,
)
from arsc.ingest.pattern import NameParts, NamePattern
from arsc.ingest.table import (
    BARE,
    COLUMNS,
    DftSettings,
    EnergyRow,
    read_table,
    to_frame,
    write_table,
)
from arsc.ingest.tree import IngestResult, ingest_gpaw, ingest_runs, ingest_vasp

#: The former name of :func:`ingest_runs` (``arsc.ingest`` is this package, so the
#: package top exports the function as ``ingest_runs``).
ingest = ingest_runs

__all__ = [
    "BARE",
    "COLUMNS",
    "DftSettings",
    "EnergyRow",
    "IngestResult",
    "NameParts",
    "NamePattern",
    "causes",
    "check_consistency",
    "compare_settings",
    "count_causes",
    "ingest",
    "ingest_gpaw",
    "ingest_runs",
    "ingest_vasp",
    "read_table",
    "settings_differences",
    "to_frame",
    "write_table",
]
