"""The energies table: one row per DFT calculation, written and read as CSV.

The table is the contract between ingestion (:mod:`arsc.ingest`) and the
free-energy code: only rows with ``consistent`` true are comparable with their
site's bare run.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from arsc.errors import ArscInputError
from arsc.ingest.messages import one_line
from arsc.outputs import csv_with, write_text_atomic
from arsc.yamlio import problems, shown

if TYPE_CHECKING:  # pandas is heavy: imported by to_frame only
    import pandas as pd

Engine = Literal["vasp", "gpaw", "mlip"]

#: Adsorbate name of the clean site in the table.
BARE = "bare"


class DftSettings(BaseModel):
    """Settings that must agree between an adsorbate run and its bare-site run."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    functional: str = Field(
        description="Exchange-correlation functional (PBE, RPBE, r2SCAN, HSE06, ...); "
        "from GGA/METAGGA/LHFCALC tags, else the POTCAR family; no unit"
    )
    encut: float | None = Field(
        default=None, description="Plane-wave cutoff, eV; None when not set (code default)"
    )
    ispin: int = Field(description="1 spin-restricted, 2 spin-polarised; no unit")
    ldau: bool = Field(description="Whether DFT+U is on (LDAU); no unit")
    u_values: str = Field(
        default="",
        description="Effective U (U - J) per element, eV, as 'Co:3.32,Fe:4'; "
        "empty when DFT+U is off",
    )
    ivdw: int = Field(description="VASP IVDW code of the dispersion correction, 0 for none")
    dipole: bool = Field(description="Whether a dipole correction is on (LDIPOL/IDIPOL)")

    def hash(self) -> str:
        """Return a short (10 hex digits) hash of these settings."""
        blob = json.dumps(self.model_dump(), sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:10]


#: Label of each comparability setting in ``reason`` messages.
SETTING_LABELS: dict[str, str] = {
    "functional": "functional",
    "encut": "ENCUT",
    "ispin": "ISPIN",
    "ldau": "LDAU",
    "u_values": "U",
    "ivdw": "IVDW",
    "dipole": "dipole",
}


