"""The campaign report: figures from plain tables, the state adapter, the page, the CLI, Chromium.

Every campaign here is synthetic (:mod:`workflows.report.synthetic`): real
enumerated sites, made-up numbers.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from arsc.space import count_space, enumerate_sites
from tests.paths import ROOT
from workflows.campaign.definition import ObjectiveSpec
from workflows.campaign.state import load_state, save_state
from workflows.cli.main import main
from workflows.report import FIGURES, PAGE, make_report
from workflows.report.adapter import objective_of, report_data
from workflows.report.data import Accounting, Funnel, Objective, confirmed_mask, ranking
from workflows.report.diagrams import U_EQUILIBRIUM, U_LIMITING, U_ZERO, diagrams
from workflows.report.html import render_page, top_candidates
from workflows.report.plots import (
    funnel_plot,
    heatmap_plot,
    metal_grid,
    objective_colours,
    parity_plot,
    volcano_plot,
)
from workflows.report.synthetic import synthetic_state, write_synthetic_campaign

ROOT = ROOT
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
METALS = ["Fe", "Co", "Ni", "Cu"]
MOTIFS = ["qv-n6", "qv-n4c2-m1"]  # one symmetric, one asymmetric
SMALL = {"metals": METALS, "motifs": MOTIFS, "rounds": 3, "batch": 2, "seed": 1}
OBJ = Objective("η_ORR + η_OER", "V", "min", reaction="bifunctional")


@pytest.fixture(scope="module")
def synthetic_campaign(tmp_path_factory) -> Path:
    return write_synthetic_campaign(tmp_path_factory.mktemp("synthetic") / "campaign", **SMALL)


@pytest.fixture(scope="module")
def synthetic_report(synthetic_campaign):
    return make_report(synthetic_campaign)


def _png(path: Path) -> np.ndarray:
    assert path.read_bytes().startswith(PNG_MAGIC)
    return np.asarray(Image.open(path).convert("L"), dtype=float)


# ---- the page ------------------------------------------------------------------------


def test_synthetic_report_writes_page_and_every_figure_beside_it(synthetic_report):
    assert synthetic_report.page.name == PAGE
    assert set(synthetic_report.figures) == set(FIGURES)
    for path in synthetic_report.figures.values():
        assert path.parent == synthetic_report.page.parent
        assert _png(path).std() > 5  # not a blank image


def test_page_embeds_each_png_as_data_uri_and_loads_nothing_external(synthetic_report):
    html = synthetic_report.page.read_text(encoding="utf-8")
    uris = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    embedded = {base64.b64decode(u) for u in uris}
    assert embedded == {p.read_bytes() for p in synthetic_report.figures.values()}
    assert not re.search(r"<(script|link)\b", html)
    assert "http://" not in html and "https://" not in html
    assert "url(" not in html  # no external fonts or images from CSS


def test_page_shows_top_table_accounting_line_and_synthetic_note(synthetic_report):
    html = synthetic_report.page.read_text(encoding="utf-8")
    acc = synthetic_report.data.accounting
    assert "Top candidates" in html and "predicted before DFT" in html
    assert f"{acc.calculations:,} DFT calculations" in html
    assert f"{acc.exhaustive_calculations:,}" in html
    assert "made up" in html


def test_page_escapes_campaign_text():
    state = synthetic_state(**SMALL)
    state.definition.name = "<script>alert(1)</script>"
    html = render_page(report_data(state), {})
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_report_of_campaign_without_dft_skips_parity_and_diagrams(tmp_path):
    state = synthetic_state(**SMALL)
    for rnd in state.rounds:
        rnd.results = []
    state.accounting.dft_calculations = 0
    state.accounting.core_hours = 0.0
    save_state(state, tmp_path)
    rep = make_report(tmp_path, tmp_path / "out")
    assert set(rep.figures) == {"funnel", "heatmap", "volcano", "accounting"}
    assert "No DFT calculations run yet" in rep.page.read_text(encoding="utf-8")


# ---- the adapter ---------------------------------------------------------------------


def test_adapter_funnel_counts_match_the_synthetic_state(synthetic_report, synthetic_campaign):
    state = load_state(synthetic_campaign)
    data = synthetic_report.data
    last = state.rounds[-1]
    assert data.funnel.enumerated == len(enumerate_sites(METALS, MOTIFS)) == state.space.sites
    assert data.funnel.pruned == len(last.pruned)
    assert data.funnel.computed == len(state.computed_sites()) == 6
    assert data.funnel.confirmed == int(confirmed_mask(data.dft, data.objective).sum())


def test_adapter_dft_rows_carry_the_prediction_made_before_their_batch(synthetic_campaign):
    state = load_state(synthetic_campaign)
    data = report_data(state)
    for rnd in state.rounds:
        idx = {s: i for i, s in enumerate(rnd.predictions.sites)}
        for res in rnd.results:
            row = data.dft.set_index("site").loc[res.site]
            assert row["round"] == rnd.index
            assert row["objective"] == pytest.approx(res.value)
            assert row["pred_mu"] == pytest.approx(rnd.predictions.value[idx[res.site]])


def test_adapter_predicted_now_is_the_final_model_of_a_finished_campaign(synthetic_campaign):
    state = load_state(synthetic_campaign)
    last = state.rounds[-1].predictions
    before = report_data(state).predictions
    assert before["mu"].tolist() == pytest.approx(last.value)
    shifted = [None if v is None else v + 1.0 for v in last.value]
    state.final_predictions = last.model_copy(update={"value": shifted})
    after = report_data(state).predictions
    assert after["site"].tolist() == list(last.sites)
    assert after["mu"].tolist() == pytest.approx(shifted)


def test_report_of_an_mlip_campaign_says_its_values_are_not_dft(synthetic_campaign):
    state = load_state(synthetic_campaign)
    assert not any("not DFT" in n for n in report_data(state).notes)
    state.definition.dft.executor = "local"
    state.definition.dft.engine = "mlip"
    state.definition.dft.preset = "chgnet"
    first = report_data(state).notes[0]
    assert first.startswith("Engine mlip: every value this page labels DFT") and "(chgnet)" in first


def test_adapter_accounting_uses_state_and_count_space(synthetic_campaign):
    state = load_state(synthetic_campaign)
    acc = report_data(state).accounting
    assert acc.calculations == state.accounting.dft_calculations
    assert acc.core_hours == pytest.approx(state.accounting.core_hours)
    assert acc.exhaustive_calculations == state.accounting.exhaustive_calculations
    assert acc.exhaustive_all == count_space(enumerate_sites(METALS, MOTIFS)).dft_calculations
    assert acc.ratio == pytest.approx(acc.exhaustive_calculations / acc.calculations)
    assert acc.exhaustive_core_hours == pytest.approx(
        acc.exhaustive_calculations * state.accounting.core_hours / acc.calculations
    )


@pytest.mark.parametrize(
    ("spec", "label", "unit", "sense", "target"),
    [
        (ObjectiveSpec(), "η_ORR + η_OER", "V", "min", None),
        (
            ObjectiveSpec(reaction="orr", quantity="limiting_potential", goal="max"),
            "U_L",
            "V",
            "max",
            None,
        ),
        (
            ObjectiveSpec(reaction="her", quantity="dg", intermediate="H", goal="closest:0.0"),
            "ΔG(*H)",
            "eV",
            "closest",
            0.0,
        ),
    ],
)
def test_objective_labels_units_and_sense_per_quantity(spec, label, unit, sense, target):
    obj = objective_of(spec)
    assert label in obj.label and obj.unit == unit and obj.axis.endswith(f"({unit})")
    assert obj.sense == sense and obj.target == target


# ---- tables and figures from plain DataFrames ----------------------------------------


def _frames():
    pred = pd.DataFrame(
        {
            "site": ["a", "b", "c", "d"],
            "metal1": ["Fe", "Fe", "Co", "Fe"],
            "metal2": ["Co", "Fe", "Co", "Co"],
            "motif": ["sym", "sym", "sym", "asym"],
            "support": ["graphene"] * 4,
            "symmetric": [True, True, True, False],
            "mu": [0.5, 0.9, 0.3, 0.7],
            "sigma": [0.1, 0.2, 0.1, 0.05],
            "phi": [1.0, 1.5, 0.7, 1.2],
            "pruned": [False, True, False, False],
        }
    )
    dft = pd.DataFrame(
        {
            "site": ["a", "d"],
            "round": [0, 1],
            "objective": [0.6, 1.2],
            "pred_mu": [0.5, 0.7],
            "pred_sigma": [0.1, 0.05],
            "phi": [1.0, 1.2],
        }
    )
    return pred, dft


def test_metal_grid_mirrors_symmetric_motifs_only():
    pred, _ = _frames()
    sym = metal_grid(pred[pred["motif"] == "sym"], ["Fe", "Co"], "mu")
    assert sym.tolist() == [[0.9, 0.5], [0.5, 0.3]]
    asym = metal_grid(pred[pred["motif"] == "asym"], ["Fe", "Co"], "mu")
    assert asym[0, 1] == 0.7 and np.isnan(asym[1, 0])


def test_ranking_is_one_order_by_dft_value_or_predicted_mean():
    pred, dft = _frames()  # DFT a 0.6, d 1.2; predicted (uncomputed) b 0.9, c 0.3
    ranked = ranking(pred, dft, OBJ)
    assert ranked["site"].tolist() == ["c", "a", "b", "d"]  # lower is better
    assert ranked["source"].tolist() == ["arsc", "dft", "arsc", "dft"]
    assert ranked["value"].tolist() == [0.3, 0.6, 0.9, 1.2]
    high = ranking(pred, dft, Objective("U_L", "V", "max"))  # higher is better
    assert high["site"].tolist() == ["d", "b", "a", "c"]
    tie = ranking(pred.assign(mu=[0.5, 0.9, 0.6, 0.7]), dft, OBJ)  # c predicted = a's DFT
    assert tie["site"].tolist()[:2] == ["a", "c"]  # a computed value wins the tie


def test_confirmed_when_dft_no_worse_than_prediction_plus_two_sigma():
    _, dft = _frames()
    assert confirmed_mask(dft, OBJ).tolist() == [True, False]  # 0.6 <= 0.7; 1.2 > 0.8
    high = Objective("x", "eV", "max")
    assert confirmed_mask(dft, high).tolist() == [True, True]  # better than predicted


def test_top_candidates_table_lists_predicted_and_dft_values_with_uncertainties(
    synthetic_report,
):
    table = top_candidates(synthetic_report.data)
    computed = table[table["ranked by"] == "DFT value"]
    assert len(computed) and set(table["ranked by"]) <= {"DFT value", "ARSC mean"}
    first = computed.iloc[0]
    assert first["status"] in ("confirmed", "worse than predicted")
    assert "±" in first["predicted before DFT"] and first["DFT"].endswith(" V")
    predicted = table[table["ranked by"] == "ARSC mean"]
    assert (predicted["DFT"] == "–").all() and predicted["status"].isin(
        {"predicted", "pruned"}
    ).all()
    assert (table["rank"] == [str(i) for i in range(1, len(table) + 1)]).all()


def test_objective_colours_viridis_for_min_and_diverging_centred_on_target():
    values = np.array([0.0, 0.5, 1.0, 3.0])
    cmap, _ = objective_colours(values, OBJ)
    assert cmap.name.startswith("viridis_r")
    cmap, norm = objective_colours(values, Objective("ΔG(*H)", "eV", "closest", 0.2))
    assert cmap.name.startswith("RdBu_r") and norm(0.2) == pytest.approx(0.5)


def test_each_figure_builds_alone_from_dataframes(tmp_path):
    pred, dft = _frames()
    paths = [
        funnel_plot(Funnel(100, 60, 4, 2), tmp_path / "f.png"),
        heatmap_plot(pred, ["Fe", "Co"], OBJ, tmp_path / "h.png", computed={"a"}),
        volcano_plot(pred, dft, OBJ, tmp_path / "v.png", descriptor="φ(*OH)", phi_opt=1.1),
        parity_plot(dft, OBJ, tmp_path / "p.png"),
    ]
    for path in paths:
        assert _png(path).std() > 5


def test_accounting_ratio_and_exhaustive_cost_from_measured_per_calculation_cost():
    acc = Accounting(calculations=10, core_hours=2.0, exhaustive_calculations=1000)
    assert acc.core_hours_per_calculation == pytest.approx(0.2)
    assert acc.exhaustive_core_hours == pytest.approx(200.0)
    assert acc.ratio == pytest.approx(100.0) and acc.saved_fraction == pytest.approx(0.99)


# ---- free-energy diagrams ------------------------------------------------------------


def test_diagram_levels_follow_thermo_steps_at_each_potential():
    orr, oer = diagrams({"s": {"OOH": 4.2, "O": 2.4, "OH": 0.9}}, "bifunctional")
    assert orr.reaction == "orr" and oer.reaction == "oer"
    assert orr.levels[U_ZERO] == pytest.approx([0.0, -0.72, -2.52, -4.02, -4.92])
    assert orr.levels[U_EQUILIBRIUM][-1] == pytest.approx(0.0)  # 4 e x 1.23 V balances O2
    for d in (orr, oer):  # at U_L every step is downhill or flat
        assert (np.diff(d.levels[U_LIMITING]) <= 1e-9).all()
    assert orr.overpotential == pytest.approx(0.51)


def test_diagram_with_missing_dg_says_unknown():
    (d,) = diagrams({"s": {"OH": 0.9, "O": 2.4}}, "orr")
    assert "unknown" in d.title and U_LIMITING not in d.levels


# ---- command line --------------------------------------------------------------------


def test_cli_report_json_prints_one_object(synthetic_campaign, tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["report", str(synthetic_campaign / "state.json"), "-o", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["report"] == str(out / PAGE) and Path(doc["report"]).is_file()
    assert set(doc["figures"]) == set(FIGURES)
    assert doc["funnel"]["enumerated"] == len(enumerate_sites(METALS, MOTIFS))
    assert doc["accounting"]["ratio"] > 1
    acc = doc["accounting"]
    # the synthetic campaign stopped with sites unresolved: the ratio is arithmetic, not a claim
    assert acc["saving_claimed"] is False
    assert acc["claim"].endswith("no saving claimed") and "not resolved" in acc["claim"]
    assert acc["protocol"] == "protocol full, success rate not measured"
    assert acc["protocol_note"].startswith("no protocol has a measured success rate >= 90 %")
    page = Path(doc["report"]).read_text()
    assert "Protocol: no protocol has a measured success rate &gt;= 90 % yet" in page


def test_cli_report_without_state_is_one_line_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"arsc: error: {str(tmp_path)!r} is not a campaign folder")
    assert "state.json not found" in err and "\n" not in err


def test_cli_report_of_a_file_that_is_not_a_campaign_names_it(tmp_path, capsys):
    table = tmp_path / "fit.csv"
    table.write_text("a,b\n1,2\n")
    assert main(["report", str(table)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"arsc: error: {str(table)!r} is a file, not a campaign folder")
    assert err.count("\n") == 1 and table.read_text() == "a,b\n1,2\n"


def test_cli_report_output_that_is_a_file_is_one_line_error(synthetic_campaign, tmp_path, capsys):
    taken = tmp_path / "notes.txt"
    taken.write_text("mine\n")
    assert main(["report", str(synthetic_campaign), "-o", str(taken)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("arsc: error: -o ") and "is a file; give a folder" in err
    assert err.count("\n") == 1 and taken.read_text() == "mine\n"


def test_cli_report_output_that_is_the_campaign_folder_is_refused(synthetic_campaign, capsys):
    assert main(["report", str(synthetic_campaign), "-o", str(synthetic_campaign)]) == 2
    assert "is an input of this command" in capsys.readouterr().err


def test_cli_report_replaces_its_own_files_but_not_others_without_force(
    synthetic_campaign, tmp_path, capsys
):
    out = tmp_path / "rep"
    out.mkdir()
    page = out / PAGE
    page.write_text("<html>my own page</html>")
    before = page.read_bytes()
    assert main(["report", str(synthetic_campaign), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "report.html" in err and "--force" in err and err.count("\n") == 1
    assert page.read_bytes() == before and not (out / "funnel.png").exists()  # no work done
    assert main(["report", str(synthetic_campaign), "-o", str(out), "--force"]) == 0
    assert b"ARSC-DAC" in page.read_bytes()
    capsys.readouterr()
    assert main(["report", str(synthetic_campaign), "-o", str(out)]) == 0  # its own: replaced
    (out / "funnel.png").write_text("not a png")
    assert main(["report", str(synthetic_campaign), "-o", str(out)]) == 2
    assert "funnel.png" in capsys.readouterr().err
    assert not [p.name for p in out.iterdir() if ".tmp" in p.name]  # atomic writes, no leftovers


# ---- headless Chromium ---------------------------------------------------------------


def test_report_screenshot_in_headless_chromium_is_not_blank(synthetic_report, tmp_path):
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        pytest.skip("chromium is not installed (Debian package chromium; scripts/install.sh)")
    shot = tmp_path / "shot.png"
    script = ROOT / "scripts" / "screenshot_report.sh"
    proc = subprocess.run(
        ["bash", str(script), str(synthetic_report.page), str(shot), "1280x2400"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    pixels = _png(shot)
    assert pixels.shape == (2400, 1280)
    assert pixels.std() > 10  # text, tables and figures, not a blank page
