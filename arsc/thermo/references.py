"""Reference energies of the gas molecules and free-energy corrections, one table per DFT setting.

A references file is YAML::

    name: vasp-pbe
    source: where the numbers come from
    energies: {H2O: -14.22, H2: -6.77, CO2: -22.96, N2: -16.64, NH3: -19.54}  # eV
    corrections: {OH: 0.35, O: 0.05, OOH: 0.40, H: 0.24}  # Delta(ZPE - TS), eV
    sources: {H2O: ..., OH: ...}  # one source line per number

The molecule energies must come from the same DFT settings as the slabs.
Packaged tables live in ``arsc/data/references/``; see ``docs/thermo.md``.

Examples
--------
>>> from arsc.thermo.references import load_references
>>> refs = load_references("vasp-pbe")
>>> refs.energies["H2"], refs.correction("OH"), refs.correction("COOH")
(-6.77, 0.35, 0.0)
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from arsc.errors import ArscInputError, unknown
from arsc.thermo.network import load_network
from arsc.yamlio import read_yaml, validate

#: A finite number; strings, booleans and nulls are refused.
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]


class References(BaseModel):
    """Gas-molecule energies and adsorbate free-energy corrections of one DFT setting."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Name of the table (the file stem for packaged tables).")
    source: str = Field(description="Where the numbers come from, in one sentence.")
    energies: dict[str, Number] = Field(
        description="Total DFT energy of each isolated reference molecule, eV, "
        "at the same settings as the slabs."
    )
    corrections: dict[str, Number] = Field(
        default_factory=dict,
        description="Delta(ZPE - TS) (+ integrated Cp) of *X relative to its reference "
        "molecules, eV at 298.15 K; absent means 0.",
    )
    sources: dict[str, str] = Field(
        default_factory=dict, description="Source of each number, keyed like energies/corrections."
    )
    level: dict[str, Any] = Field(
        default_factory=dict, description="DFT settings the energies belong to (documentation)."
    )

    @field_validator("energies")
    @classmethod
    def _known_molecules(cls, value: dict[str, float]) -> dict[str, float]:
        allowed = load_network().references
        for key in value:
            if key not in allowed:
                raise unknown("molecule in energies", key, allowed)
        return value

    @field_validator("corrections")
    @classmethod
    def _known_intermediates(cls, value: dict[str, float]) -> dict[str, float]:
        allowed = load_network().intermediates
        for key in value:
            if key not in allowed:
                raise unknown("intermediate in corrections", key, allowed)
        return value

    def correction(self, intermediate: str) -> float:
        """Free-energy correction of *X, eV (0 when the table has none)."""
        return float(self.corrections.get(intermediate, 0.0))

    def energy(self, molecule: str, needed_by: str) -> float:
        """Energy of a reference molecule, eV.

        Raises
        ------
        ArscInputError
            If the table has no energy for it, naming the intermediate that needs it.
        """
        if molecule not in self.energies:
            raise ArscInputError(
                f"references {self.name!r} have no energy for {molecule}, needed by *{needed_by}; "
                f"add energies.{molecule} (eV, same DFT level as the slabs)"
            )
        return float(self.energies[molecule])


def _package_dir() -> Path:
    return Path(str(files("arsc.data").joinpath("references")))


def reference_names() -> tuple[str, ...]:
    """Names of the packaged reference tables (templates included)."""
    return tuple(sorted(p.stem for p in _package_dir().glob("*.yaml")))


def read_references(path: str | Path) -> References:
    """Read a references YAML file.

    Raises
    ------
    ArscInputError
        One line naming the file and the bad key: malformed YAML, a template,
        a missing ``energies``, an unknown molecule or intermediate, a
        non-numeric value.
    """
    p = Path(path)
    source = f"references file {str(p)!r}"
    data = read_yaml(p, "references file")
    if isinstance(data, dict) and data.get("template"):
        raise ArscInputError(
            f"{source} is a template: fill in its energies (eV, same DFT settings as the slabs) "
            "and remove 'template: true'"
        )
    return validate(References, data, source)


def load_references(name_or_path: str | Path) -> References:
    """Load a packaged references table by name, or a user's file by path.

    Parameters
    ----------
    name_or_path
        A packaged name (``"vasp-pbe"``) or the path of a YAML file.

    Raises
    ------
    ArscInputError
        If it is neither an existing file nor a packaged name, or the file is bad.
    """
    p = Path(name_or_path)
    if p.is_file():
        return read_references(p)
    name = str(name_or_path)
    if name in reference_names():
        return read_references(_package_dir() / f"{name}.yaml")
    raise unknown("references (neither a file nor a packaged table)", name, reference_names())
