"""Campaign report: one self-contained HTML page plus its PNG figures.

Modules
-------
:mod:`workflows.report.data`
    what the report shows, as plain tables (:class:`ReportData`);
:mod:`workflows.report.plots`
    the figures (matplotlib Agg), each from plain tables;
:mod:`workflows.report.diagrams`
    free-energy step diagrams from DFT ΔG (step order from :mod:`arsc.thermo`);
:mod:`workflows.report.figures`
    the registry of figures in page order;
:mod:`workflows.report.html`
    the page;
:mod:`workflows.report.adapter`
    a campaign's persisted state -> :class:`ReportData`;
:mod:`workflows.report.synthetic`
    made-up report data for tests and benchmarks.

See ``docs/report.md``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from workflows.report.data import Accounting, Funnel, Objective, ReportData
from workflows.report.figures import FIGURES, build_figures
from workflows.report.html import write_page

#: File name of the page inside the report folder.
PAGE = "report.html"
#: Report folder inside the campaign folder, by default.
REPORT_DIR = "report"


@dataclass(frozen=True)
class Report:
    """A written report.

    Attributes
    ----------
    page
        The HTML page.
    figures
        Figure name -> PNG file beside the page.
    data
        What it shows.
    seconds
        Wall time to build it (figures and page), s.
    """

    page: Path
    figures: dict[str, Path]
    data: ReportData
    seconds: float


def write_report_data(data: ReportData, out: Path) -> Report:
    """Write the figures (``out/<name>.png``) and the page (``out/report.html``).

    Parameters
    ----------
    data
        What to show.
    out
        Report folder (created).
    """
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    figures = build_figures(data, out)
    page = write_page(data, figures, out / PAGE)
    return Report(page, figures, data, time.perf_counter() - start)


def make_report(campaign_dir: Path, out: Path | None = None) -> Report:
    """Read a campaign's state and write its report; see :func:`write_report`."""
    from workflows.report.adapter import load_report_data

    data = load_report_data(campaign_dir)
    return write_report_data(data, out if out is not None else campaign_dir / REPORT_DIR)


def write_report(campaign_dir: Path, out: Path | None = None) -> Path:
    """Write the report of a campaign from its persisted state.

    Parameters
    ----------
    campaign_dir
        The campaign folder (holds ``state.json``).
    out
        Report folder; default ``campaign_dir / "report"``.

    Returns
    -------
    Path
        The HTML page (the PNG figures lie beside it).

    Raises
    ------
    ArscInputError
        If the folder holds no readable campaign state.
    """
    return make_report(campaign_dir, out).page


__all__ = [
    "FIGURES",
    "PAGE",
    "REPORT_DIR",
    "Accounting",
    "Funnel",
    "Objective",
    "Report",
    "ReportData",
    "make_report",
    "write_report",
    "write_report_data",
]
