"""Verbs about the ARSC model: ``arsc fit`` and ``arsc predict``."""

from __future__ import annotations

import json
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from arsc.errors import ArscInputError
from arsc.io import csv_header
from arsc.model import (
    DEFAULT_FORMULA,
    DEFAULT_VARIANT,
    VARIANTS,
    ArscModel,
    fit_model,
    load_model,
    predict,
    save_model,
)
from arsc.model.hierfit import PARALLEL_ROWS
from arsc.model.io import Metrics
from arsc.outputs import OutputKind, check_output, json_with, write_text_atomic
from workflows.cli.options import ForceOpt, bounded, console, split_list

#: Most bootstrap members per intermediate (each is a full refit).
MAX_ENSEMBLE = 1000
#: Most cross-validation folds.
MAX_FOLDS = 1000
#: Largest ``--seed`` (numpy's legacy 32-bit seeds).
MAX_SEED = 2**32 - 1
#: What ``arsc fit -o`` writes; only such a file is replaced without ``--force``.
MODEL_FILE = json_with("schema_version", name="model file (JSON) from `arsc fit`")


def _check_seed(ctx: Any, param: Any, value: int | None) -> int | None:
    """Refuse a negative or too large seed (typer callback; exact for any integer)."""
    if value is not None and not 0 <= value <= MAX_SEED:
        raise ArscInputError(f"--seed {value} is out of range; allowed: 0 to {MAX_SEED}")
    return value


def _is_prediction_table(path: Path) -> bool:
    """Tell a CSV with the metal columns and a phi_opt column (wide: phi_opt_<z>; long: phi_opt)."""
    header = csv_header(path)
    return {"metal1", "metal2"} <= set(header) and any(
        c == "phi_opt" or c.startswith("phi_opt_") for c in header
    )


#: What ``arsc predict -o`` writes; only such a file is replaced without ``--force``.
PREDICTION_TABLE = OutputKind("prediction table (CSV) from `arsc predict`", _is_prediction_table)


class Grouping(StrEnum):
    """Rows held out and resampled together."""

    pair = "pair"
    metal1 = "metal1"
    motif = "motif"
    coord = "coord"


class Layout(StrEnum):
    """Output layouts of ``arsc predict`` for tables without an intermediate column."""

    wide = "wide"
    long = "long"


#: ``--variant`` choices: the variant registry plus ``auto``.
VariantName = StrEnum("VariantName", {n: n for n in (*VARIANTS, "auto")})  # type: ignore[misc]
_DEFAULT = VariantName(DEFAULT_VARIANT)


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def _metrics_cells(m: Metrics | None) -> list[str]:
    if m is None:
        return ["-", "-", "-"]
    return [_fmt(m.mae), _fmt(m.rmse), _fmt(m.r2)]


def fit_summary(model: ArscModel, path: Path, seconds: float) -> dict[str, Any]:
    """Build the JSON object that ``arsc fit --json`` prints."""
    return {
        "model": str(path),
        "schema_version": model.schema_version,
        "data_sha256": model.data_sha256,
        "n_rows": model.n_rows,
        "variant": model.variant,
        "groups": model.groups,
        "ensemble": model.ensemble_size,
        "seconds": round(seconds, 3),
        "intermediates": {
            z: {
                "params": f.params,
                "fitted": f.fitted,
                "noise_std": f.noise_std,
                "train": f.train.model_dump(),
                "cv": None if f.cv is None else f.cv.model_dump(),
                "reaction": f.reaction,
                "dg_opt": f.dg_opt,
                "phi_opt": f.phi_opt,
                "at_bounds": f.at_bounds,
                "interval": None if f.interval is None else f.interval.model_dump(),
            }
            for z, f in model.intermediates.items()
        },
        "variants": [v.model_dump() for v in model.variants],
        "references": [r.model_dump() for r in model.references],
    }


def _pooled_cv(model: ArscModel) -> Metrics | None:
    """CV metrics pooled over intermediates (row-weighted; R^2 as the mean of the fits')."""
    cvs = [f.cv for f in model.intermediates.values() if f.cv is not None]
    if not cvs:
        return None
    n = sum(c.n for c in cvs)
    r2s = [c.r2 for c in cvs if c.r2 is not None]
    return Metrics(
        n=n,
        mae=sum(c.mae * c.n for c in cvs) / n,
        rmse=(sum(c.rmse**2 * c.n for c in cvs) / n) ** 0.5,
        r2=sum(r2s) / len(r2s) if r2s else None,
        coverage_1sigma=None,
        mean_std=None,
        mean_std_ensemble=None,
    )