class EnergyRow(BaseModel):
    """One calculation in the energies table (one CSV row)."""

    model_config = ConfigDict(extra="forbid")

    site: str = Field(description="Site name parsed from the folder or file name")
    adsorbate: str = Field(
        description=f"Intermediate as in arsc/data/adsorbates.yaml, or {BARE!r} for the clean site"
    )
    mode: str = Field(default="", description="Binding mode (top1, top2, bridge, side-on) or empty")
    e0: float | None = Field(
        default=None, description="Total energy extrapolated to sigma -> 0 (OSZICAR E0), eV"
    )
    f: float | None = Field(default=None, description="Free energy (OSZICAR F, TOTEN), eV")
    engine: Engine = Field(description="Code that produced the energy: vasp, gpaw or mlip")
    functional: str = Field(
        default="", description=DftSettings.model_fields["functional"].description
    )
    encut: float | None = Field(
        default=None, description=DftSettings.model_fields["encut"].description
    )
    ispin: int | None = Field(
        default=None, description=DftSettings.model_fields["ispin"].description
    )
    ldau: bool = Field(default=False, description=DftSettings.model_fields["ldau"].description)
    u_values: str = Field(default="", description=DftSettings.model_fields["u_values"].description)
    ivdw: int | None = Field(default=None, description=DftSettings.model_fields["ivdw"].description)
    dipole: bool = Field(default=False, description=DftSettings.model_fields["dipole"].description)
    settings_hash: str = Field(
        default="", description="Short hash of the comparability settings (functional ... dipole)"
    )
    converged: bool = Field(
        default=False,
        description="Run stopped normally: SCF within NELM, ionic criterion met, NSW unmet",
    )
    ionic_steps: int = Field(default=0, description="Number of ionic steps (or trajectory frames)")
    last_de: float | None = Field(
        default=None, description="Energy change of the last ionic step, eV; None for a single step"
    )
    nsw_reached: bool = Field(
        default=False, description="Ionic steps >= NSW (> 0): the run hit its limit"
    )
    natoms: int | None = Field(default=None, description="Atoms in the final structure")
    path: str = Field(description="Folder or file the row was read from")
    consistent: bool = Field(
        default=True,
        description="Settings agree with the site's bare run and the files were readable",
    )
    reason: str = Field(default="", description="Why the row is not consistent; empty when it is")

    @field_validator("e0", "f", "encut", "ispin", "ivdw", "last_de", "natoms", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @property
    def settings(self) -> DftSettings | None:
        """The comparability settings, or None for a row whose files could not be read."""
        if self.e0 is None or self.ispin is None or self.ivdw is None:
            return None
        return DftSettings(
            functional=self.functional,
            encut=self.encut,
            ispin=self.ispin,
            ldau=self.ldau,
            u_values=self.u_values,
            ivdw=self.ivdw,
            dipole=self.dipole,
        )

    @property
    def readable(self) -> bool:
        """Whether a finite energy and the settings were read (False for an error row)."""
        return self.settings is not None and self.e0 is not None and math.isfinite(self.e0)


#: Column order of the CSV file.
COLUMNS: tuple[str, ...] = tuple(EnergyRow.model_fields)
#: Columns that make an existing CSV recognisably an energies table (replaced without --force).
KEY_COLUMNS: tuple[str, ...] = ("site", "adsorbate", "mode", "e0", "engine", "settings_hash")
#: The energies table as an output kind, for :func:`arsc.outputs.check_output`.
TABLE_KIND = csv_with(*KEY_COLUMNS, name="energies table (CSV)")


def row_from(settings: DftSettings, **fields: Any) -> EnergyRow:
    """Build a row from its settings and the remaining fields (hash filled in)."""
    return EnergyRow(**settings.model_dump(), settings_hash=settings.hash(), **fields)


def error_row(
    site: str, adsorbate: str, mode: str, engine: Engine, path: Path, reason: str
) -> EnergyRow:
    """Build the row of a calculation whose files could not be read.

    The reason is made one printable line (see :func:`arsc.ingest.messages.one_line`).
    """
    return EnergyRow(
        site=site,
        adsorbate=adsorbate,
        mode=mode,
        engine=engine,
        path=str(path),
        consistent=False,
        reason=one_line(reason) or "cannot be read",
    )


def write_table(rows: Iterable[EnergyRow], path: str | Path) -> Path:
    """Write rows to a CSV file with the columns in :data:`COLUMNS` order.

    None is written as an empty cell; floats keep full precision. The file is
    written atomically (a temporary file beside it is renamed over it), so a
    failure leaves an existing table intact. Check the path first with
    :func:`arsc.outputs.check_output` and :data:`TABLE_KIND`.

    Raises
    ------
    ArscInputError
        One line when the folder cannot be created or written.
    """
    p = Path(path)
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.model_dump().items()})
    write_text_atomic(p, buffer.getvalue())
    return p


def read_table(path: str | Path) -> list[EnergyRow]:
    """Read an energies table written by :func:`write_table`.

    Raises
    ------
    ArscInputError
        If the file is missing, lacks a required column or holds a bad value.
    """
    p = Path(path)
    if not p.is_file():
        raise ArscInputError(f"energies table {str(p)!r} does not exist")
    with p.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in EnergyRow.model_fields if c not in (reader.fieldnames or [])]
        required = [c for c in missing if EnergyRow.model_fields[c].is_required()]
        if required:
            raise ArscInputError(
                f"energies table {str(p)!r} lacks column(s) {', '.join(required)}; "
                f"expected: {', '.join(COLUMNS)}"
            )
        rows = []
        for n, rec in enumerate(reader, start=2):
            try:
                rows.append(
                    EnergyRow.model_validate({k: v for k, v in rec.items() if k in COLUMNS})
                )
            except ValidationError as exc:
                first = problems(exc, EnergyRow)[0]
                raise ArscInputError(
                    f"energies table {str(p)!r} line {n}: column {first.key} "
                    f"value {shown(first.value)}: {first.what}"
                ) from None
    return rows


def to_frame(rows: Iterable[EnergyRow]) -> pd.DataFrame:
    """Return the rows as a DataFrame with the :data:`COLUMNS` order."""
    import pandas as pd

    return pd.DataFrame([r.model_dump() for r in rows], columns=list(COLUMNS))
