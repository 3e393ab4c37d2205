"""Free-energy corrections Delta(ZPE - TS) from vibrational frequencies.

An adsorbate is a set of harmonic oscillators (all of its 3N modes,
:class:`ase.thermochemistry.HarmonicThermo`); a gas-phase reference molecule
is an ideal gas (:class:`ase.thermochemistry.IdealGasThermo`), or is taken
from experiment (fundamental frequencies and the standard entropy, table
``arsc/data/references/vibrations/gases.yaml``). The correction of
intermediate X, formed from its reference molecules n_i (``reactions.yaml``,
``intermediates:``), is

    corr_X = [ZPE - TS](*X) - sum_i n_i [ZPE - TS](i)

at one temperature; the vibrations of the bare site are taken as unchanged
by the adsorbate and cancel. Water's reference is the liquid, taken as the
gas at 0.035 bar (Norskov et al., J. Phys. Chem. B 108, 17886 (2004)).

Examples
--------
>>> from arsc.thermo.vibrations import derived_corrections, experimental_gas_terms, harmonic_terms
>>> gas = experimental_gas_terms()
>>> round(gas["H2"].ts, 2), round(gas["H2O"].ts, 2)  # eV at 298.15 K
(0.4, 0.67)
>>> oh = harmonic_terms([3840.26, 678.45, 544.71, 381.95, 303.60, 120.58])
>>> round(oh.zpe, 3)
0.364
>>> round(derived_corrections("literature")["COOH"], 2)  # published frequencies, eV
0.85
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Literal

import numpy as np
from ase import Atoms
from ase.thermochemistry import HarmonicThermo, IdealGasThermo
from ase.units import _e, _k, _Nav, invcm
from pydantic import BaseModel, ConfigDict, Field

from arsc.errors import ArscInputError, unknown
from arsc.thermo.network import ReactionNetwork, load_network
from arsc.thermo.references import CHE_TEMPERATURE, References
from arsc.yamlio import read_yaml, validate

#: Modes below this wavenumber (imaginary ones included) are raised to it, cm-1: the
#: harmonic entropy of a near-zero mode diverges (a common low-frequency treatment;
#: a project choice, a knob of every function here).
FLOOR_CM = 50.0
#: Pa in one bar (definition).
PASCAL_PER_BAR = 1.0e5


@dataclass(frozen=True)
class ThermoTerms:
    """Zero-point energy and entropy term of one species at one temperature.

    Attributes
    ----------
    zpe
        Zero-point energy, eV.
    ts
        Temperature times entropy, eV.
    raised
        Modes raised to the floor wavenumber (imaginary or too soft).
    """

    zpe: float
    ts: float
    raised: int = 0

    @property
    def g(self) -> float:
        """ZPE - TS, eV."""
        return self.zpe - self.ts


def _check_temperature(temperature: float) -> float:
    if not np.isfinite(temperature) or temperature <= 0:
        raise ArscInputError(f"temperature must be above 0 K (got {temperature} K)")
    return float(temperature)


def floored(frequencies_cm: Iterable[float], floor_cm: float = FLOOR_CM) -> tuple[np.ndarray, int]:
    """Wavenumbers with every mode below ``floor_cm`` raised to it, and how many were raised.

    Imaginary modes are given as negative wavenumbers.
    """
    f = np.asarray(list(frequencies_cm), dtype=float)
    low = f < floor_cm
    return np.where(low, floor_cm, f), int(low.sum())


def harmonic_terms(
    frequencies_cm: Sequence[float],
    temperature: float = CHE_TEMPERATURE,
    floor_cm: float = FLOOR_CM,
) -> ThermoTerms:
    """ZPE and TS of an adsorbate in the harmonic approximation.

    Parameters
    ----------
    frequencies_cm
        All 3N wavenumbers of the adsorbate's atoms, cm-1 (negative: imaginary).
    temperature
        K.
    floor_cm
        Modes below it are raised to it, cm-1.
    """
    t = _check_temperature(temperature)
    if len(frequencies_cm) == 0:
        raise ArscInputError("harmonic terms need at least one frequency")
    f, raised = floored(frequencies_cm, floor_cm)
    energies = f * invcm
    thermo = HarmonicThermo(list(energies))
    return ThermoTerms(
        zpe=float(0.5 * energies.sum()),
        ts=float(t * thermo.get_entropy(t, verbose=False)),
        raised=raised,
    )


def ideal_gas_terms(
    atoms: Atoms,
    frequencies_cm: Sequence[float],
    *,
    geometry: Literal["linear", "nonlinear"],
    symmetry: int,
    spin: float = 0.0,
    pressure_bar: float = 1.0,
    temperature: float = CHE_TEMPERATURE,
) -> ThermoTerms:
    """ZPE and TS of a gas molecule as an ideal gas (translation, rotation, vibration).

    Parameters
    ----------
    atoms
        The molecule (its geometry sets the moments of inertia).
    frequencies_cm
        Wavenumbers, cm-1: the 3N of a finite-difference calculation (the
        3N-6 or 3N-5 highest are kept) or the true vibrations only.
    geometry, symmetry, spin
        As for :class:`ase.thermochemistry.IdealGasThermo`.
    pressure_bar
        Pressure (fugacity) of the reference state, bar.
    temperature
        K.
    """
    t = _check_temperature(temperature)
    energies = [complex(x * invcm) if x >= 0 else complex(0, -x * invcm) for x in frequencies_cm]
    thermo = IdealGasThermo(
        energies,
        geometry,
        atoms=atoms,
        symmetrynumber=symmetry,
        spin=spin,
        ignore_imag_modes=True,
    )
    return ThermoTerms(
        zpe=float(thermo.get_ZPE_correction()),
        # get_entropy takes the pressure in Pa (ASE 3.29; its default, units.bar, is not)
        ts=float(t * thermo.get_entropy(t, pressure_bar * PASCAL_PER_BAR, verbose=False)),
    )


class GasData(BaseModel):
    """A gas-phase reference molecule: experimental data and ideal-gas parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    frequencies_cm: list[float] = Field(
        min_length=1, description="Experimental vibrational wavenumbers, cm-1."
    )
    entropy: float = Field(gt=0, description="Standard molar entropy at 1 bar, J/(mol K).")
    pressure_bar: float = Field(gt=0, description="Pressure (fugacity) of the reference, bar.")
    geometry: Literal["linear", "nonlinear"] = Field(description="Molecular geometry.")
    symmetry: int = Field(ge=1, description="Rotational symmetry number.")
    spin: float = Field(ge=0, description="Total electronic spin (0 for a singlet).")