def _print_fit(model: ArscModel, path: Path, seconds: float) -> None:
    out = console()
    table = Table(title=f"ARSC fit ({model.variant}; CV grouped by {model.groups})")
    heads = ["z", "rows", "groups", "train MAE", "train RMSE", "train R2"]
    heads += ["CV MAE", "CV RMSE", "CV R2", "CV in 1sd", "phi_opt"]
    for col in heads:
        table.add_column(col, justify="left" if col == "z" else "right")
    for z, f in model.intermediates.items():
        cover = None if f.cv is None else f.cv.coverage_1sigma
        table.add_row(
            z,
            str(f.n_rows),
            str(f.n_groups),
            *_metrics_cells(f.train),
            *_metrics_cells(f.cv),
            _fmt(cover, ".2f"),
            _fmt(f.phi_opt),
        )
    out.print(table)
    for z, f in model.intermediates.items():
        params = ", ".join(f"{k}={v:.4g}" for k, v in f.params.items() if k in f.fitted)
        out.print(f"{z}: {params}")
        if f.at_bounds:
            out.print(f"{z}: at a bound of its range: {', '.join(f.at_bounds)}")
        if f.interval is not None:
            cal = ", ".join(
                f"{lv}: x{q:.2f} (mean group coverage {f.interval.group_coverage[lv]:.2f})"
                for lv, q in f.interval.scale.items()
            )
            out.print(f"{z}: conformal interval scale of the std {cal}")
            if f.interval.per_group:
                worst = min(f.interval.per_group, key=f.interval.per_group.__getitem__)
                out.print(
                    f"{z}: 68 % interval coverage per held-out group: lowest "
                    f"{f.interval.per_group[worst]:.2f} ({worst}), "
                    f"{len(f.interval.per_group)} groups (model file: interval.per_group)"
                )
    if model.references:
        pooled = _pooled_cv(model)
        rt = Table(title="held-out error beside reference models (same grouped folds, eV)")
        for col in ("model", "CV MAE", "CV RMSE", "CV R2", "reads"):
            rt.add_column(col)
        if pooled is not None:
            rt.add_row(f"ARSC {model.variant}", *_metrics_cells(pooled), "this model")
        for r in model.references:
            rt.add_row(r.model, _fmt(r.cv_mae), _fmt(r.cv_rmse), _fmt(r.cv_r2), r.description)
        out.print(rt)
    if model.variants:
        vt = Table(title="variants: grouped-CV RMSE (eV)")
        for col in ("variant", "params", "CV MAE", "CV RMSE", "chosen"):
            vt.add_column(col)
        for v in model.variants:
            vt.add_row(
                v.variant, str(v.n_params), _fmt(v.cv_mae), _fmt(v.cv_rmse), "*" if v.chosen else ""
            )
        out.print(vt)
    out.print(f"errors in eV; wrote {path} in {seconds:.1f} s")


