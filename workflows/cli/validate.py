"""``arsc validate``: compare predictions with DFT values (MAE, RMSE, R^2, Spearman, top-k)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from arsc.outputs import PNG, check_output
from arsc.validate import Metrics, ValidationReport, evaluate, match, parity_plot, read_table
from workflows.cli.options import ForceOpt, bounded, console, split_list

#: Largest ``--k``: a top set larger than any screening table is a typo.
MAX_K = 100_000


class BestEnd(StrEnum):
    """Which end of the value scale holds the best candidates."""

    low = "low"
    high = "high"


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _row(name: str, m: Metrics) -> list[str]:
    return [
        name,
        str(m.n),
        _fmt(m.mae),
        _fmt(m.rmse),
        _fmt(m.r2),
        _fmt(m.spearman),
        f"{m.topk_in_pred_topk}/{m.k}",
        f"{m.topk_in_pred_top2k}/{m.k}",
    ]


def _print(report: ValidationReport, plot: Path | None) -> None:
    table = Table(title=f"{report.value_pred} vs DFT {report.value_dft} (eV)")
    for col in ("group", "n", "MAE (eV)", "RMSE (eV)", "R²", "Spearman", "top-k", "top-k in 2k"):
        table.add_column(col, justify="left" if col == "group" else "right")
    table.add_row(*_row("overall", report.overall))
    for name, m in report.groups.items():
        table.add_row(*_row(name, m))
    out = console()
    out.print(table)
    out.print(
        f"joined on {','.join(report.keys)}: {report.n_matched} matched, "
        f"{report.n_unmatched} unmatched ({report.n_pred_only} prediction rows without DFT, "
        f"{report.n_dft_only} DFT rows without prediction), "
        f"{report.n_missing_value} matched rows with an empty value"
    )
    out.print(
        f"top-k: of the k best DFT rows ({report.best}est values best), how many the "
        "prediction ranks in its k best and 2k best"
    )
    if plot is not None:
        out.print(f"parity plot: {plot}")


def validate(
    pred: Annotated[Path, typer.Argument(help="Predictions (CSV).")],
    dft: Annotated[Path, typer.Argument(help="DFT values (CSV).")],
    on: Annotated[
        list[str] | None,
        typer.Option(
            "--on",
            help="Key columns, comma-separated (default: site, plus intermediate or "
            "adsorbate when both tables have it).",
        ),
    ] = None,
    value_pred: Annotated[
        str, typer.Option("--value-pred", help="Prediction column (eV).")
    ] = "prediction",
    value_dft: Annotated[
        str | None,
        typer.Option(
            "--value-dft",
            help="DFT column (eV); default: the prediction column's name, else dft, dG, "
            "target or value.",
        ),
    ] = None,
    k: Annotated[
        int,
        typer.Option(
            "--k", callback=bounded(1, MAX_K), help=f"Size of the true top set, 1-{MAX_K}."
        ),
    ] = 10,
    best: Annotated[
        BestEnd, typer.Option("--best", help="Which values are best for top-k: low or high.")
    ] = BestEnd.low,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Write a parity plot (PNG); never one of the input tables."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of the table.")
    ] = False,
    force: ForceOpt = False,
) -> None:
    """Compare predictions with DFT values: MAE, RMSE, R², Spearman, top-k retention.

    Values must be finite numbers: an infinite value is an error naming the
    file, row and column; an empty cell counts as a missing value.
    """
    if plot is not None:
        check_output(plot, [pred, dft], option="--plot", kind=PNG, force=force)
    keys = split_list(on, "--on")
    matched = match(
        read_table(pred),
        read_table(dft),
        on=keys,
        value_pred=value_pred,
        value_dft=value_dft,
        sources=(f"prediction table {str(pred)!r}", f"DFT table {str(dft)!r}"),
    )
    report = evaluate(matched, k=k, best=best.value)
    if plot is not None:
        parity_plot(matched, plot)
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json")))
    else:
        _print(report, plot)


def register(app: typer.Typer) -> None:
    """Add this module's verbs to the app."""
    app.command("validate")(validate)