class GasTable(BaseModel):
    """The gas data file (``arsc/data/references/vibrations/gases.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float = Field(gt=0, description="Temperature of the entropies, K.")
    molecules: dict[str, GasData] = Field(description="Molecule -> data.")


class FrequencySet(BaseModel):
    """Published frequencies of one adsorbate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(description="Key of `sources` naming the publication.")
    frequencies_cm: list[float] = Field(min_length=1, description="All 3N wavenumbers, cm-1.")


class FrequencyTable(BaseModel):
    """Published adsorbate frequencies (``adsorbates-literature.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: dict[str, str] = Field(description="Source key -> citation.")
    adsorbates: dict[str, FrequencySet] = Field(description="Intermediate -> frequencies.")


def _data_dir() -> Path:
    return Path(str(files("arsc.data").joinpath("references", "vibrations")))


@cache
def gas_table() -> GasTable:
    """Return the packaged gas data (``gases.yaml``)."""
    path = _data_dir() / "gases.yaml"
    return validate(GasTable, read_yaml(path, "gas data file"), f"gas data file {str(path)!r}")


#: Packaged adsorbate frequency sets (``vibrations/adsorbates-<name>.yaml``).
FREQUENCY_SETS = ("literature", "chgnet")


@cache
def frequency_table(name: str = "literature") -> FrequencyTable:
    """Return a packaged adsorbate frequency set (``adsorbates-<name>.yaml``).

    ``literature``: published frequencies; ``chgnet``: computed by this project
    with CHGNet for the intermediates no published set was found for.
    """
    if name not in FREQUENCY_SETS:
        raise unknown("frequency set", name, FREQUENCY_SETS)
    path = _data_dir() / f"adsorbates-{name}.yaml"
    table = validate(
        FrequencyTable, read_yaml(path, "frequency file"), f"frequency file {str(path)!r}"
    )
    for species, entry in table.adsorbates.items():
        if entry.source not in table.sources:
            raise unknown(f"source of {species} in {path}", entry.source, table.sources)
    return table


def experimental_gas_terms(temperature: float = CHE_TEMPERATURE) -> dict[str, ThermoTerms]:
    """ZPE and TS of every reference molecule from experiment (``gases.yaml``).

    ZPE is half the sum of the experimental wavenumbers; TS is T times the
    standard entropy, shifted to the reference pressure (-R ln(p / 1 bar)).

    Raises
    ------
    ArscInputError
        If ``temperature`` is not the temperature of the tabulated entropies.
    """
    table = gas_table()
    t = _check_temperature(temperature)
    if abs(t - table.temperature) > 1e-6:
        raise ArscInputError(
            f"experimental gas entropies are tabulated at {table.temperature} K only "
            f"(got {t} K); compute the gas terms with ideal_gas_terms instead"
        )
    r = _Nav * _k  # gas constant, J/(mol K)
    out = {}
    for name, gas in table.molecules.items():
        s = gas.entropy - r * np.log(gas.pressure_bar)
        out[name] = ThermoTerms(
            zpe=float(0.5 * np.sum(gas.frequencies_cm) * invcm),
            ts=float(t * s / (_e * _Nav)),
        )
    return out


def formation_corrections(
    adsorbates: Mapping[str, ThermoTerms],
    gases: Mapping[str, ThermoTerms],
    network: ReactionNetwork | None = None,
) -> dict[str, float]:
    """Delta(ZPE - TS) of each adsorbate relative to its reference molecules, eV.

    Parameters
    ----------
    adsorbates
        Intermediate (a name of ``reactions.yaml``) -> its terms on the site.
    gases
        Reference molecule -> its terms (every molecule the intermediates need).
    network
        Reaction networks (default: the packaged ones).

    Raises
    ------
    ArscInputError
        An unknown intermediate, or a reference molecule missing from ``gases``.
    """
    net = network or load_network()
    out: dict[str, float] = {}
    for name, terms in adsorbates.items():
        if name not in net.intermediates:
            raise unknown("intermediate", name, net.intermediates)
        ref = 0.0
        for mol, n in net.intermediates[name].items():
            if mol not in gases:
                raise ArscInputError(
                    f"no gas-phase terms for {mol}, needed by *{name}; "
                    f"give {mol} among the gas molecules"
                )
            ref += n * gases[mol].g
        out[name] = terms.g - ref
    return out


def derived_corrections(name: str = "literature", floor_cm: float = FLOOR_CM) -> dict[str, float]:
    """Corrections (eV) derived from a packaged frequency set and the experimental gases."""
    table = frequency_table(name)
    ads = {
        k: harmonic_terms(v.frequencies_cm, floor_cm=floor_cm) for k, v in table.adsorbates.items()
    }
    return formation_corrections(ads, experimental_gas_terms())


class VibrationalAnalysis(BaseModel):
    """Harmonic frequencies of one species, as a vibrational calculation delivers them."""

    model_config = ConfigDict(extra="forbid")

    species: str = Field(description="Intermediate (adsorbate) or reference molecule (gas).")
    kind: Literal["adsorbate", "gas"] = Field(description="Adsorbed state or gas molecule.")
    site: str = Field("", description="Site id of an adsorbate ('' for a gas).")
    frequencies_cm: list[float] = Field(
        description="Wavenumbers of the displaced atoms' modes, cm-1 (negative: imaginary)."
    )
    displaced: list[int] = Field(description="Indices of the displaced atoms.")
    fmax: float = Field(
        description="Largest force on the displaced atoms before the displacements, eV/Angstrom."
    )
    method: str = Field(description="Calculator and settings, one line (model, version, ...).")


def terms_of(
    analysis: VibrationalAnalysis,
    temperature: float = CHE_TEMPERATURE,
    floor_cm: float = FLOOR_CM,
    atoms: Atoms | None = None,
) -> ThermoTerms:
    """ZPE and TS of an analysed species: harmonic (adsorbate) or ideal gas (molecule).

    A gas molecule takes its geometry, symmetry number and spin from
    ``gases.yaml`` and its structure from ``atoms`` (the relaxed molecule).
    """
    if analysis.kind == "adsorbate":
        return harmonic_terms(analysis.frequencies_cm, temperature, floor_cm)
    table = gas_table().molecules
    if analysis.species not in table:
        raise unknown("gas molecule", analysis.species, table)
    if atoms is None:
        raise ArscInputError(f"the ideal-gas terms of {analysis.species} need its structure")
    gas = table[analysis.species]
    molecule = atoms.copy()
    molecule.pbc = False  # an isolated molecule: IdealGasThermo refuses a periodic cell
    return ideal_gas_terms(
        molecule,
        analysis.frequencies_cm,
        geometry=gas.geometry,
        symmetry=gas.symmetry,
        spin=gas.spin,
        pressure_bar=gas.pressure_bar,
        temperature=temperature,
    )


def corrections_table(
    adsorbates: Mapping[str, tuple[VibrationalAnalysis, ThermoTerms]],
    gases: Mapping[str, tuple[VibrationalAnalysis, ThermoTerms]],
    base: References,
    name: str,
    temperature: float = CHE_TEMPERATURE,
) -> References:
    """Build a references table whose corrections come from vibrational analyses.

    Molecule energies, gas corrections and their sources are those of
    ``base`` (they belong to the DFT level of the slabs, not to the
    vibrational method); the corrections of ``base`` for intermediates not
    analysed here are kept with their sources.

    Parameters
    ----------
    adsorbates
        Intermediate -> (analysis, terms).
    gases
        Reference molecule -> (analysis, terms).
    base
        The table that gives the molecule energies.
    name
        Name of the new table.
    temperature
        K, of the terms.
    """
    computed = formation_corrections(
        {k: t for k, (_, t) in adsorbates.items()}, {k: t for k, (_, t) in gases.items()}
    )
    net = load_network()
    sources = {k: v for k, v in base.sources.items() if not k.startswith("corrections.")}
    sources.update({f"corrections.{k}": base.source_of("corrections", k) for k in base.corrections})
    for x, (analysis, terms) in adsorbates.items():
        refs = ", ".join(net.intermediates[x])
        raised = f", {terms.raised} modes raised to {FLOOR_CM:g} cm-1" if terms.raised else ""
        sources[f"corrections.{x}"] = (
            f"harmonic *{x} on {analysis.site} ({len(analysis.frequencies_cm)} modes{raised}; "
            f"ZPE {terms.zpe:.3f} eV, TS {terms.ts:.3f} eV) minus ideal-gas {refs}; "
            f"{analysis.method}; arsc corrections"
        )
    gas_text = "; ".join(
        f"{k} ZPE {t.zpe:.3f} TS {t.ts:.3f} eV ({a.method})" for k, (a, t) in gases.items()
    )
    methods = sorted({a.method for a, _ in adsorbates.values()})
    return References(
        name=name,
        source=f"corrections from vibrational analyses ({'; '.join(methods)}); molecule "
        f"energies from references {base.name!r}",
        temperature=temperature,
        energies=dict(base.energies),
        gas_corrections=dict(base.gas_corrections),
        corrections={**base.corrections, **{k: round(v, 4) for k, v in computed.items()}},
        sources=sources,
        convention={
            "temperature_K": temperature,
            "adsorbates": "harmonic, only the adsorbate atoms displaced; site vibrations cancel",
            "gases": "ideal gas at 1 bar; H2O at 0.035 bar (liquid water, Norskov et al. 2004)",
            "gas_terms": gas_text,
        },
        level=dict(base.level),
    )