def fit_cmd(
    data: Annotated[
        Path,
        typer.Argument(
            help="Training table (CSV): metal1, metal2 (single atoms: metal alone), coord_*, ..."
        ),
    ],
    target: Annotated[str, typer.Option("--target", "-t", help="Target column (dG, eV).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Model file to write (JSON).")],
    elements: Annotated[
        str,
        typer.Option(
            "--elements",
            help="Element property table: default, authors, or a CSV file "
            "(symbol, n, S, d, IE, X, R).",
        ),
    ] = "default",
    formula: Annotated[
        str, typer.Option("--formula", help="A-term formula over nx, Sx, dx, IEx, Xx, Rx.")
    ] = DEFAULT_FORMULA,
    ensemble: Annotated[
        int,
        typer.Option(
            "--ensemble",
            callback=bounded(0, MAX_ENSEMBLE),
            help=f"Bootstrap members per intermediate, 0-{MAX_ENSEMBLE}.",
        ),
    ] = 20,
    groups: Annotated[
        Grouping,
        typer.Option("--groups", help="Rows held out together: pair, metal1, motif or coord."),
    ] = Grouping.pair,
    variant: Annotated[
        VariantName,
        typer.Option("--variant", help="Model variant, or auto (simplest good-enough by CV)."),
    ] = _DEFAULT,
    folds: Annotated[
        int,
        typer.Option(
            "--folds", callback=bounded(2, MAX_FOLDS), help=f"Grouped CV folds, 2-{MAX_FOLDS}."
        ),
    ] = 5,
    seed: Annotated[
        int,
        typer.Option("--seed", callback=_check_seed, help=f"Bootstrap seed, 0-{MAX_SEED}."),
    ] = 0,
    intermediate: Annotated[
        str | None,
        typer.Option("--intermediate", help="Intermediate name if the table has no such column."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            callback=bounded(1, 1024),
            help="Processes for the hier fit and its CV folds (default: the CPU cores from "
            f"{PARALLEL_ROWS} rows per intermediate, else 1). The model does not depend on it.",
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    force: ForceOpt = False,
) -> None:
    """Fit the ARSC model per intermediate; report training and grouped-CV errors.

    Every intermediate needs more rows than the model has free parameters;
    one with too few rows is refused, naming its row count and the minimum.
    """
    inputs: list[str | Path] = [data, *([elements] if Path(elements).is_file() else [])]
    check_output(output, inputs, option="-o", kind=MODEL_FILE, force=force)
    start = time.perf_counter()
    model = fit_model(
        data,
        target,
        elements=elements,
        formula=formula,
        variant=variant.value,
        ensemble=ensemble,
        groups_by=groups.value,
        cv_folds=folds,
        seed=seed,
        intermediate=intermediate,
        workers=workers,
    )
    save_model(model, output)
    seconds = time.perf_counter() - start
    if json_out:
        typer.echo(json.dumps(fit_summary(model, output, seconds)))
    else:
        _print_fit(model, output, seconds)


def predict_cmd(
    model_file: Annotated[Path, typer.Argument(help="Model file written by `arsc fit`.")],
    table: Annotated[Path, typer.Argument(help="Table to score (CSV), e.g. from `arsc space`.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output table (CSV).")],
    intermediates: Annotated[
        list[str] | None,
        typer.Option(
            "--intermediates", "-i", help="Intermediates, comma-separated (default: all)."
        ),
    ] = None,
    layout: Annotated[
        Layout, typer.Option("--layout", help="wide: dG_<z> columns; long: a row per z.")
    ] = Layout.wide,
    reaction: Annotated[
        str | None, typer.Option("--reaction", help="Reaction defining phi_opt (ideal_dg.yaml).")
    ] = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Add and print each prediction's R, A, S, C contributions (eV; variant hier).",
        ),
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    force: ForceOpt = False,
) -> None:
    """Predict dG (eV) with uncertainty, phi and phi_opt for every row of a table."""
    check_output(output, [model_file, table], option="-o", kind=PREDICTION_TABLE, force=force)
    names = split_list(intermediates, "--intermediates")
    model = load_model(model_file)
    result = predict(model, table, names, layout.value, reaction, explain=explain)
    write_text_atomic(output, result.table.to_csv(index=False, float_format="%.6g"))
    summary = {
        "output": str(output),
        "rows": len(result.table),
        "intermediates": list(result.intermediates),
        "predictions": result.n_predictions,
        "seconds": round(result.seconds, 4),
        "predictions_per_s": round(result.n_predictions / max(result.seconds, 1e-9)),
        "ignored_columns": list(result.ignored_columns),
    }
    if json_out:
        typer.echo(json.dumps(summary))
        return
    out = console()
    out.print(
        f"{summary['predictions']} predictions ({len(result.intermediates)} intermediates) in "
        f"{result.seconds:.3f} s -> {output} ({summary['rows']} rows, layout {layout.value})"
    )
    if explain:
        _print_explained(result.table, result.intermediates)
    if result.ignored_columns:
        out.print(
            "note: the model has no exponent for "
            + ", ".join(result.ignored_columns)
            + "; their effect is taken as absent"
        )


#: Rows of the contribution table ``arsc predict --explain`` prints (all are in the CSV).
EXPLAIN_ROWS = 10


def _print_explained(data: Any, names: tuple[str, ...]) -> None:
    """Print the first rows' contributions: prediction = R + A + S + C (eV)."""
    label = "id" if "id" in data.columns else None
    per_row = "prediction" in data.columns and "R" in data.columns
    table = Table(title="contributions, eV (prediction = R + A + S + C)")
    for col in ("row", "z", "R", "A", "S", "C", "prediction"):
        table.add_column(col, justify="left" if col in ("row", "z") else "right")
    for i in range(min(len(data), EXPLAIN_ROWS)):
        row = data.iloc[i]
        name = str(row[label]) if label else f"{row['metal1']}-{row['metal2']} #{i}"
        zs = [str(row["intermediate"])] if per_row else list(names)
        for z in zs:
            cols = ["R", "A", "S", "C"] if per_row else [f"{t}_{z}" for t in "RASC"]
            total = row["prediction"] if per_row else row[f"dG_{z}"]
            table.add_row(name, z, *(f"{row[c]:.3f}" for c in cols), f"{total:.3f}")
    console().print(table)


def register(app: typer.Typer) -> None:
    """Add this module's verbs to the app."""
    app.command("fit")(fit_cmd)
    app.command("predict")(predict_cmd)
