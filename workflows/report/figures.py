"""The registry of the report's figures: name -> title, caption and builder, in page order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workflows.report import plots
from workflows.report.data import ReportData
from workflows.report.diagrams import diagrams

#: Most free-energy diagram sites drawn (the best by DFT); the rest are in the table.
MAX_DIAGRAM_SITES = 8


@dataclass(frozen=True)
class FigureSpec:
    """One figure of the page.

    Attributes
    ----------
    title
        Section heading.
    caption
        What the figure shows; ``{...}`` fields are filled from the data.
    build
        Writes the PNG for the data; returns None when there is nothing to draw.
    """

    title: str
    caption: str
    build: Callable[[ReportData, Path], Path | None]


def _funnel(data: ReportData, path: Path) -> Path:
    return plots.funnel_plot(data.funnel, path)


def _heatmap(data: ReportData, path: Path) -> Path | None:
    if data.predictions.empty:
        return None
    return plots.heatmap_plot(
        data.predictions, data.metals, data.objective, path, computed=set(data.dft["site"])
    )


def _volcano(data: ReportData, path: Path) -> Path | None:
    if data.predictions.empty:
        return None
    return plots.volcano_plot(
        data.predictions,
        data.dft,
        data.objective,
        path,
        descriptor=data.descriptor,
        phi_opt=data.phi_opt,
    )


def _parity(data: ReportData, path: Path) -> Path | None:
    return None if data.dft.empty else plots.parity_plot(data.dft, data.objective, path)


def _free_energy(data: ReportData, path: Path) -> Path | None:
    if data.objective.reaction is None or data.dft_dg.empty:
        return None
    best = data.best_computed()["site"].tolist()[:MAX_DIAGRAM_SITES]
    frame = data.dft_dg[data.dft_dg["site"].isin(best)]
    dg = {
        site: dict(zip(rows["intermediate"], rows["dg"], strict=True))
        for site, rows in frame.groupby("site", sort=False)
    }
    ordered = {s: dg[s] for s in best if s in dg}
    found = diagrams(ordered, data.objective.reaction)
    return plots.free_energy_plot(found, path) if found else None


def _accounting(data: ReportData, path: Path) -> Path:
    return plots.accounting_plot(data.accounting, path)


#: The page's figures, in order; the key is the PNG's file stem.
FIGURES: dict[str, FigureSpec] = {
    "funnel": FigureSpec(
        "Candidate funnel",
        "Sites enumerated, kept after ARSC pruning (could still beat the best within their "
        "uncertainty), computed by DFT, and confirmed by DFT (DFT value no worse than the "
        "prediction made before the batch, mu + 2σ, allowed for). Log scale.",
        _funnel,
    ),
    "heatmap": FigureSpec(
        "Predicted objective, metal x metal, per motif",
        "Latest ARSC prediction of {objective} for every enumerated site. Rows M1 (the binding "
        "metal), columns M2; symmetric motifs are mirrored (M1M2 = M2M1). Dots: sites computed "
        "by DFT. Colour range: 2nd to 98th percentile.",
        _heatmap,
    ),
    "volcano": FigureSpec(
        "Volcano: objective vs the ARSC descriptor",
        "Grey: ARSC prediction for every enumerated site, with the binned median and its "
        "median uncertainty; coloured: DFT results by round.",
        _volcano,
    ),
    "parity": FigureSpec(
        "Parity: ARSC prediction vs DFT, per round",
        "The prediction made before each batch (error bars: ±1σ) against the DFT that followed.",
        _parity,
    ),
    "free_energy": FigureSpec(
        "Free-energy diagrams of the computed sites",
        "DFT adsorption free energies along the reaction path (computational hydrogen "
        "electrode) at U = 0, at the equilibrium potential and at the limiting potential U_L; "
        f"the {MAX_DIAGRAM_SITES} best computed sites.",
        _free_energy,
    ),
    "accounting": FigureSpec(
        "Accounting",
        "DFT calculations and core-hours of this campaign against an exhaustive screen of the "
        "enumerated space at the measured cost per calculation. Log scale.",
        _accounting,
    ),
}


def build_figures(data: ReportData, folder: Path) -> dict[str, Path]:
    """Write every figure that has data as ``folder/<name>.png``; name -> path."""
    out = {}
    for name, spec in FIGURES.items():
        path = spec.build(data, folder / f"{name}.png")
        if path is not None:
            out[name] = path
    return out
