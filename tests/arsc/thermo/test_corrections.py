"""Free-energy corrections: the packaged tables, their derivation, and missing/uncorrected input."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from ase.build import molecule
from ase.units import invcm, kB

from arsc.errors import ArscInputError
from arsc.thermo import compute_activity, dump_references, load_network, load_references
from arsc.thermo.references import References, read_references
from arsc.thermo.vibrations import (
    FREQUENCY_SETS,
    ThermoTerms,
    derived_corrections,
    experimental_gas_terms,
    formation_corrections,
    frequency_table,
    gas_table,
    harmonic_terms,
    ideal_gas_terms,
)
from tests.paths import DATA as TEST_DATA

DATA = TEST_DATA / "thermo"
REFS = load_references("vasp-pbe")
NET = load_network()
#: Published corrections the derivation must give back (Norskov et al. 2005; Valdes 2008).
PUBLISHED = {"OH": 0.35, "O": 0.05, "H": 0.24}


def rows_for(site, dg, refs=REFS, bare=-300.0):
    """Energies rows that give the free energies ``dg`` (eV) with ``refs`` (inverse CHE)."""
    rows = [{"site": site, "adsorbate": "bare", "e0": bare}]
    for name, value in dg.items():
        shift = sum(n * refs.energy(m, name) for m, n in NET.intermediates[name].items())
        rows.append(
            {"site": site, "adsorbate": name, "e0": bare + value - refs.correction(name) + shift}
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ packaged tables
def test_every_intermediate_of_every_reaction_has_a_sourced_correction():
    for reaction in NET.reactions:
        for x in NET.reaction_intermediates(reaction):
            assert x in REFS.corrections, (reaction, x)
            assert REFS.source_of("corrections", x).strip(), x
    assert REFS.unsourced() == [] and REFS.stray_sources() == []
    assert REFS.temperature == 298.15
    for key in ("reference_molecules", "pressures", "temperature_K"):
        assert key in REFS.convention


def test_nh3_and_n2_corrections_have_their_own_source_lines():
    """*NH3 and *N2 share their names with molecules: the qualified key keeps them apart."""
    for x in ("NH3", "N2"):
        assert REFS.sources[f"corrections.{x}"] != REFS.sources[x]
        assert REFS.source_of("corrections", x) == REFS.sources[f"corrections.{x}"]
        assert REFS.source_of("energies", x) == REFS.sources[x]


def test_packaged_co2rr_corrections_are_the_derivation_from_published_frequencies():
    derived = derived_corrections("literature")
    for x in ("COOH", "OCHO", "CO", "CHO"):
        assert REFS.corrections[x] == pytest.approx(round(derived[x], 2), abs=1e-9), x
        assert "derived" in REFS.source_of("corrections", x)


def test_packaged_coh_and_nrr_corrections_are_the_chgnet_derivation_and_say_so():
    derived = derived_corrections("chgnet")
    assert set(derived) == {"COH", "N2", "N2H", "NNH2", "NHNH", "N", "NH", "NH2", "NH3"}
    for x, value in derived.items():
        assert REFS.corrections[x] == pytest.approx(round(value, 2), abs=1e-9), x
        assert "NOT literature" in REFS.source_of("corrections", x) and "CHGNet" in (
            REFS.source_of("corrections", x)
        )


def test_chgnet_frequencies_are_those_of_the_recorded_run():
    """adsorbates-chgnet.yaml holds the modes of tests/data/thermo/vib_chgnet (0.1 cm-1)."""
    run = json.loads((DATA / "vib_chgnet" / "chgnet-fe2.json").read_text())
    recorded = {
        a["species"]: a["frequencies_cm"] for a in run["analyses"] if a["kind"] == "adsorbate"
    }
    for x, entry in frequency_table("chgnet").adsorbates.items():
        assert entry.frequencies_cm == pytest.approx(recorded[x], abs=0.051), x


def test_derivation_gives_back_the_published_oh_o_h_corrections():
    """The same scheme on published *OH, *O, *H frequencies reproduces Norskov's values."""
    derived = derived_corrections("literature")
    for x, value in PUBLISHED.items():
        assert derived[x] == pytest.approx(value, abs=0.05), x
        assert REFS.corrections[x] == value  # the packaged table keeps the published value


