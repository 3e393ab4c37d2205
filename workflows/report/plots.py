"""The report's figures: matplotlib (Agg, no pyplot state), one PNG file each.

Every function takes plain tables (see :mod:`workflows.report.data`) and a
path, writes a PNG and returns the path, so each figure can be made and
tested on its own.

Colour maps: the objective's colour is viridis, oriented so that the best
values are bright (``viridis_r`` when lower is better); an objective with an
ideal value (``closest``) uses a diverging map centred on that value. Rounds
are coloured from viridis, sampled so that no colour is too pale on white.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Colormap, Normalize, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from arsc.outputs import atomic_path
from arsc.thermo.diagram import Diagram, write_diagrams
from workflows.report.data import Accounting, Funnel, Objective

DPI = 110
#: Colour map per objective sense.
CMAPS: dict[str, str] = {"min": "viridis_r", "max": "viridis", "closest": "RdBu_r"}
#: Fraction of the values inside the colour range (the rest saturates).
COLOUR_QUANTILES = (0.02, 0.98)
#: Fewest predicted sites for the volcano's binned median curve.
MIN_CURVE_SITES = 50
#: Quantiles of the predicted objective that set the volcano's y range (DFT points always shown).
VOLCANO_QUANTILES = (0.005, 0.995)


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | Path) -> Path:
    """Write the figure as PNG atomically (a temporary file renamed over ``path``)."""
    out = Path(path)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", facecolor="white")
    return out


def round_colours(rounds: Sequence[int]) -> dict[int, tuple[float, float, float, float]]:
    """One viridis colour per round (dark to green; no pale yellow on white)."""
    cmap = colormaps["viridis"]
    uniq = sorted(set(rounds))
    if len(uniq) == 1:
        return {uniq[0]: cmap(0.3)}
    return {r: cmap(0.85 * i / (len(uniq) - 1)) for i, r in enumerate(uniq)}


def value_range(values: np.ndarray, pad: float = 0.08) -> tuple[float, float]:
    """Axis limits around the finite values, padded by a fraction of their span."""
    v = values[np.isfinite(values)]
    if not len(v):
        return 0.0, 1.0
    lo, hi = float(v.min()), float(v.max())
    margin = pad * (hi - lo) or 0.1
    return lo - margin, hi + margin


def _by_round(frame: pd.DataFrame) -> list[tuple[int, pd.DataFrame]]:
    """(round, its rows) in round order."""
    rounds = frame["round"].astype(int)
    return [(r, frame[rounds == r]) for r in sorted(set(rounds))]


def objective_colours(values: np.ndarray, objective: Objective) -> tuple[Colormap, Normalize]:
    """Colour map and normalisation of objective values (robust to outliers)."""
    cmap = colormaps[CMAPS[objective.sense]].with_extremes(bad="#d9d9d9")
    finite = values[np.isfinite(values)]
    if not len(finite):
        return cmap, Normalize(0.0, 1.0)
    lo, hi = (float(q) for q in np.quantile(finite, COLOUR_QUANTILES))
    if objective.sense == "closest":
        centre = objective.target or 0.0
        half = max(abs(lo - centre), abs(hi - centre), 1e-6)
        return cmap, TwoSlopeNorm(vcenter=centre, vmin=centre - half, vmax=centre + half)
    if hi <= lo:
        hi = lo + 1e-6
    return cmap, Normalize(lo, hi)


# ---- funnel --------------------------------------------------------------------------


def funnel_plot(funnel: Funnel, path: str | Path) -> Path:
    """Candidate funnel: enumerated -> kept after pruning -> computed -> confirmed.

    Horizontal bars on a log axis (the stages span orders of magnitude),
    each labelled with its count.
    """
    stages = funnel.stages()
    fig = _figure(7.5, 3.2)
    ax = fig.add_subplot()
    labels = [s for s, _ in stages]
    counts = np.array([c for _, c in stages], dtype=float)
    y = np.arange(len(stages))[::-1]
    colours = [colormaps["viridis"](x) for x in (0.15, 0.4, 0.6, 0.8)]
    ax.barh(y, np.maximum(counts, 0.8), color=colours, height=0.65)
    for yi, c in zip(y, counts, strict=True):
        ax.text(max(c, 1.0) * 1.08, yi, f"{int(c):,}", va="center", fontsize=11)
    ax.set_xscale("log")
    ax.set_xlim(0.8, max(counts.max(), 1.0) * 4)
    ax.set_yticks(y, labels, fontsize=11)
    ax.set_xlabel("candidate sites (count, log scale)")
    ax.set_title(f"Candidate funnel ({funnel.pruned:,} pruned by ARSC)")
    ax.spines[["top", "right"]].set_visible(False)
    return _save(fig, path)


# ---- heatmap -------------------------------------------------------------------------


def metal_grid(frame: pd.DataFrame, metals: Sequence[str], column: str) -> np.ndarray:
    """M1 x M2 matrix of a column; symmetric motifs mirrored."""
    index = {m: i for i, m in enumerate(metals)}
    grid = np.full((len(metals), len(metals)), np.nan)
    i1 = frame["metal1"].map(index)
    i2 = frame["metal2"].map(index)
    ok = i1.notna() & i2.notna()
    a, b = i1[ok].astype(int).to_numpy(), i2[ok].astype(int).to_numpy()
    v = frame.loc[ok, column].to_numpy(dtype=float)
    sym = frame.loc[ok, "symmetric"].to_numpy(dtype=bool)
    grid[a, b] = v
    grid[b[sym], a[sym]] = v[sym]
    return grid


def heatmap_plot(
    predictions: pd.DataFrame,
    metals: Sequence[str],
    objective: Objective,
    path: str | Path,
    *,
    computed: Collection[str] = (),
) -> Path:
    """Metal x metal heatmaps of the predicted objective, one panel per motif.

    Parameters
    ----------
    predictions
        Columns ``site, metal1, metal2, motif, support, symmetric, mu``.
    metals
        Axis order (rows M1, columns M2).
    objective
        Sets the colour map and the colour-bar label.
    path
        Output PNG.
    computed
        Site ids computed by DFT: marked with a dot.
    """
    panels = list(predictions.groupby(["motif", "support"], sort=False))
    n = max(len(panels), 1)
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    size = max(3.2, 0.19 * len(metals) + 1.0)
    fig = _figure(max(ncols * size + 1.4, 7.0), nrows * size + 0.6)
    ticksize = 9 if len(metals) <= 10 else 6
    cmap, norm = objective_colours(predictions["mu"].to_numpy(dtype=float), objective)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    done = set(computed)
    ticks = np.arange(len(metals))
    image = None
    for ax, ((motif, support), rows) in zip(axes.flat, panels, strict=False):
        image = ax.imshow(metal_grid(rows, metals, "mu"), cmap=cmap, norm=norm, origin="upper")
        marks = rows[rows["site"].isin(done)]
        if len(marks):
            grid = metal_grid(marks.assign(one=1.0), metals, "one")
            r, c = np.nonzero(np.isfinite(grid))
            ax.scatter(c, r, s=9 if len(metals) > 10 else 30, c="black", edgecolors="white")
        symmetric = bool(rows["symmetric"].iloc[0])
        ax.set_title(f"{motif} on {support}" + (" (mirrored)" if symmetric else ""), fontsize=9)
        ax.set_xticks(ticks, metals, fontsize=ticksize, rotation=90)
        ax.set_yticks(ticks, metals, fontsize=ticksize)
        ax.set_xlabel("M2", fontsize=8, labelpad=1)
        ax.set_ylabel("M1 (binding metal)", fontsize=8, labelpad=1)
    for ax in axes.flat[len(panels) :]:
        ax.set_axis_off()
    if image is not None:
        bar = fig.colorbar(image, ax=axes, shrink=0.6, extend="both", pad=0.01)
        bar.set_label(f"predicted {objective.axis}")
    fig.suptitle("ARSC-predicted objective per motif (dots: computed by DFT)", fontsize=10)
    return _save(fig, path)


# ---- volcano -------------------------------------------------------------------------


def _binned(x: np.ndarray, y: np.ndarray, s: np.ndarray, bins: int) -> pd.DataFrame:
    ok = np.isfinite(x) & np.isfinite(y)
    frame = pd.DataFrame({"x": x[ok], "y": y[ok], "s": np.nan_to_num(s[ok])})
    if len(frame) < 2 * bins:
        bins = max(len(frame) // 2, 1)
    frame["bin"] = pd.qcut(frame["x"], bins, duplicates="drop", labels=False)
    out = frame.groupby("bin").agg(x=("x", "median"), y=("y", "median"), s=("s", "median"))
    return out.reset_index(drop=True)


def volcano_plot(
    predictions: pd.DataFrame,
    dft: pd.DataFrame,
    objective: Objective,
    path: str | Path,
    *,
    descriptor: str = "φ",
    phi_opt: float = math.nan,
    bins: int = 25,
) -> Path:
    """Objective vs the ARSC descriptor: predicted cloud and binned curve, DFT points on top.

    Parameters
    ----------
    predictions
        Columns ``phi, mu, sigma`` (all enumerated sites).
    dft
        Columns ``phi, objective, round`` (computed sites).
    objective
        Axis label and the target line of a ``closest`` objective.
    path
        Output PNG.
    descriptor
        Name of the descriptor on the x axis.
    phi_opt
        Ideal descriptor value, drawn as a vertical line when finite.
    bins
        Quantile bins of the median curve.
    """
    fig = _figure(9.5, 5.0)
    ax = fig.add_subplot()
    x = predictions["phi"].to_numpy(dtype=float)
    y = predictions["mu"].to_numpy(dtype=float)
    finite = y[np.isfinite(y)]
    many = len(finite) > 500
    ax.scatter(
        x,
        y,
        s=5 if many else 20,
        c="#9e9e9e",
        alpha=0.45 if many else 0.8,
        lw=0,
        label="ARSC prediction (every site)",
    )
    if (np.isfinite(x) & np.isfinite(y)).sum() >= MIN_CURVE_SITES:
        curve = _binned(x, y, predictions["sigma"].to_numpy(dtype=float), bins)
        ax.fill_between(
            curve["x"],
            curve["y"] - curve["s"],
            curve["y"] + curve["s"],
            color="#404040",
            alpha=0.15,
        )
        ax.plot(curve["x"], curve["y"], color="#202020", lw=1.5, label="binned median ± median σ")
    colours = round_colours(dft["round"].astype(int).tolist() or [0])
    for rnd, rows in _by_round(dft):
        ax.scatter(
            rows["phi"],
            rows["objective"],
            s=42,
            color=colours[rnd],
            edgecolors="black",
            linewidths=0.6,
            zorder=3,
            label=f"DFT, round {rnd}",
        )
    if math.isfinite(phi_opt):
        ax.axvline(
            phi_opt, color="#b2182b", ls="--", lw=1, label=f"{descriptor}_opt = {phi_opt:.2f}"
        )
    if objective.sense == "closest" and objective.target is not None:
        ax.axhline(objective.target, color="#b2182b", ls=":", lw=1, label="ideal value")
    shown = [dft["objective"].to_numpy(float)]
    if len(finite):
        shown.append(np.quantile(finite, VOLCANO_QUANTILES))
    ax.set_ylim(*value_range(np.concatenate(shown)))
    ax.set_xlabel(f"ARSC descriptor {descriptor} (dimensionless)")
    ax.set_ylabel(objective.axis)
    ax.set_title("Volcano: objective vs ARSC descriptor")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside right upper", fontsize=9)
    return _save(fig, path)


# ---- parity --------------------------------------------------------------------------


def parity_plot(dft: pd.DataFrame, objective: Objective, path: str | Path) -> Path:
    """ARSC prediction (made before each batch, ±σ) vs DFT, one colour per round.

    Parameters
    ----------
    dft
        Columns ``objective, pred_mu, pred_sigma, round``.
    objective
        Axis labels and unit.
    path
        Output PNG.
    """
    fig = _figure(5.8, 5.6)
    ax = fig.add_subplot()
    colours = round_colours(dft["round"].astype(int).tolist() or [0])
    for rnd, rows in _by_round(dft):
        mae = float(np.mean(np.abs(rows["pred_mu"] - rows["objective"])))
        ax.errorbar(
            rows["objective"],
            rows["pred_mu"],
            yerr=rows["pred_sigma"].fillna(0.0),
            fmt="o",
            ms=5,
            color=colours[rnd],
            mec="black",
            mew=0.5,
            elinewidth=0.8,
            capsize=2,
            label=f"round {rnd}: n = {len(rows)}, MAE {mae:.2f} {objective.unit}",
        )
    mu, sd = dft["pred_mu"].to_numpy(float), dft["pred_sigma"].fillna(0.0).to_numpy(float)
    values = np.concatenate([dft["objective"].to_numpy(float), mu])
    lo, hi = value_range(values)
    inside = sd <= (hi - lo)  # error bars wider than the data's span are clipped
    lo, hi = value_range(np.concatenate([values, (mu - sd)[inside], (mu + sd)[inside]]))
    line = (lo, hi)
    if not inside.all():
        ax.text(
            0.98,
            0.02,
            "some error bars clipped",
            transform=ax.transAxes,
            ha="right",
            fontsize=8,
            color="#555555",
        )
    ax.plot(line, line, color="black", lw=1, label="y = x")
    ax.set(xlim=line, ylim=line, aspect="equal")
    ax.set_xlabel(f"DFT {objective.axis}")
    ax.set_ylabel(f"ARSC prediction before the batch, {objective.axis}")
    ax.set_title("Parity: ARSC vs DFT per round")
    ax.legend(fontsize=8, loc="upper left")
    return _save(fig, path)


# ---- accounting ----------------------------------------------------------------------


def accounting_plot(accounting: Accounting, path: str | Path) -> Path:
    """Bars (log scale): calculations and core-hours spent vs an exhaustive screen."""
    fig = _figure(7.5, 3.4)
    axes = fig.subplots(1, 2)
    colours = ("#21918c", "#9e9e9e")
    panels = (
        ("DFT calculations (count)", accounting.calculations, accounting.exhaustive_calculations),
        ("core-hours (h)", accounting.core_hours, accounting.exhaustive_core_hours),
    )
    for ax, (label, spent, full) in zip(axes, panels, strict=True):
        values = np.array([spent, full], dtype=float)
        ok = np.isfinite(values) & (values > 0)
        positive = values[ok] if ok.any() else np.array([1.0])
        low = 10.0 ** math.floor(math.log10(positive.min()))
        top = 10.0 ** math.ceil(math.log10(positive.max() * 3.0))
        ax.bar([0, 1], np.where(ok, values, np.nan), color=colours, width=0.6)
        for i, v in enumerate(values):
            text = "–" if not ok[i] else (f"{v:,.0f}" if v >= 10 else f"{v:.2g}")
            ax.text(i, v if ok[i] else low, text, ha="center", va="bottom", fontsize=10)
        ax.set_yscale("log")
        ax.set_ylim(low, top)
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks([0, 1], ["this campaign", "exhaustive screen"])
        ax.set_ylabel(label)
        ax.spines[["top", "right"]].set_visible(False)
    ratio = accounting.ratio
    fig.suptitle(
        f"DFT cost: {ratio:,.0f}x fewer calculations than an exhaustive screen"
        if math.isfinite(ratio)
        else "DFT cost: no calculations run yet"
    )
    return _save(fig, path)


# ---- free-energy diagrams ------------------------------------------------------------


def free_energy_plot(diagrams: Sequence[Diagram], path: str | Path, *, ncols: int = 4) -> Path:
    """Step free-energy diagrams, one panel per (site, reaction) (:mod:`arsc.thermo.diagram`).

    Each panel draws the levels at U = 0, at the equilibrium potential and at
    the limiting potential U_L, the limiting step marked; one legend for the figure.
    """
    title = "Free-energy diagrams of the computed sites (DFT ΔG, CHE)"
    return write_diagrams(diagrams, path, ncols=ncols, title=title)
