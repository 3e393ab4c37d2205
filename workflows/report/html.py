"""The self-contained report page: one HTML file, figures embedded as base64 PNG data URIs.

No external CSS, JavaScript or fonts: the page opens offline and renders the
same in any browser (checked in headless Chromium by
``scripts/screenshot_report.sh``). Every value from the campaign is escaped.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import pandas as pd

from arsc import __version__
from arsc.outputs import write_text_atomic
from workflows.formatting import significant
from workflows.report.data import CONFIRM_KAPPA, Accounting, ReportData, confirmed_mask
from workflows.report.figures import FIGURES

#: Rows of the top-candidates table.
TOP_ROWS = 15

STYLE = """
body { font-family: sans-serif; margin: 24px auto; max-width: 1200px; color: #222;
       line-height: 1.4; padding: 0 16px; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
.meta { color: #666; font-size: 0.9em; }
.summary { background: #f2f7f7; border-left: 4px solid #21918c; padding: 8px 14px; }
figure { margin: 0.6em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #444; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f0f0f0; }
td.text, th.text { text-align: left; }
"""


def _num(value: float, digits: int = 2) -> str:
    return f"{value:,.{digits}f}" if math.isfinite(value) else "–"


def _pm(mu: float, sigma: float, unit: str) -> str:
    if not math.isfinite(mu):
        return "–"
    return f"{mu:.2f} ± {sigma:.2f} {unit}" if math.isfinite(sigma) else f"{mu:.2f} {unit}"


def top_candidates(data: ReportData, rows: int = TOP_ROWS) -> pd.DataFrame:
    """Return the best candidates in the ranking's one order (:meth:`ReportData.ranking`).

    Columns: rank, site, motif, ranked by (``DFT value`` or ``ARSC mean``:
    the value the site is ranked by), predicted now (latest mu ± sigma),
    predicted before DFT, DFT, |pred - DFT|, round, status (predicted,
    pruned, confirmed, worse than predicted; see
    :func:`workflows.report.data.confirmed_mask`).
    """
    pred = data.predictions.set_index("site")
    last = data.dft.drop_duplicates("site", keep="last")
    dft = last.set_index("site").assign(confirmed=confirmed_mask(last, data.objective))
    unit = data.objective.unit
    out = []
    for rank, site in enumerate(data.ranking()["site"].head(rows), start=1):
        p = pred.loc[site]
        d = dft.loc[site] if site in dft.index else None
        row = {
            "rank": str(rank),
            "site": site,
            "motif": p["motif"],
            "ranked by": "ARSC mean",
            "predicted now": _pm(float(p["mu"]), float(p["sigma"]), unit),
            "predicted before DFT": "–",
            "DFT": "–",
            "|pred - DFT|": "–",
            "round": "–",
            "status": "pruned" if p["pruned"] else "predicted",
        }
        if d is not None:
            row.update(
                {
                    "ranked by": "DFT value",
                    "predicted before DFT": _pm(float(d["pred_mu"]), float(d["pred_sigma"]), unit),
                    "DFT": f"{float(d['objective']):.2f} {unit}",
                    "|pred - DFT|": _num(abs(float(d["pred_mu"]) - float(d["objective"]))),
                    "round": str(int(d["round"])),
                    "status": "confirmed" if d["confirmed"] else "worse than predicted",
                }
            )
        out.append(row)
    return pd.DataFrame(out)


def accounting_rows(acc: Accounting) -> list[tuple[str, str, str]]:
    """Return the (what, this campaign, exhaustive screen) rows of the accounting table."""
    per = acc.core_hours_per_calculation
    rows = [
        ("DFT calculations", f"{acc.calculations:,}", f"{acc.exhaustive_calculations:,}"),
        ("core-hours (h)", significant(acc.core_hours), significant(acc.exhaustive_core_hours)),
        ("core-hours per calculation (h, measured)", significant(per), significant(per)),
        ("wall time of the DFT steps (h)", _num(acc.wall_time_s / 3600.0, 2), "–"),
    ]
    if acc.exhaustive_all is not None:
        rows.append(
            (
                "DFT calculations, every intermediate in every binding mode "
                "(arsc.space.count_space)",
                "–",
                f"{acc.exhaustive_all:,} ({significant(acc.exhaustive_all * per)} core-hours)",
            )
        )
    return rows


#: What the page says of a saving when the campaign did not confirm its optimum.
NO_CLAIM = "no saving claimed: the optimum is not confirmed"


def accounting_line(acc: Accounting) -> str:
    """One sentence: spent, exhaustive, what is claimed, by which protocol.

    The ratio and the fraction saved are claimed only for a confirmed
    optimum (``acc.confirmed``); otherwise ``acc.claim`` (the stop reason
    and what is unresolved) or :data:`NO_CLAIM` stands in their place.
    """
    if not acc.calculations:
        return (
            f"No DFT calculations run yet; an exhaustive screen needs "
            f"{acc.exhaustive_calculations:,}."
        )
    spent = (
        f"{acc.calculations:,} DFT calculations ({significant(acc.core_hours)} core-hours) "
        f"against {acc.exhaustive_calculations:,} "
        f"({significant(acc.exhaustive_core_hours)} core-hours) for an exhaustive screen"
    )
    if acc.claim:
        claim = acc.claim
    elif acc.confirmed:
        claim = f"{_num(acc.ratio, 0)}x fewer, {_num(100 * acc.saved_fraction, 2)} % saved"
    else:
        claim = NO_CLAIM
    protocol = f"; values by {acc.protocol}" if acc.protocol else ""
    return f"{spent}: {claim}{protocol}."


def _table(frame: pd.DataFrame, text_columns: tuple[str, ...]) -> str:
    def cell(tag: str, col: str, value: object) -> str:
        cls = ' class="text"' if col in text_columns else ""
        return f"<{tag}{cls}>{escape(str(value))}</{tag}>"

    head = "".join(cell("th", c, c) for c in frame.columns)
    body = "".join(
        "<tr>"
        + "".join(cell("td", c, v) for c, v in zip(frame.columns, rec, strict=True))
        + "</tr>"
        for rec in frame.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def data_uri(png: Path) -> str:
    """``data:image/png;base64,...`` of a PNG file."""
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")


def _figure(name: str, png: Path, data: ReportData) -> str:
    spec = FIGURES[name]
    caption = spec.caption.format(objective=data.objective.axis)
    return (
        f'<h2 id="{name}">{escape(spec.title)}</h2><figure>'
        f'<img src="{data_uri(png)}" alt="{escape(spec.title)}">'
        f"<figcaption>{escape(caption)} File: {escape(png.name)}.</figcaption></figure>"
    )


def _by(data: ReportData) -> str:
    protocol = data.accounting.protocol
    return f", {escape(protocol)}" if protocol else ""


def _summary(data: ReportData) -> str:
    best = data.best_computed()
    lines = []
    if len(best):
        top = best.iloc[0]
        lines.append(
            f"Best computed candidate: <b>{escape(str(top['site']))}</b>, "
            f"{escape(data.objective.label)} = {float(top['objective']):.2f} "
            f"{escape(data.objective.unit)} by DFT{_by(data)} (predicted before DFT "
            f"{_pm(float(top['pred_mu']), float(top['pred_sigma']), data.objective.unit)})."
        )
    lines.append(escape(accounting_line(data.accounting)))
    if data.accounting.protocol_note:
        lines.append("Protocol: " + escape(data.accounting.protocol_note) + ".")
    return '<div class="summary">' + "<br>".join(lines) + "</div>"


def render_page(data: ReportData, figures: Mapping[str, Path]) -> str:
    """Return the whole page as one HTML string (figures inlined from their PNG files)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sense = {"min": "lower is better", "max": "higher is better"}.get(
        data.objective.sense, f"closest to {data.objective.target} {data.objective.unit} is best"
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>ARSC-DAC report: {escape(data.title)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>ARSC-DAC campaign report: {escape(data.title)}</h1>",
        f'<p class="meta">objective: {escape(data.objective.axis)}, {escape(sense)}; '
        f"generated {stamp} by arsc {escape(__version__)}</p>",
        _summary(data),
    ]
    parts += [f"<p>{escape(note)}</p>" for note in data.notes]
    parts.append('<h2 id="top">Top candidates</h2>')
    by = f" ({escape(data.accounting.protocol)})" if data.accounting.protocol else ""
    parts.append(
        f"<p>One order for all candidates, {escape(sense)}: a DFT-computed site by its DFT "
        f"value{by}, every other site by the latest ARSC predicted mean (column <i>ranked "
        "by</i>). A predicted rank is a prediction, not a result: uncertainties are ±1σ of "
        "the ARSC prediction. <i>confirmed</i>: the DFT value is no worse than the prediction "
        f"made before the batch, mu + {CONFIRM_KAPPA:g}σ, allowed for.</p>"
    )
    parts.append(_table(top_candidates(data), ("site", "motif", "status")))
    for name in FIGURES:
        if name in figures:
            parts.append(_figure(name, figures[name], data))
        if name == "accounting":
            rows = pd.DataFrame(
                accounting_rows(data.accounting),
                columns=["", "this campaign", "exhaustive screen"],
            )
            parts.append(_table(rows, ("",)))
            parts.append(f"<p>{escape(accounting_line(data.accounting))}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_page(data: ReportData, figures: Mapping[str, Path], path: Path) -> Path:
    """Write the page to ``path`` (UTF-8, atomically) and return it."""
    return write_text_atomic(path, render_page(data, figures))
