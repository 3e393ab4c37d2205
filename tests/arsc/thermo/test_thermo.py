"""CHE free energies and activity (arsc.thermo): analytic cases, data checks, properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arsc.adsorbates import adsorbates
from arsc.errors import ArscInputError
from arsc.thermo import (
    compute_activity,
    load_network,
    load_references,
    read_energies,
    read_network,
    reference_names,
)
from arsc.thermo.network import network_path, parse_state
from arsc.thermo.references import References
from tests.paths import DATA as TEST_DATA

DATA = TEST_DATA / "thermo"
SYNTHETIC = DATA / "energies_synthetic.csv"
REFS = load_references("vasp-pbe")


def activity(reaction, table=None, **kw):
    table = read_energies(SYNTHETIC) if table is None else table
    report = compute_activity(table, reaction, REFS, **kw)
    return {r.site: r for r in report.results}, report


def energies_for(site, dg, refs=REFS, bare=-300.0, modes=None):
    """Rows whose energies give the free energies `dg` (eV) with `refs` (inverse of the CHE)."""
    net = load_network()
    rows = [{"site": site, "adsorbate": "bare", "e0": bare, "mode": ""}]
    for name, value in dg.items():
        shift = sum(n * refs.energies[m] for m, n in net.intermediates[name].items())
        e = bare + value - refs.correction(name) + shift
        rows.append({"site": site, "adsorbate": name, "e0": e, "mode": (modes or {}).get(name, "")})
    return rows


# ---------------------------------------------------------------- analytic cases
def test_ideal_catalyst_has_zero_orr_oer_her_and_bifunctional_overpotential():
    for reaction in ("orr", "oer", "her", "bifunctional"):
        res, _ = activity(reaction)
        ideal = res["ideal"]
        assert ideal.overpotential == pytest.approx(0.0, abs=1e-9), reaction
    res, _ = activity("orr")
    assert res["ideal"].dg == pytest.approx({"OOH": 3.69, "O": 2.46, "OH": 1.23})
    assert res["ideal"].limiting_potential == pytest.approx(1.23)
    assert [s.dg for s in res["ideal"].steps] == pytest.approx([-1.23] * 4)


def test_handcalc_site_orr_oer_her_match_hand_numbers():
    res, _ = activity("orr")
    h = res["handcalc"]
    assert h.dg == pytest.approx({"OOH": 3.90, "O": 2.10, "OH": 0.80})
    assert [s.dg for s in h.steps] == pytest.approx([-1.02, -1.80, -1.30, -0.80])
    assert h.equilibrium_potential == pytest.approx(1.23)
    assert h.limiting_potential == pytest.approx(0.80)
    assert h.overpotential == pytest.approx(0.43)
    assert h.limiting_step == "*OH + H2O -> 2 H2O"
    res, _ = activity("oer")
    assert res["handcalc"].limiting_potential == pytest.approx(1.80)
    assert res["handcalc"].overpotential == pytest.approx(0.57)
    assert res["handcalc"].limiting_step == "*O + H2O -> *OOH"
    res, _ = activity("her")
    assert res["handcalc"].dg["H"] == pytest.approx(-0.20)
    assert res["handcalc"].overpotential == pytest.approx(0.20)
    res, _ = activity("bifunctional")
    assert res["handcalc"].overpotential == pytest.approx(1.00)
    assert res["handcalc"].limiting_potential == pytest.approx(1.00)  # U_L(OER) - U_L(ORR)
    assert res["handcalc"].parts["orr"]["overpotential"] == pytest.approx(0.43)


def test_lowest_mode_is_used_and_recorded():
    res, _ = activity("orr")
    assert res["handcalc"].modes["O"] == "bridge"
    assert res["handcalc"].dg["O"] == pytest.approx(2.10)


def test_energy_f_uses_the_f_column():
    res, report = activity("orr", energy="f")
    assert report.energy == "f"
    assert res["handcalc"].dg["OH"] == pytest.approx(0.70)
    assert res["handcalc"].overpotential == pytest.approx(0.53)


def test_missing_intermediate_gives_nan_with_reason_never_zero():
    res, report = activity("orr")
    site = res["no_ooh"]
    assert math.isnan(site.overpotential) and math.isnan(site.limiting_potential)
    assert math.isnan(site.dg["OOH"])
    assert site.limiting_step == ""
    assert "no OOH calculation for site no_ooh" in site.reason
    assert report.summary()["nan_causes"] == {
        "OOH: no calculation": 1,
        "OH: excluded as inconsistent": 1,
    }
    table = report.table().set_index("site")
    assert math.isnan(table.loc["no_ooh", "overpotential"])
    assert table.loc["no_ooh", "dG_OH"] == pytest.approx(0.80)


def test_missing_bare_site_makes_every_dg_nan():
    rows = [r for r in energies_for("s", {"OH": 0.8}) if r["adsorbate"] != "bare"]
    res, _ = activity("her", pd.DataFrame(rows))
    assert math.isnan(res["s"].overpotential)
    assert "no bare-site calculation for site s" in res["s"].reason


def test_inconsistent_row_excluded_by_default_and_flagged_when_included():
    res, _ = activity("orr")
    f = res["flagged"]
    assert math.isnan(f.overpotential) and not f.consistent
    assert "OH for site flagged: excluded as inconsistent (LDAU differs)" in f.reason
    res, report = activity("orr", include_inconsistent=True)
    f = res["flagged"]
    assert f.overpotential == pytest.approx(0.43)
    assert not f.consistent
    assert "used although inconsistent (LDAU differs)" in f.reason
    assert report.summary()["inconsistent_sites"] == 2  # flagged, and twomodes (top2)


def test_consistent_row_wins_over_lower_inconsistent_mode():
    res, _ = activity("orr")
    t = res["twomodes"]
    assert t.modes["OH"] == "top1"
    assert t.dg["OH"] == pytest.approx(0.80)
    assert t.consistent and t.reason == ""
    res, _ = activity("orr", include_inconsistent=True)
    assert res["twomodes"].modes["OH"] == "top2"
    assert res["twomodes"].dg["OH"] == pytest.approx(0.30)
    assert not res["twomodes"].consistent


def test_output_table_has_the_contract_columns():
    _, report = activity("orr")
    table = report.table()
    for col in ("site", "overpotential", "limiting_step", "U_L", "consistent", "reason"):
        assert col in table.columns
    assert {"dG_OH", "dG_O", "dG_OOH"} <= set(table.columns)
    assert list(table["site"]) == sorted(table["site"])


# ---------------------------------------------------------------- CRR and NRR
CRR_BASE = {"COOH": 0.3, "OCHO": 0.5, "H": 0.6, "CO": 0.0, "CHO": 0.5, "COH": 0.9}


@pytest.mark.parametrize(
    ("changes", "product", "u_l", "u_eq", "limiting"),
    [
        ({}, "CO", -0.3, -0.10, "CO2 -> *COOH"),
        ({"OCHO": 0.1}, "HCOOH", -0.14, -0.12, "*OCHO -> HCOOH"),
        ({"H": -0.1}, "H2", -0.1, 0.0, "*H + CO2 -> H2 + CO2"),
        ({"CO": -0.8, "CHO": -0.5, "COH": 0.0}, "CH3OH", -0.3, 0.03, "CO2 -> *COOH"),
        ({"CO": -0.8, "CHO": 0.0, "COH": -0.5}, "CH4", -0.3, 0.17, "CO2 -> *COOH"),
    ],
)
def test_crr_product_and_limiting_potential_by_hand(changes, product, u_l, u_eq, limiting):
    res, _ = activity("crr", pd.DataFrame(energies_for("s", {**CRR_BASE, **changes})))
    s = res["s"]
    assert s.product == product
    assert s.limiting_potential == pytest.approx(u_l)
    assert s.equilibrium_potential == pytest.approx(u_eq)
    assert s.overpotential == pytest.approx(u_eq - u_l)
    assert s.limiting_step == limiting
    assert s.complete == (product not in ("CH3OH", "CH4"))


def test_crr_undecided_branch_is_nan_with_reason():
    dg = {k: v for k, v in CRR_BASE.items() if k != "OCHO"}
    res, _ = activity("crr", pd.DataFrame(energies_for("s", dg)))
    assert res["s"].product == "" and math.isnan(res["s"].overpotential)
    assert "no OCHO calculation for site s" in res["s"].reason


NRR = {
    "N2": -0.3, "N2H": 0.4, "NNH2": 0.2, "NHNH": 0.9, "N": -0.5, "NH": -1.0,
    "NH2": -1.5, "NH3": -0.8, "H": 0.9,
}  # fmt: skip


def test_nrr_distal_path_by_hand_and_selectivity_against_her():
    res, _ = activity("nrr", pd.DataFrame(energies_for("s", NRR)))
    s = res["s"]
    assert s.mechanism == "distal" and s.product == "NH3" and s.complete
    steps = {st.name: (st.dg, st.electrons) for st in s.steps}
    assert steps["N2 -> *N2"] == pytest.approx((-0.3, 0.0))
    assert steps["*N2 -> *N2H"] == pytest.approx((0.7, 1.0))
    assert steps["*NH2 + NH3 -> *NH3 + NH3"] == pytest.approx((0.53, 1.0))
    assert steps["*NH3 + NH3 -> 2 NH3"] == pytest.approx((0.8, 0.0))  # desorption: chemical
    assert s.equilibrium_potential == pytest.approx(0.34 / 6)
    assert s.limiting_potential == pytest.approx(-0.7)
    assert s.overpotential == pytest.approx(0.34 / 6 + 0.7)
    assert s.limiting_step == "*N2 -> *N2H"
    assert s.selectivity == {"nrr_vs_her": "NRR"}
    assert s.selectivity_dg["nrr_vs_her"] == pytest.approx({"NRR": 0.7, "HER": 0.9})
    res, _ = activity("nrr", pd.DataFrame(energies_for("s", {**NRR, "H": 0.2})))
    assert res["s"].selectivity == {"nrr_vs_her": "HER"}


def test_nrr_alternating_becomes_enzymatic_when_nhnh_binds_side_on():
    dg = {**NRR, "NHNH": 0.1}
    res, _ = activity("nrr", pd.DataFrame(energies_for("s", dg)))
    assert res["s"].mechanism == "alternating" and not res["s"].complete
    rows = energies_for("s", dg, modes={"NHNH": "side-on"})
    res, _ = activity("nrr", pd.DataFrame(rows))
    assert res["s"].mechanism == "enzymatic"
    assert res["s"].limiting_potential == pytest.approx(-0.7)


# ---------------------------------------------------------------- data files
def test_orr_oer_equilibrium_potential_is_1_23_from_data():
    net = load_network()
    assert net.molecules["O2"].free_energy == pytest.approx(4 * 1.23)
    assert net.equilibrium_potential(net.state("O2"), net.state("2 H2O")) == pytest.approx(1.23)
    assert net.reactions["oer"].states == net.reactions["orr"].states[::-1]


def test_every_intermediate_has_a_composition_that_balances_its_atoms():
    net = load_network()
    assert set(net.intermediates) == set(adsorbates())
    assert net.intermediates["OOH"] == {"H2O": 2, "H2": -1.5}
    assert net.intermediates["O"] == {"H2O": 1, "H2": -1}
    assert net.intermediates["OH"] == {"H2O": 1, "H2": -0.5}


def test_state_parser_reads_counts_bare_and_adsorbates():
    s = parse_state("*OH + 2 H2O")
    assert s.adsorbates == ("OH",) and s.molecules == (("H2O", 2),)
    assert parse_state("*").adsorbates == () and parse_state("*").molecules == ()


def test_packaged_references_have_a_source_for_every_number():
    assert "vasp-pbe" in reference_names() and "gpaw-template" in reference_names()
    for key in [*REFS.energies, *REFS.corrections]:
        assert REFS.sources.get(key), key
    assert REFS.energies["H2"] == -6.77 and REFS.energies["H2O"] == -14.22


def test_gpaw_template_is_refused_with_a_message():
    with pytest.raises(ArscInputError, match="is a template"):
        load_references("gpaw-template")


def write_refs(tmp_path, text):
    p = tmp_path / "refs.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("name: x\nsource: s\nenergies: {CO: -14.8}\n", r"energies: unknown molecule .*'CO'"),
        ("name: x\nsource: s\nenergies: {H2O: abc}\n", r"energies\.H2O: .*number"),
        ("name: x\nsource: s\nenergies: {H2O: null}\n", r"energies\.H2O: .*number"),
        ("name: x\nsource: s\n", r"energies: missing \(required\)"),
        ("name: x\nsource: s\nenergies: {}\ncorrections: {XY: 1}\n", r"corrections: .*'XY'"),
        ("name: x\nsource: s\nenergies: {H2: -6.77}\ncolour: red\n", r"colour"),
        ("name: x\nsource: [unclosed\n", r"line \d+"),
        ("- just a list\n", r"expected a mapping"),
    ],
)  # fmt: skip
def test_bad_references_file_raises_one_line_naming_file_and_key(tmp_path, text, pattern):
    path = write_refs(tmp_path, text)
    with pytest.raises(ArscInputError, match=pattern) as err:
        load_references(path)
    assert str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_references_name_lists_the_packaged_ones():
    with pytest.raises(ArscInputError, match="allowed: gpaw-template, vasp-pbe"):
        load_references("nope")


def test_references_lacking_a_needed_molecule_name_it():
    refs = References(name="h-only", source="test", energies={"H2O": -14.22, "H2": -6.77})
    table = pd.DataFrame(energies_for("s", {"COOH": 0.3}, refs=REFS))
    with pytest.raises(ArscInputError, match=r"no energy for CO2, needed by \*COOH"):
        compute_activity(table, "crr", refs)


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"adsorbate": "OHH"}, r"row 2: unknown adsorbate 'OHH'"),
        ({"e0": "abc"}, r"row 2: e0 = 'abc' is not a number"),
        ({"consistent": "maybe"}, r"row 2: consistent = 'maybe' is not a boolean"),
    ],
)
def test_bad_energies_table_raises_one_line(change, pattern):
    table = read_energies(SYNTHETIC).astype(object)
    for col, value in change.items():
        table.loc[0, col] = value
    with pytest.raises(ArscInputError, match=pattern):
        compute_activity(table, "orr", REFS)


def test_missing_column_and_unknown_reaction_are_refused():
    table = read_energies(SYNTHETIC)
    with pytest.raises(ArscInputError, match="missing column 'e0'"):
        compute_activity(table.drop(columns=["e0"]), "orr", REFS)
    with pytest.raises(ArscInputError, match=r"unknown reaction 'xyz'; allowed: orr, oer, her"):
        compute_activity(table, "xyz", REFS)


def test_new_reaction_is_one_new_yaml_entry(tmp_path):
    data = yaml.safe_load(network_path().read_text())
    data["molecules"]["H2O2"] = {
        "composition": {"H2O": 2, "H2": -1},
        "free_energy": 3.52,
        "source": "2 e x 1.76 V (H2O2/H2O), test only",
    }
    data["reactions"]["orr2e"] = {
        "kind": "path",
        "title": "2 e- ORR to H2O2",
        "source": "test",
        "states": ["O2", "*OOH", "H2O2"],
    }
    path = tmp_path / "reactions.yaml"
    path.write_text(yaml.safe_dump(data))
    net = read_network(path)
    rows = energies_for("s", {"OOH": 4.0})
    report = compute_activity(pd.DataFrame(rows), "orr2e", REFS, network=net)
    s = report.results[0]
    assert s.equilibrium_potential == pytest.approx(0.70)
    assert s.limiting_potential == pytest.approx(0.48)  # min(-(4.0 - 4.92), -(3.52 - 4.0))
    assert s.overpotential == pytest.approx(0.22)


def test_unbalanced_reaction_in_yaml_is_refused(tmp_path):
    data = yaml.safe_load(network_path().read_text())
    data["reactions"]["orr"]["states"][2] = "*O"  # lost an H2O
    path = tmp_path / "reactions.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(
        ArscInputError, match=r"reactions\.yaml'?: reaction orr: state '\*O' is not balanced"
    ):
        read_network(path)


# ---------------------------------------------------------------- real data sanity
def test_sac_hoer_sample_orr_is_physically_plausible():
    """Four real sac-hoer sites (PROVENANCE.md): eta in 0.3-1.5 V, dG_OOH - dG_OH near 3.2 eV."""
    report = compute_activity(read_energies(DATA / "sac_hoer_sample.csv"), "orr", REFS)
    for r in report.results:
        assert 0.3 < r.overpotential < 1.5, r.site
        assert r.dg["OOH"] - r.dg["OH"] == pytest.approx(3.2, abs=0.4), r.site
    assert {r.site: round(r.overpotential, 2) for r in report.results} == {
        "0N0_Pd": 0.48, "1N1_Pt": 0.62, "2N2_Pt": 1.27, "2N2_Rh": 1.03,
    }  # fmt: skip


# ---------------------------------------------------------------- properties
ORR_OER = ("OH", "O", "OOH", "H")
finite = st.floats(-8.0, 8.0, allow_nan=False)
site_dg = st.fixed_dictionaries({k: finite for k in ORR_OER})


def table_of(sites):
    rows = []
    for i, dg in enumerate(sites):
        rows += energies_for(f"s{i}", dg, bare=-300.0 - 7.0 * i)
    return pd.DataFrame(rows)


def dg_frame(report):
    table = report.table().set_index("site")
    return table[[c for c in table.columns if c.startswith("dG_")]]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sites=st.lists(site_dg, min_size=1, max_size=4), shifts=st.data())
def test_all_dg_invariant_to_a_common_shift_of_slab_energies(sites, shifts):
    table = table_of(sites)
    offsets = {s: shifts.draw(st.floats(-1000, 1000)) for s in table["site"].unique()}
    shifted = table.assign(e0=table["e0"] + table["site"].map(offsets))
    for reaction in ("orr", "oer", "her"):
        a = compute_activity(table, reaction, REFS)
        b = compute_activity(shifted, reaction, REFS)
        np.testing.assert_allclose(dg_frame(b).to_numpy(), dg_frame(a).to_numpy(), atol=1e-8)
        np.testing.assert_allclose(
            [r.overpotential for r in b.results], [r.overpotential for r in a.results], atol=1e-8
        )


@settings(max_examples=40, deadline=None)
@given(
    sites=st.lists(site_dg, min_size=1, max_size=4),
    extra=st.lists(
        st.tuples(
            st.sampled_from(ORR_OER), finite, st.booleans(), st.sampled_from(["top2", "bridge"])
        ),
        max_size=6,
    ),
    drop=st.lists(st.integers(0, 30), max_size=3),
    seed=st.integers(0, 2**31 - 1),
    include=st.booleans(),
)
def test_permuting_input_rows_does_not_change_results(sites, extra, drop, seed, include):
    table = table_of(sites)
    more = []  # extra modes, some inconsistent, on site s0
    for ads, dg, ok, mode in extra:
        row = energies_for("s0", {ads: dg})[1]
        more.append({**row, "mode": mode, "consistent": ok, "reason": "" if ok else "LDAU differs"})
    table = pd.concat([table.assign(consistent=True, reason=""), pd.DataFrame(more)])
    table = table.drop(index=table.index[[i for i in drop if i < len(table)]]).reset_index(
        drop=True
    )
    shuffled = table.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    for reaction in ("orr", "bifunctional", "her"):
        a = compute_activity(table, reaction, REFS, include_inconsistent=include).table()
        b = compute_activity(shuffled, reaction, REFS, include_inconsistent=include).table()
        pd.testing.assert_frame_equal(a, b)


@settings(max_examples=60, deadline=None)
@given(sites=st.lists(site_dg, min_size=1, max_size=4))
def test_orr_oer_overpotentials_nonnegative_up_to_float_rounding(sites):
    table = table_of(sites)
    for reaction in ("orr", "oer"):
        for r in compute_activity(table, reaction, REFS).results:
            assert r.overpotential >= -1e-12


@settings(max_examples=40, deadline=None)
@given(sites=st.lists(site_dg, min_size=1, max_size=4))
def test_bifunctional_is_the_sum_of_orr_and_oer(sites):
    table = table_of(sites)
    orr = compute_activity(table, "orr", REFS).results
    oer = compute_activity(table, "oer", REFS).results
    bif = compute_activity(table, "bifunctional", REFS).results
    for a, b, c in zip(orr, oer, bif, strict=True):
        assert c.overpotential == pytest.approx(a.overpotential + b.overpotential, abs=1e-12)
        assert c.limiting_potential == pytest.approx(
            b.limiting_potential - a.limiting_potential, abs=1e-12
        )


def test_docstring_examples_run():
    import doctest

    from arsc.thermo import network, quantities, references, report

    for module in (network, quantities, references, report):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_read_energies_names_a_folder_or_missing_file(tmp_path):
    with pytest.raises(ArscInputError, match=r"energies table '.*' is a folder; give a file"):
        read_energies(tmp_path)
    with pytest.raises(ArscInputError, match=r"energies table '.*none.csv' does not exist"):
        read_energies(tmp_path / "none.csv")


# ---------------------------------------------------------------- quantities on arrays


def _site_activity(reaction, dg, i):
    from arsc.thermo import SiteFreeEnergies, evaluate_site

    fe = SiteFreeEnergies("s", {k: float(v[i]) for k, v in dg.items()}, {}, {}, {})
    return evaluate_site(load_network(), reaction, fe)


@pytest.mark.parametrize("reaction", ["orr", "oer", "her", "bifunctional", "crr", "nrr"])
def test_quantities_on_arrays_equal_evaluate_site_element_by_element(reaction):
    from arsc.thermo import QuantitySpec, evaluate_quantity, quantity_intermediates

    rng = np.random.default_rng(1)
    names = quantity_intermediates(QuantitySpec(reaction))
    dg = {z: rng.normal(0.5, 1.0, (3, 4)) for z in names}
    flat = {z: v.ravel() for z, v in dg.items()}
    for field in ("overpotential", "limiting_potential"):
        values = evaluate_quantity(QuantitySpec(reaction, field), dg)
        assert values.shape == (3, 4)
        for i, value in enumerate(values.ravel()):
            expected = getattr(_site_activity(reaction, flat, i), field)
            assert value == pytest.approx(expected, abs=1e-12, nan_ok=True)


def test_quantity_registry_units_labels_and_refusals():
    from arsc.thermo import QUANTITIES, QuantitySpec, evaluate_quantity, quantity_intermediates
    from arsc.thermo.quantities import quantity_label, quantity_unit

    assert set(QUANTITIES) == {"overpotential", "limiting_potential", "dg", "selectivity"}
    assert [quantity_unit(q) for q in QUANTITIES] == ["V", "V", "eV", "eV"]
    assert quantity_label(QuantitySpec("bifunctional")) == "η_ORR + η_OER"
    assert quantity_label(QuantitySpec("crr", product="CO")) == "η_CRR to CO"
    assert quantity_label(QuantitySpec("orr", "dg", intermediate="OH")) == "ΔG(*OH)"
    dg = {"OH": np.array([0.1, np.nan])}
    out = evaluate_quantity(QuantitySpec("orr", "dg", intermediate="OH"), dg)
    assert out[0] == 0.1 and math.isnan(out[1]) and out is not dg["OH"]
    with pytest.raises(ArscInputError, match="unknown quantity 'speed'"):
        evaluate_quantity(QuantitySpec("orr", "speed"), dg)
    with pytest.raises(ArscInputError, match="allowed: OOH, O, OH"):
        quantity_intermediates(QuantitySpec("orr", "dg", intermediate="H"))
    with pytest.raises(ArscInputError, match="allowed: nrr_vs_her"):
        quantity_intermediates(QuantitySpec("nrr", "selectivity", competition="x"))