@pytest.mark.parametrize("name", FREQUENCY_SETS)
def test_every_frequency_set_names_a_known_source_and_intermediate(name):
    table = frequency_table(name)
    for species, entry in table.adsorbates.items():
        assert species in NET.intermediates
        assert entry.source in table.sources


# ------------------------------------------------------------------ thermochemistry
def test_experimental_gas_terms_match_the_standard_che_values():
    gas = experimental_gas_terms()
    # TS (eV) = T S(298.15 K) from NIST; H2O at 0.035 bar (liquid water)
    expected_ts = {"H2": 0.404, "H2O": 0.670, "CO2": 0.661, "N2": 0.592, "NH3": 0.596}
    for name, ts in expected_ts.items():
        assert gas[name].ts == pytest.approx(ts, abs=0.001), name
    assert gas["H2"].zpe == pytest.approx(0.5 * 4401 * invcm)


def test_ideal_gas_terms_reproduce_the_nist_entropies():
    """IdealGasThermo on the experimental frequencies and ASE geometries gives NIST's TS."""
    exp = experimental_gas_terms()
    for name, gas in gas_table().molecules.items():
        terms = ideal_gas_terms(
            molecule(name),
            gas.frequencies_cm,
            geometry=gas.geometry,
            symmetry=gas.symmetry,
            spin=gas.spin,
            pressure_bar=gas.pressure_bar,
        )
        assert terms.ts == pytest.approx(exp[name].ts, abs=0.003), name
        assert terms.zpe == pytest.approx(exp[name].zpe, abs=1e-9), name


def test_harmonic_terms_of_one_mode_by_hand():
    nu = 1000.0  # cm-1
    e = nu * invcm  # eV
    x = e / (kB * 298.15)
    s_over_k = x / math.expm1(x) - math.log(1 - math.exp(-x))  # harmonic oscillator entropy
    terms = harmonic_terms([nu])
    assert terms.zpe == pytest.approx(0.5 * e)
    assert terms.ts == pytest.approx(298.15 * kB * s_over_k, rel=1e-9)


def test_soft_and_imaginary_modes_are_raised_to_the_floor():
    terms = harmonic_terms([-120.0, 10.0, 400.0], floor_cm=50.0)
    same = harmonic_terms([50.0, 50.0, 400.0], floor_cm=50.0)
    assert terms.raised == 2
    assert (terms.zpe, terms.ts) == pytest.approx((same.zpe, same.ts))


@pytest.mark.parametrize("temperature", [0.0, -5.0, float("nan")])
def test_temperature_must_be_above_zero(temperature):
    with pytest.raises(ArscInputError, match="above 0 K"):
        harmonic_terms([400.0], temperature=temperature)


def test_formation_correction_is_adsorbate_minus_its_reference_molecules():
    ads = {"OH": ThermoTerms(0.36, 0.08)}
    gas = {"H2O": ThermoTerms(0.56, 0.67), "H2": ThermoTerms(0.27, 0.40)}
    got = formation_corrections(ads, gas)["OH"]
    assert got == pytest.approx((0.36 - 0.08) - ((0.56 - 0.67) - 0.5 * (0.27 - 0.40)))
    with pytest.raises(ArscInputError, match=r"no gas-phase terms for H2O, needed by \*OH"):
        formation_corrections(ads, {"H2": gas["H2"]})
    with pytest.raises(ArscInputError, match="unknown intermediate 'XY'"):
        formation_corrections({"XY": ThermoTerms(0, 0)}, gas)


# ------------------------------------------------------------------ missing / uncorrected
def without(refs, *names):
    keep = {k: v for k, v in refs.corrections.items() if k not in names}
    return refs.model_copy(update={"corrections": keep, "name": "partial"})


def test_a_table_lacking_a_needed_correction_is_refused_naming_it():
    table = rows_for("s", {"COOH": 0.3, "CO": -0.2, "OCHO": 0.5, "H": 0.1, "CHO": 0.6, "COH": 0.9})
    with pytest.raises(ArscInputError) as err:
        compute_activity(table, "crr", without(REFS, "COOH", "CHO"))
    msg = str(err.value)
    assert "references 'partial'" in msg and "*COOH, *CHO" in msg and "crr" in msg
    assert "--allow-uncorrected" in msg and "\n" not in msg
    compute_activity(table, "orr", without(REFS, "COOH"))  # ORR does not need *COOH: fine


