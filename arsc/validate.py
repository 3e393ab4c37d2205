"""Validation of predictions against DFT: join two tables, error metrics, top-k, parity plot.

The two tables are joined on key columns (default: ``site``, or ``id`` when
neither table has ``site``, plus ``intermediate`` or ``adsorbate`` when both
tables have it). Rows without a partner are counted, never dropped silently.
Metrics are computed over all matched rows and per group, where the groups
are the values of the ``intermediate``/``adsorbate`` and ``reaction`` columns
present.

Values must be finite numbers (eV). An empty cell (or ``nan``) is a missing
value: the row is counted in ``n_missing_value`` and left out of the metrics.
Text that is not a number and infinite values (``inf``, ``-inf``) are errors
naming the table, the row and the column, since an infinite prediction would
turn every metric into ``inf``.

Examples
--------
>>> import pandas as pd
>>> pred = pd.DataFrame({"site": ["a", "b", "c"], "prediction": [0.1, 0.5, 0.9]})
>>> dft = pd.DataFrame({"site": ["a", "b", "c", "d"], "dG": [0.0, 0.6, 1.0, 2.0]})
>>> report = evaluate(match(pred, dft), k=1)
>>> report.n_matched, report.n_unmatched, round(report.overall.mae, 3)
(3, 1, 0.1)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
import pydantic
from scipy.stats import spearmanr

from arsc.errors import ArscInputError
from arsc.io import input_file, plain
from arsc.outputs import atomic_path

Best = Literal["low", "high"]

#: Candidates for the site key, first present in both tables wins.
SITE_KEYS: tuple[str, ...] = ("site", "id")
#: Candidates for the second key (the adsorbed species), used when present in both tables.
SPECIES_KEYS: tuple[str, ...] = ("intermediate", "adsorbate")
#: Columns whose values define the groups of the per-group metrics.
GROUP_COLUMNS: tuple[str, ...] = ("intermediate", "adsorbate", "reaction")
#: Candidates for the DFT value column when none is named (after the prediction's own name).
DFT_VALUE_COLUMNS: tuple[str, ...] = ("dft", "dG", "target", "value")
PRED, DFT = "pred", "dft"


class Metrics(pydantic.BaseModel):
    """Agreement of predicted and DFT values over one set of matched rows."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    n: int = pydantic.Field(description="number of matched rows with both values; no unit")
    mae: float = pydantic.Field(description="eV: mean absolute error, prediction - DFT")
    rmse: float = pydantic.Field(description="eV: root-mean-square error")
    r2: float | None = pydantic.Field(
        description="dimensionless: coefficient of determination of the prediction against "
        "DFT (1 - SS_res / SS_tot); None with fewer than 2 rows or constant DFT values"
    )
    spearman: float | None = pydantic.Field(
        description="dimensionless, -1..1: Spearman rank correlation; None with fewer than "
        "2 rows or constant values"
    )
    k: int = pydantic.Field(description="size of the true top set: min(k asked, n); no unit")
    topk_in_pred_topk: int = pydantic.Field(
        description="how many of the k best DFT rows are among the k best predicted; no unit"
    )
    topk_in_pred_top2k: int = pydantic.Field(
        description="how many of the k best DFT rows are among the 2k best predicted; no unit"
    )


