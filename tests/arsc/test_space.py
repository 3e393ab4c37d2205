import itertools
from math import comb

import pytest
from pymatgen.analysis.structure_matcher import StructureMatcher

from arsc.adsorbates import adsorbates
from arsc.elements import AUTHORS_METALS
from arsc.errors import ArscInputError
from arsc.io import to_structure
from arsc.space import (
    Site,
    binding_modes,
    count_space,
    enumerate_sites,
    get_motif,
    make_site,
    motifs,
)
from arsc.structures import build


def _ordered_sites(metals, motif, support):
    """Every ordered pair, canonicalised: an independent route to the candidate set."""
    return {make_site(a, b, motif, support) for a, b in itertools.product(metals, repeat=2)}


@pytest.mark.parametrize("name", sorted(motifs()))
def test_site_counts_per_motif(name):
    mot = get_motif(name)
    sites = enumerate_sites(motif_names=[name])
    n = len(AUTHORS_METALS)
    expected = comb(n, 2) + n if mot.symmetric else n * n
    assert len(sites) == expected == len(set(sites))
    assert set(sites) == _ordered_sites(AUTHORS_METALS, name, mot.supports[0])
    if mot.symmetric:
        assert expected == 210


def test_symmetry_is_derived_from_pocket_and_substitutions():
    assert get_motif("qv-n6").symmetric and get_motif("qv-n4c2").symmetric
    assert not get_motif("qv-n4c2-m1").symmetric
    assert not get_motif("dv2-n4c4-m1").symmetric


def test_m1m2_dedup_on_symmetric_motif_and_both_orders_on_asymmetric():
    assert make_site("Co", "Fe", "qv-n6") == make_site("Fe", "Co", "qv-n6")
    assert make_site("Co", "Fe", "qv-n4c2-m1") != make_site("Fe", "Co", "qv-n4c2-m1")


def _same(a, b):
    return StructureMatcher(primitive_cell=False, scale=False, attempt_supercell=False).fit(
        to_structure(a), to_structure(b)
    )


def test_dedup_matches_the_physics():
    """The pairs and modes counted once are the ones whose structures are equivalent."""
    fe_co = build(Site("Fe", "Co", "qv-n6", "graphene"), "OH", "top1")
    co_fe = build(Site("Co", "Fe", "qv-n6", "graphene"), "OH", "top2")
    assert _same(fe_co, co_fe)  # symmetric motif: Co-Fe top2 is Fe-Co top1
    asym_a = build(Site("Fe", "Co", "qv-n4c2-m1", "graphene"))
    asym_b = build(Site("Co", "Fe", "qv-n4c2-m1", "graphene"))
    assert not _same(asym_a, asym_b)
    fe_fe = Site("Fe", "Fe", "qv-n6", "graphene")
    assert _same(
        build(fe_fe, "OH", "top1"), build(Site("Fe", "Fe", "qv-n6", "graphene"), "OH", "top1")
    )
    assert "top2" not in binding_modes(fe_fe, "OH")
    # top2 of a homonuclear symmetric site would be a duplicate of top1:
    from arsc.structures import build_adsorbed

    with pytest.raises(ArscInputError, match="available: top1, bridge"):
        build_adsorbed(fe_fe, "OH", "top2")


def test_structure_count_is_bare_plus_every_mode():
    sites = enumerate_sites(["Fe", "Co", "Ni"], ["qv-n6", "dv2-n8", "qv-n4c2-m1"])
    counts = count_space(sites)
    brute = 0
    for site in sites:
        brute += 1
        for name in adsorbates():
            brute += len(binding_modes(site, name))
    assert counts.structures == brute
    gas = {m for a in adsorbates().values() for m in a.gas_references}
    assert counts.dft_calculations == brute + len(gas)
    assert int(counts.per_motif["sites"].sum()) == len(sites)


def test_binding_modes():
    fe_co = make_site("Fe", "Co", "qv-n6")
    assert binding_modes(fe_co, "O2") == ("top1", "top2", "bridge", "side-on")
    assert binding_modes(fe_co, "OH") == ("top1", "top2", "bridge")
    far = make_site("Fe", "Co", "dv2-n8")
    assert binding_modes(far, "N2") == ("top1", "top2")


def test_site_id_roundtrip_and_errors():
    site = make_site("Co", "Fe", "qv-n6")
    assert site.id == "Fe-Co_qv-n6_graphene"
    assert Site.from_id("Co-Fe_qv-n6_graphene") == site
    assert Site.from_id("Co-Fe_qv-n4c2-m1_graphene").metals == ("Co", "Fe")
    with pytest.raises(ArscInputError, match="malformed site id 'FeCo'"):
        Site.from_id("FeCo")
    with pytest.raises(ArscInputError, match="unknown motif 'qv-n9'; allowed: qv-n6"):
        Site.from_id("Fe-Co_qv-n9_graphene")
    with pytest.raises(ArscInputError, match="motif 'c2n-n6' does not fit support 'graphene'"):
        Site.from_id("Fe-Co_c2n-n6_graphene")
    with pytest.raises(ArscInputError, match="unknown support 'hbn'"):
        Site.from_id("Fe-Co_qv-n6_hbn")
    with pytest.raises(ArscInputError, match="unknown intermediate 'XYZ'"):
        count_space([site], ["XYZ"])


def test_a_named_motif_on_a_support_it_does_not_fit_is_refused():
    with pytest.raises(ArscInputError, match=r"motif 'c2n-n6' does not fit support graphene; "
                       r"it fits: c2n"):  # fmt: skip
        enumerate_sites(["Fe"], ["c2n-n6"], ["graphene"])
    with pytest.raises(ArscInputError, match=r"does not fit support c2n; it fits: graphene"):
        enumerate_sites(["Fe"], ["qv-n6", "c2n-n6"], ["c2n"])
    # an unnamed motif that does not fit a named support is simply not enumerated
    assert {s.support for s in enumerate_sites(["Fe"], None, ["c2n"])} == {"c2n"}


def test_an_empty_metal_list_is_an_error_not_all_metals():
    with pytest.raises(ArscInputError, match="no metals given"):
        enumerate_sites([], ["qv-n6"])
