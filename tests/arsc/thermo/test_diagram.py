"""Free-energy diagrams (arsc.thermo.diagram): levels, limiting step, PNG written atomically."""

from __future__ import annotations

import pytest

from arsc.thermo import evaluate_site, load_network
from arsc.thermo.che import SiteFreeEnergies
from arsc.thermo.diagram import (
    U_EQUILIBRIUM,
    U_LIMITING,
    U_ZERO,
    activity_diagram,
    diagrams,
    site_diagrams,
    write_diagrams,
)

NET = load_network()
#: dG (eV): CO2 -> *COOH +0.40 is the largest uphill electrochemical step -> U_L = -0.40 V.
CRR = {"COOH": 0.40, "CO": 0.10, "OCHO": 0.90, "H": 0.50, "CHO": 1.00, "COH": 1.20}


def test_crr_diagram_follows_the_path_taken_and_marks_the_limiting_step():
    (d,) = site_diagrams("s", CRR, "crr")
    assert d.labels == ["CO₂", "*COOH", "*CO", "CO + H₂O"]
    # CO2 -> *COOH +0.40; *COOH -> *CO + H2O: dG_CO + G(CO offset) - dG_COOH; CO desorption
    assert d.step_dg[0] == pytest.approx(0.40)
    assert d.limiting == 0
    act = evaluate_site(NET, "crr", SiteFreeEnergies("s", CRR, {}, {}, {}))
    assert act.steps[d.limiting].name == act.limiting_step == "CO2 -> *COOH"
    u_l = act.limiting_potential
    assert u_l == pytest.approx(-0.40)
    # at U_L every electrochemical step is downhill or flat
    levels = d.levels[U_LIMITING]
    for i, step in enumerate(act.steps):
        if step.electrons:
            assert levels[i + 1] - levels[i] <= 1e-9
    assert set(d.levels) == {U_ZERO, U_EQUILIBRIUM, U_LIMITING}
    assert "CRR → CO" in d.title and "η = 0.30 V" in d.title


def test_bifunctional_gives_one_diagram_per_part_and_unknown_dg_no_limiting_step():
    dg = {"OOH": 4.2, "O": 2.4, "OH": 0.9}
    found = diagrams({"a": dg, "b": {"OOH": 4.2, "OH": 0.9}}, "bifunctional")
    assert [(d.site, d.reaction) for d in found] == [("a", "orr"), ("a", "oer"), ("b", "orr"),
                                                     ("b", "oer")]  # fmt: skip
    missing = found[2]
    assert missing.limiting is None and "η unknown" in missing.title
    assert U_LIMITING not in missing.levels


def test_uncorrected_intermediates_are_named_in_the_title():
    act = evaluate_site(NET, "crr", SiteFreeEnergies("s", CRR, {}, {}, {}))
    d = activity_diagram(act.model_copy(update={"uncorrected": ["COOH"]}))
    assert d is not None and "no ZPE-TS correction: *COOH" in d.title


def test_png_is_written_atomically(tmp_path):
    out = tmp_path / "crr.png"
    found = site_diagrams("s", CRR, "crr")
    assert write_diagrams(found, out, title="t") == out
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crr.png"]  # no temporary left