class ValidationReport(pydantic.BaseModel):
    """Result of :func:`evaluate`: counts, overall and per-group metrics."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    n_matched: int = pydantic.Field(
        description="rows found in both tables with both values (the rows the metrics use)"
    )
    n_unmatched: int = pydantic.Field(
        description="rows of either table without a partner in the other: n_pred_only + n_dft_only"
    )
    n_pred_only: int = pydantic.Field(description="prediction rows with no DFT row")
    n_dft_only: int = pydantic.Field(description="DFT rows with no prediction row")
    n_missing_value: int = pydantic.Field(
        description="matched rows whose predicted or DFT value is empty (not used)"
    )
    keys: list[str] = pydantic.Field(description="columns the tables were joined on")
    value_pred: str = pydantic.Field(description="prediction column (eV)")
    value_dft: str = pydantic.Field(description="DFT column (eV)")
    best: Best = pydantic.Field(description="'low': lowest values are best for top-k; 'high'")
    overall: Metrics = pydantic.Field(description="metrics over all matched rows")
    groups: dict[str, Metrics] = pydantic.Field(
        description="metrics per group, keyed 'column=value' (e.g. 'intermediate=OH')"
    )


class Matched(NamedTuple):
    """Two tables joined row by row."""

    frame: pd.DataFrame
    """Matched rows: key columns, group columns, ``pred`` and ``dft`` (eV)."""
    keys: list[str]
    value_pred: str
    value_dft: str
    n_pred_only: int
    n_dft_only: int
    n_missing_value: int


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV table.

    Raises
    ------
    ArscInputError
        If the file is missing, not CSV, or has no rows.
    """
    name = str(input_file(path, "table"))
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        msg = " ".join(str(exc).split())
        raise ArscInputError(f"table {name!r} is not a readable CSV file: {msg}") from None
    if table.empty:
        raise ArscInputError(f"table {name!r} has no rows")
    return table


def _require(table: pd.DataFrame, cols: Sequence[str], name: str, what: str) -> None:
    for col in cols:
        if col not in table.columns:
            have = ", ".join(map(str, table.columns))
            raise ArscInputError(f"{name} table lacks {what} column {col!r}; it has: {have}")


def default_keys(pred: pd.DataFrame, dft: pd.DataFrame) -> list[str]:
    """Key columns: the first of :data:`SITE_KEYS` and of :data:`SPECIES_KEYS` in both tables."""
    both = [c for c in pred.columns if c in dft.columns]
    site = next((c for c in SITE_KEYS if c in both), None)
    if site is None:
        raise ArscInputError(
            "cannot join the tables: neither has a column "
            + " or ".join(repr(c) for c in SITE_KEYS)
            + " in common; name the key columns with --on"
        )
    return [site, *[c for c in SPECIES_KEYS if c in both][:1]]


def _dft_column(dft: pd.DataFrame, value_pred: str) -> str:
    for col in (value_pred, *DFT_VALUE_COLUMNS):
        if col in dft.columns:
            return col
    numeric = [str(c) for c in dft.select_dtypes("number").columns]
    raise ArscInputError(
        "cannot tell the DFT value column (tried "
        + ", ".join((value_pred, *DFT_VALUE_COLUMNS))
        + "); name it with --value-dft, numeric columns: "
        + (", ".join(numeric) or "none")
    )


def _numeric(table: pd.DataFrame, col: str, source: str) -> pd.Series:
    """Return a value column as floats; empty cells stay NaN (missing, see :func:`match`).

    Raises
    ------
    ArscInputError
        For text that is not a number, or an infinite value (``inf``, ``-inf``),
        naming the table, the row (1 = first data row) and the column.
    """
    values = pd.to_numeric(table[col], errors="coerce")
    bad = (values.isna() & table[col].notna()) | np.isinf(values.to_numpy(dtype=float))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raw = table[col].iloc[i]
        shown = plain(raw) if np.isinf(values.iloc[i]) else repr(str(raw))
        raise ArscInputError(
            f"{source}: row {i + 1}: column {col!r} holds {shown}; expected finite numbers (eV)"
        )
    return values


def _check_unique(table: pd.DataFrame, keys: list[str], name: str) -> None:
    dup = table.duplicated(keys, keep=False)
    if dup.any():
        first = ", ".join(f"{k}={table.loc[dup, k].iloc[0]}" for k in keys)
        raise ArscInputError(
            f"{name} table has {int(dup.sum())} rows sharing a key ({first}); keys "
            f"{','.join(keys)} must be unique: add a column with --on (e.g. "
            f"{','.join([*keys, 'mode'])})"
        )


