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

Writing follows :mod:`arsc.outputs`: the report folder and every file in it
are checked before any figure is drawn (:func:`check_report_folder`: a
report page or PNG that is there is replaced, any other file only with
``force``), and each file is written atomically.

See ``docs/report.md``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from arsc.outputs import PNG, OutputKind, check_output, check_output_folder
from workflows.report.data import Accounting, Funnel, Objective, ReportData
from workflows.report.figures import FIGURES, build_figures
from workflows.report.html import write_page

#: File name of the page inside the report folder.
PAGE = "report.html"
#: Report folder inside the campaign folder, by default.
REPORT_DIR = "report"
#: Text near the top of every report page (its <title>), how a page is recognised.
PAGE_MARK = b"<title>ARSC-DAC report"


def _is_page(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return PAGE_MARK in fh.read(4096)
    except OSError:
        return False


#: The report page, as :func:`arsc.outputs.check_output` recognises it.
REPORT_PAGE = OutputKind("ARSC-DAC report page (HTML)", _is_page)


def check_report_folder(
    out: Path, inputs: Iterable[Path] = (), option: str = "-o", force: bool = False
) -> Path:
    """Check, before any work, that the report may be written into ``out``.

    Parameters
    ----------
    out
        Report folder.
    inputs
        What the report reads (the campaign folder): ``out`` may not be one.
    option
        The option that named the folder, for messages.
    force
        Replace files of the report's names that are not a report page / PNG.

    Raises
    ------
    ArscInputError
        One line: ``out`` is a file or an input, cannot be written, or holds
        a file of a report's name that the report did not write (without ``force``).
    """
    check_output_folder(out, list(inputs), option=option)
    check_output(out / PAGE, [], option=option, kind=REPORT_PAGE, force=force)
    for name in FIGURES:
        check_output(out / f"{name}.png", [], option=option, kind=PNG, force=force)
    return out


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


def write_report_data(
    data: ReportData,
    out: Path,
    *,
    inputs: Iterable[Path] = (),
    option: str = "-o",
    force: bool = False,
) -> Report:
    """Write the figures (``out/<name>.png``) and the page (``out/report.html``).

    Parameters
    ----------
    data
        What to show.
    out
        Report folder (created).
    inputs, option, force
        See :func:`check_report_folder` (called first).
    """
    start = time.perf_counter()
    check_report_folder(out, inputs, option, force)
    out.mkdir(parents=True, exist_ok=True)
    figures = build_figures(data, out)
    page = write_page(data, figures, out / PAGE)
    return Report(page, figures, data, time.perf_counter() - start)


def make_report(
    campaign_dir: Path, out: Path | None = None, *, force: bool = False, option: str = "-o"
) -> Report:
    """Read a campaign's state and write its report; see :func:`write_report`."""
    from workflows.report.adapter import load_report_data

    folder = out if out is not None else campaign_dir / REPORT_DIR
    check_report_folder(folder, [campaign_dir], option, force)  # before any work
    data = load_report_data(campaign_dir)
    return write_report_data(data, folder, inputs=[campaign_dir], option=option, force=force)


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
    "REPORT_PAGE",
    "Accounting",
    "Funnel",
    "Objective",
    "Report",
    "ReportData",
    "check_report_folder",
    "make_report",
    "write_report",
    "write_report_data",
]