def test_allow_uncorrected_marks_every_affected_number():
    dg = {"COOH": 0.3, "CO": -0.2, "OCHO": 0.5, "H": 0.1, "CHO": 0.6, "COH": 0.9}
    table = pd.concat([rows_for("a", dg), rows_for("b", {"H": 0.1})])
    refs = without(REFS, "COOH")
    report = compute_activity(table, "crr", refs, allow_uncorrected=True)
    assert report.uncorrected == ["COOH"]
    by_site = {r.site: r for r in report.results}
    assert by_site["a"].uncorrected == ["COOH"]
    assert by_site["b"].uncorrected == []  # no *COOH row: nothing computed without a correction
    frame = report.table().set_index("site")
    assert frame.loc["a", "uncorrected"] == "COOH" and frame.loc["b", "uncorrected"] == ""
    summary = report.summary()
    assert summary["uncorrected"] == ["COOH"] and summary["uncorrected_sites"] == 1
    # the number itself: E(*COOH) made with the full table, evaluated with no correction
    assert by_site["a"].dg["COOH"] == pytest.approx(0.3 - REFS.corrections["COOH"])


def test_gas_correction_shifts_every_carbon_intermediate():
    dg = {"COOH": 0.3, "CO": -0.2}
    table = rows_for("s", dg)
    shifted = REFS.model_copy(update={"gas_corrections": {"CO2": 0.1}})
    a = compute_activity(table, "crr", REFS, allow_uncorrected=True).results[0].dg
    b = compute_activity(table, "crr", shifted, allow_uncorrected=True).results[0].dg
    for x in dg:  # each holds one CO2: dG_X = ... - E(CO2) - corr(CO2)
        assert b[x] - a[x] == pytest.approx(-0.1)


def test_a_table_at_another_temperature_is_refused():
    hot = REFS.model_copy(update={"temperature": 350.0, "name": "hot"})
    with pytest.raises(ArscInputError, match=r"'hot' are at 350.0 K.*298.15 K"):
        compute_activity(rows_for("s", {"OH": 1.0}), "orr", hot)


# ------------------------------------------------------------------ files
def write(tmp_path, text):
    path = tmp_path / "refs.yaml"
    path.write_text(text)
    return path


GOOD = (
    "name: t\nsource: test\nenergies: {H2O: -14.22, H2: -6.77}\ncorrections: {H: 0.24}\n"
    "sources: {H2O: a, H2: b, H: c}\n"
)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        (GOOD.replace("sources: {H2O: a, H2: b, H: c}", "sources: {H2O: a, H2: b}"),
         r"no source for corrections\.H"),
        (GOOD.replace("H: c}", "H: c, XY: d}"), r"sources\.XY names no number"),
        (GOOD + "temperature: -20\n", r"temperature: must be > 0"),
        (GOOD.replace("corrections: {H: 0.24}", "corrections: {XY: 0.24}"),
         r"corrections: unknown intermediate in corrections 'XY'"),
        (GOOD + "gas_corrections: {CO: -0.1}\n", r"unknown molecule in gas_corrections 'CO'"),
    ],
)  # fmt: skip
def test_bad_references_file_is_one_line_naming_the_key(tmp_path, text, pattern):
    path = write(tmp_path, text)
    with pytest.raises(ArscInputError, match=pattern) as err:
        read_references(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_qualified_source_keys_are_accepted(tmp_path):
    text = GOOD.replace("H: c}", "corrections.H: c}")
    assert read_references(write(tmp_path, text)).source_of("corrections", "H") == "c"


def test_dumped_table_reads_back_equal(tmp_path):
    path = write(tmp_path, dump_references(REFS, note="made by a test"))
    again = read_references(path)
    assert again == REFS
    assert path.read_text().startswith("# references table written by arsc\n# made by a test\n")


def test_references_model_refuses_a_non_positive_temperature():
    with pytest.raises(ValueError, match="greater than 0"):
        References(name="x", source="s", energies={}, temperature=0.0)
    assert np.isfinite(References(name="x", source="s", energies={}).temperature)