def match(
    pred: pd.DataFrame,
    dft: pd.DataFrame,
    *,
    on: Sequence[str] | None = None,
    value_pred: str = "prediction",
    value_dft: str | None = None,
    sources: tuple[str, str] = ("prediction table", "DFT table"),
) -> Matched:
    """Join predictions and DFT values row by row.

    Parameters
    ----------
    pred, dft
        The two tables; keys must be unique in each.
    on
        Key columns; default :func:`default_keys`.
    value_pred
        Prediction column, eV.
    value_dft
        DFT column, eV; default: a column named like ``value_pred``, else the
        first of :data:`DFT_VALUE_COLUMNS`.
    sources
        How to name the two tables in messages (e.g. with their file names).

    Returns
    -------
    Matched
        The matched rows and the counts of rows without a partner or value.

    Raises
    ------
    ArscInputError
        Missing key or value columns, non-numeric or infinite values (naming
        the table, row and column), duplicate keys, or no row in common.
        Empty value cells are not an error: those rows are counted in
        ``n_missing_value`` and left out of the metrics.
    """
    keys = list(on) if on else default_keys(pred, dft)
    _require(pred, keys, "prediction", "key")
    _require(dft, keys, "DFT", "key")
    _require(pred, [value_pred], "prediction", "value")
    vdft = value_dft if value_dft is not None else _dft_column(dft, value_pred)
    _require(dft, [vdft], "DFT", "value")
    _check_unique(pred, keys, "prediction")
    _check_unique(dft, keys, "DFT")
    groups = [c for c in GROUP_COLUMNS if c not in keys]
    left = pred[keys].astype(str).assign(**{PRED: _numeric(pred, value_pred, sources[0])})
    right = dft[keys].astype(str).assign(**{DFT: _numeric(dft, vdft, sources[1])})
    for col in groups:  # group labels from the DFT table first, else from the predictions
        if col in dft.columns:
            right[col] = dft[col]
        elif col in pred.columns:
            left[col] = pred[col]
    joined = left.merge(right, on=keys, how="outer", indicator=True)
    both = joined[joined["_merge"] == "both"].drop(columns="_merge")
    if both.empty:
        raise ArscInputError(
            f"no row of the prediction table matches the DFT table on {','.join(keys)} "
            f"({len(pred)} and {len(dft)} rows); check the key columns (--on)"
        )
    valid = both[PRED].notna() & both[DFT].notna()
    return Matched(
        frame=both[valid].reset_index(drop=True),
        keys=keys,
        value_pred=value_pred,
        value_dft=vdft,
        n_pred_only=int((joined["_merge"] == "left_only").sum()),
        n_dft_only=int((joined["_merge"] == "right_only").sum()),
        n_missing_value=int((~valid).sum()),
    )


def _order(values: np.ndarray, best: Best) -> np.ndarray:
    """Return row indices from best to worst (stable: ties keep row order)."""
    return np.argsort(values if best == "low" else -values, kind="stable")


def top_k(pred: np.ndarray, dft: np.ndarray, k: int, best: Best = "low") -> tuple[int, int, int]:
    """Top-k retention: of the true (DFT) top k, how many are in the predicted top k and top 2k.

    Returns
    -------
    tuple of int
        ``(k_used, in_pred_topk, in_pred_top2k)`` with ``k_used = min(k, n)``.
    """
    if k < 1:
        raise ArscInputError(f"k = {k} for top-k retention; k must be >= 1")
    k_used = min(k, len(dft))
    truth = set(_order(dft, best)[:k_used].tolist())
    ranked = _order(pred, best)
    return (
        k_used,
        len(truth & set(ranked[:k_used].tolist())),
        len(truth & set(ranked[: 2 * k_used].tolist())),
    )


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def metrics(pred: np.ndarray, dft: np.ndarray, k: int = 10, best: Best = "low") -> Metrics:
    """Return MAE, RMSE, R^2, Spearman rho and top-k retention of ``pred`` against ``dft`` (eV)."""
    pred, dft = np.asarray(pred, dtype=float), np.asarray(dft, dtype=float)
    err = pred - dft
    ss_tot = float(np.sum((dft - dft.mean()) ** 2))
    r2 = 1.0 - float(np.sum(err**2)) / ss_tot if ss_tot > 0 else None
    varied = len(dft) > 1 and np.ptp(dft) > 0 and np.ptp(pred) > 0
    rho = _finite_or_none(spearmanr(pred, dft).statistic) if varied else None
    k_used, in_k, in_2k = top_k(pred, dft, k, best)
    return Metrics(
        n=len(dft),
        mae=float(np.mean(np.abs(err))),
        rmse=float(np.sqrt(np.mean(err**2))),
        r2=r2,
        spearman=rho,
        k=k_used,
        topk_in_pred_topk=in_k,
        topk_in_pred_top2k=in_2k,
    )


