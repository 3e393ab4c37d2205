"""Reference energies of the gas molecules and free-energy corrections, one table per DFT setting.

A references file is YAML::

    name: vasp-pbe
    source: where the numbers come from
    temperature: 298.15  # K, of the corrections
    energies: {H2O: -14.22, H2: -6.77, CO2: -22.96, N2: -16.64, NH3: -19.54}  # eV
    gas_corrections: {}  # eV added to a molecule's DFT energy (known functional errors)
    corrections: {OH: 0.35, O: 0.05, OOH: 0.40, H: 0.24}  # Delta(ZPE - TS), eV
    sources: {H2O: ..., OH: ..., corrections.NH3: ...}  # one source line per number

The molecule energies must come from the same DFT settings as the slabs.
Packaged tables live in ``arsc/data/references/``; see ``docs/thermo.md``.
A file must give a source for every number (:func:`read_references`); the
source of ``corrections.X`` is ``sources["corrections.X"]`` or, failing that,
``sources["X"]`` (the qualified key tells apart the correction of *NH3 from
the energy of NH3).

Examples
--------
>>> from arsc.thermo.references import load_references
>>> refs = load_references("vasp-pbe")
>>> refs.energies["H2"], refs.correction("OH"), refs.temperature
(-6.77, 0.35, 298.15)
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from arsc.errors import ArscInputError, unknown
from arsc.outputs import OutputKind
from arsc.thermo.network import load_network
from arsc.yamlio import read_yaml, validate

#: A finite number; strings, booleans and nulls are refused.
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]

#: Temperature of the reaction free energies, K (``arsc/data/reactions.yaml``: the CHE at
#: 298.15 K and 1 bar, experimental molecule free energies at that temperature).
CHE_TEMPERATURE = 298.15
#: Sections of a references table whose numbers need a source line.
NUMBER_SECTIONS = ("energies", "gas_corrections", "corrections")


class References(BaseModel):
    """Gas-molecule energies and adsorbate free-energy corrections of one DFT setting."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Name of the table (the file stem for packaged tables).")
    source: str = Field(description="Where the numbers come from, in one sentence.")
    temperature: float = Field(
        default=CHE_TEMPERATURE,
        gt=0,
        allow_inf_nan=False,
        description="Temperature of the free-energy corrections, K.",
    )
    energies: dict[str, Number] = Field(
        description="Total DFT energy of each isolated reference molecule, eV, "
        "at the same settings as the slabs."
    )
    gas_corrections: dict[str, Number] = Field(
        default_factory=dict,
        description="Correction added to a reference molecule's DFT energy, eV (a known "
        "systematic error of the functional, e.g. the O=C=O error of GGA CO2); absent means 0.",
    )
    corrections: dict[str, Number] = Field(
        default_factory=dict,
        description="Delta(ZPE - TS) (+ integrated Cp) of *X relative to its reference "
        "molecules, eV at `temperature`; absent: no correction (an error unless the caller "
        "allows uncorrected values).",
    )
    sources: dict[str, str] = Field(
        default_factory=dict,
        description="Source of each number: key `X` or `<section>.X` (section energies, "
        "gas_corrections or corrections).",
    )
    convention: dict[str, Any] = Field(
        default_factory=dict,
        description="Reference states the corrections belong to (documentation): molecules, "
        "pressures or fugacities, temperature.",
    )
    level: dict[str, Any] = Field(
        default_factory=dict, description="DFT settings the energies belong to (documentation)."
    )

    @field_validator("energies", "gas_corrections")
    @classmethod
    def _known_molecules(cls, value: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        allowed = load_network().references
        for key in value:
            if key not in allowed:
                raise unknown(f"molecule in {info.field_name}", key, allowed)
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

    def missing_corrections(self, intermediates: Iterable[str]) -> list[str]:
        """Return the intermediates (in the given order) the table gives no correction for."""
        return [x for x in intermediates if x not in self.corrections]

    def source_of(self, section: str, key: str) -> str:
        """Source line of one number (``""`` when the table gives none)."""
        return self.sources.get(f"{section}.{key}") or self.sources.get(key, "")

    def stray_sources(self) -> list[str]:
        """Keys of ``sources`` that name no number of the table."""
        numbers = {(section, key) for section in NUMBER_SECTIONS for key in getattr(self, section)}
        plain = {key for _, key in numbers}
        qualified = {f"{section}.{key}" for section, key in numbers}
        return [k for k in self.sources if k not in plain and k not in qualified]

    def unsourced(self) -> list[str]:
        """Numbers without a source line, as ``section.key``."""
        return [
            f"{section}.{key}"
            for section in NUMBER_SECTIONS
            for key in getattr(self, section)
            if not self.source_of(section, key).strip()
        ]

    def energy(self, molecule: str, needed_by: str) -> float:
        """Energy of a reference molecule with its gas correction, eV.

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
        return float(self.energies[molecule]) + float(self.gas_corrections.get(molecule, 0.0))


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
        non-numeric value, a temperature that is not above 0 K, a number
        without a source line.
    """
    p = Path(path)
    source = f"references file {str(p)!r}"
    data = read_yaml(p, "references file")
    if isinstance(data, dict) and data.get("template"):
        raise ArscInputError(
            f"{source} is a template: fill in its energies (eV, same DFT settings as the slabs) "
            "and remove 'template: true'"
        )
    refs = validate(References, data, source)
    if stray := refs.stray_sources():
        raise ArscInputError(
            f"{source}: sources.{stray[0]} names no number of the table; keys are molecules, "
            "intermediates or <section>.<key> (energies, gas_corrections, corrections)"
        )
    if missing := refs.unsourced():
        raise ArscInputError(
            f"{source}: no source for {', '.join(missing)}; add sources.<key> "
            "(one line saying where each number comes from)"
        )
    return refs


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


#: First line of a references table written by arsc (an existing one may be replaced).
WRITTEN_HEADER = "# references table written by arsc"


def _written_by_arsc(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(len(WRITTEN_HEADER)).decode(errors="replace") == WRITTEN_HEADER
    except OSError:
        return False


#: What ``arsc corrections -o`` writes.
REFERENCES_TABLE = OutputKind("references table (YAML)", _written_by_arsc)


def dump_references(refs: References, note: str = "") -> str:
    """Return a references table as YAML text that :func:`read_references` reads back.

    Parameters
    ----------
    refs
        The table.
    note
        Comment lines placed under the header (how the table was made).
    """
    import yaml

    lines = [WRITTEN_HEADER, *(f"# {line}" for line in note.splitlines() if line)]
    body = yaml.safe_dump(refs.model_dump(), sort_keys=False, allow_unicode=True, width=100)
    return "\n".join(lines) + "\n" + body
