"""``arsc pfess``: search descriptors of a target over metal-pair properties (PFESS)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from workflows.cli.options import ElementsOpt, ElementTable, bounded, console

#: Limits of the numeric options (sane for time and memory on a pairs table).
MAX_TOP = 1000
MAX_FOLDS = 1000
MAX_SIS = 10_000
MAX_BEAM = 100_000
MAX_TREES = 100_000
MAX_JOBS = 1024
#: Longest ``--time-limit``, s (about 11.6 days).
MAX_SECONDS = 1e6

if TYPE_CHECKING:  # arsc.pfess imports scikit-learn: load it only when the verb runs
    from arsc.pfess import PfessResult


def _table(result: PfessResult) -> Table:
    table = Table(title=f"PFESS descriptors of {result.target!r} ({result.mode} mode)")
    for col in ("#", "dim", "formulas", "coefficients", "intercept", "R^2", "RMSE", "CV RMSE"):
        table.add_column(col, justify="left" if col in ("formulas", "coefficients") else "right")
    for rank, desc in enumerate(result.results, start=1):
        table.add_row(
            str(rank),
            str(desc.dim),
            "\n".join(desc.formulas),
            "\n".join(f"{c:.6g}" for c in desc.coefficients),
            f"{desc.intercept:.6g}",
            f"{desc.r2:.5f}",
            f"{desc.rmse:.4f}",
            f"{desc.cv_rmse:.4f}",
        )
    return table


def _summary(result: PfessResult) -> list[str]:
    steps = ", ".join(f"{k} {v}" for k, v in result.cleaning.items())
    return [
        f"features: {result.n_features_generated} generated, {result.n_features_clean} clean "
        f"({steps}); space {result.space!r}, elements {result.elements!r}",
        f"RMSE in the target's unit (eV for free energies); CV RMSE: {result.cv} "
        f"over {result.groups} groups, {result.n_rows} rows",
        f"elapsed {result.elapsed_s:.1f} s"
        + ("; authors' subset search stopped early" if result.interrupted else ""),
    ]


def pfess(
    data: Annotated[
        Path, typer.Argument(help="Pairs table: CSV, or an Excel workbook (see --sheet).")
    ],
    target: Annotated[str, typer.Option("--target", "-t", help="Target column (e.g. eV).")],
    elements: ElementsOpt = ElementTable.authors,
    dim: Annotated[
        int,
        typer.Option("--dim", callback=bounded(1, 3), help="Largest descriptor dimension, 1-3."),
    ] = 1,
    top: Annotated[
        int,
        typer.Option(
            "--top",
            callback=bounded(1, MAX_TOP),
            help=f"Descriptors shown per dimension, 1-{MAX_TOP}.",
        ),
    ] = 5,
    mode: Annotated[
        str, typer.Option("--mode", help="fast (exhaustive/SIS) or authors (RF + LassoCV).")
    ] = "fast",
    groups: Annotated[
        str, typer.Option("--groups", help="CV groups: pair (unordered) or metal1.")
    ] = "pair",
    space: Annotated[
        str, typer.Option("--space", help="Feature space: full (6 properties) or authors.")
    ] = "full",
    cv_folds: Annotated[
        int | None,
        typer.Option(
            "--cv-folds",
            callback=bounded(2, MAX_FOLDS),
            help=f"GroupKFold folds, 2-{MAX_FOLDS} (default: leave one group out).",
        ),
    ] = None,
    sis: Annotated[
        int,
        typer.Option(
            "--sis",
            callback=bounded(1, MAX_SIS),
            help=f"Fast mode: features per SIS screen, 1-{MAX_SIS}.",
        ),
    ] = 50,
    beam: Annotated[
        int,
        typer.Option(
            "--beam",
            callback=bounded(0, MAX_BEAM),
            help=f"Fast mode: sets extended by every feature per dim, 0-{MAX_BEAM}.",
        ),
    ] = 100,
    n_estimators: Annotated[
        int,
        typer.Option(
            "--n-estimators",
            callback=bounded(1, MAX_TREES),
            help=f"Authors mode: trees per random forest, 1-{MAX_TREES}.",
        ),
    ] = 50,
    time_limit: Annotated[
        float | None,
        typer.Option(
            "--time-limit",
            callback=bounded(0.0, MAX_SECONDS, unit="s", low_open=True),
            help=f"Authors mode: stop the subset search after this many s, (0, {MAX_SECONDS:g}].",
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            callback=bounded(1, MAX_JOBS),
            help=f"Authors mode: parallel forest jobs, 1-{MAX_JOBS}.",
        ),
    ] = None,
    sheet: Annotated[str, typer.Option("--sheet", help="Sheet of an Excel file.")] = "property",
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of the table.")
    ] = False,
) -> None:
    """Find interpretable descriptors of a target by PFESS (Lin et al. 2024)."""
    from arsc.pfess import AuthorsSettings, read_table, run_pfess

    result = run_pfess(
        read_table(data, sheet),
        target,
        elements=elements.value,
        dim=dim,
        top=top,
        mode=mode,
        groups=groups,
        space=space,
        sis=sis,
        beam=beam,
        cv_folds=cv_folds,
        authors=AuthorsSettings(n_estimators=n_estimators, time_limit_s=time_limit, n_jobs=jobs),
        source=str(data),
    )
    if json_out:
        typer.echo(result.model_dump_json(indent=2))
        return
    out = console()
    out.print(_table(result))
    for line in _summary(result):
        out.print(line)


def register(app: typer.Typer) -> None:
    """Add this module's verbs to the app."""
    app.command("pfess")(pfess)