def group_columns(frame: pd.DataFrame) -> list[str]:
    """Return the columns of :data:`GROUP_COLUMNS` present in a matched frame."""
    return [c for c in GROUP_COLUMNS if c in frame.columns]


def evaluate(matched: Matched, k: int = 10, best: Best = "low") -> ValidationReport:
    """Return overall and per-group metrics of matched rows.

    Parameters
    ----------
    matched
        From :func:`match`.
    k
        Size of the true top set for top-k retention.
    best
        ``"low"`` if the lowest values are the best candidates, else ``"high"``.
    """
    frame = matched.frame
    groups: dict[str, Metrics] = {}
    for col in group_columns(frame):
        for value, rows in frame.groupby(col, sort=True):
            groups[f"{col}={value}"] = metrics(rows[PRED].to_numpy(), rows[DFT].to_numpy(), k, best)
    return ValidationReport(
        n_matched=len(frame),
        n_unmatched=matched.n_pred_only + matched.n_dft_only,
        n_pred_only=matched.n_pred_only,
        n_dft_only=matched.n_dft_only,
        n_missing_value=matched.n_missing_value,
        keys=matched.keys,
        value_pred=matched.value_pred,
        value_dft=matched.value_dft,
        best=best,
        overall=metrics(frame[PRED].to_numpy(), frame[DFT].to_numpy(), k, best),
        groups=groups,
    )


def parity_plot(matched: Matched, path: str | Path, *, title: str | None = None) -> Path:
    """Write a parity plot (PNG, Agg backend): one colour per intermediate, y = x, MAE.

    Parameters
    ----------
    matched
        From :func:`match`.
    path
        Output PNG file; folders are created. The image is written beside it
        and renamed over it (:func:`arsc.outputs.atomic_path`).
    title
        Plot title; default names the two value columns.

    Returns
    -------
    Path
        The written file.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    frame = matched.frame
    fig = Figure(figsize=(5.0, 5.0), dpi=150, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    colour_by = next((c for c in GROUP_COLUMNS[:2] if c in frame.columns), None)
    parts = frame.groupby(colour_by, sort=True) if colour_by else [("all", frame)]
    for label, rows in parts:
        mae = float(np.mean(np.abs(rows[PRED] - rows[DFT])))
        ax.scatter(rows[DFT], rows[PRED], s=18, alpha=0.8, label=f"{label} (MAE {mae:.2f} eV)")
    lo = float(min(frame[PRED].min(), frame[DFT].min()))
    hi = float(max(frame[PRED].max(), frame[DFT].max()))
    pad = 0.05 * (hi - lo) or 0.1
    line = (lo - pad, hi + pad)
    overall = float(np.mean(np.abs(frame[PRED] - frame[DFT])))
    ax.plot(line, line, color="black", lw=1, label=f"y = x (overall MAE {overall:.2f} eV)")
    ax.set(xlim=line, ylim=line, aspect="equal")
    ax.set_xlabel(f"DFT: {matched.value_dft} (eV)")
    ax.set_ylabel(f"predicted: {matched.value_pred} (eV)")
    ax.set_title(title or f"parity: {matched.value_pred} vs {matched.value_dft}, n = {len(frame)}")
    ax.legend(loc="upper left", fontsize="small")
    out = Path(path)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png")
    return out
