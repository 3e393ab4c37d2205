"""Validation of ARSC against fresh DFT: the predictions made before each batch vs its DFT.

Per round, for the sites of its batch: MAE, Spearman rank correlation and
top-k retention (:func:`arsc.validate.metrics`) of every predicted dG and of
the objective quantity, the fraction within 2 predicted std, and a parity
plot (:func:`arsc.validate.parity_plot`). ``cumulative`` pools every site
computed so far, each with the prediction of the round that chose it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from arsc.validate import match, metrics, parity_plot
from workflows.campaign.state import (
    CampaignState,
    IntermediateValidation,
    Round,
    RoundValidation,
    SiteResult,
)

#: Folder of the parity plots in the campaign folder.
VALIDATION_DIR = "validation"


def _pairs(rnd: Round, results: list[SiteResult]) -> pd.DataFrame:
    """Long table: site, quantity ('dG_<X>' or 'value'), pred, pred_std, dft."""
    pred = rnd.predictions
    if pred is None or pred.space_filling:
        return pd.DataFrame(columns=["site", "quantity", "pred", "pred_std", "dft"])
    index = {s: i for i, s in enumerate(pred.sites)}
    rows = []
    for res in results:
        i = index.get(res.site)
        if i is None or res.status != "ok":
            continue
        for z in pred.intermediates:
            rows.append((res.site, f"dG_{z}", pred.dg[z][i], pred.dg_std[z][i], res.dg.get(z)))
        rows.append((res.site, "value", pred.value[i], pred.value_std[i], res.value))
    frame = pd.DataFrame(rows, columns=["site", "quantity", "pred", "pred_std", "dft"])
    return frame.astype({"pred": float, "pred_std": float, "dft": float})


def _metrics(rows: pd.DataFrame, k: int) -> IntermediateValidation:
    ok = rows.dropna(subset=["pred", "dft"])
    if ok.empty:
        return IntermediateValidation(n=0, mae=None, spearman=None)
    m = metrics(ok["pred"].to_numpy(float), ok["dft"].to_numpy(float), k=k, best="low")
    std = ok["pred_std"].to_numpy(float)
    err = np.abs(ok["pred"].to_numpy(float) - ok["dft"].to_numpy(float))
    known = np.isfinite(std)
    within = float(np.mean(err[known] <= 2 * std[known])) if known.any() else None
    return IntermediateValidation(
        n=m.n,
        mae=m.mae,
        spearman=m.spearman,
        topk_retained=m.topk_in_pred_topk,
        k=m.k,
        within_2sigma=within,
    )


def _by_quantity(frame: pd.DataFrame, k: int) -> dict[str, IntermediateValidation]:
    return {str(q): _metrics(rows, k) for q, rows in frame.groupby("quantity", sort=True)}


def write_parity(frame: pd.DataFrame, path: Path, title: str) -> Path | None:
    """Write the parity plot of a round's dG (one colour per intermediate); None if empty."""
    dg = frame[frame["quantity"].str.startswith("dG_")].dropna(subset=["pred", "dft"])
    if dg.empty:
        return None
    dg = dg.assign(intermediate=dg["quantity"].str.removeprefix("dG_"))
    pred = dg[["site", "intermediate"]].assign(prediction=dg["pred"])
    dft = dg[["site", "intermediate"]].assign(dft=dg["dft"])
    matched = match(pred, dft, on=["site", "intermediate"], value_pred="prediction")
    return parity_plot(matched, path, title=title)


def validate_round(
    state: CampaignState, index: int, folder: Path | None, k: int
) -> RoundValidation:
    """Validate round ``index``'s predictions against its batch's DFT.

    Parameters
    ----------
    state
        The campaign state (rounds up to ``index`` with their results).
    index
        Round number.
    folder
        Campaign folder: the parity plot goes to ``validation/round-NN.png``
        (None: no plot).
    k
        k of the top-k retention.
    """
    rnd = state.rounds[index]
    frame = _pairs(rnd, rnd.results)
    pooled = pd.concat([_pairs(r, r.results) for r in state.rounds[: index + 1]])
    plot = None
    if folder is not None:
        rel = Path(VALIDATION_DIR) / f"round-{index:02d}.png"
        title = f"round {index}: ARSC before the batch vs DFT, n = {frame['site'].nunique()}"
        written = write_parity(frame, folder / rel, title)
        plot = str(rel) if written is not None else None
    return RoundValidation(
        quantities=_by_quantity(frame, k),
        cumulative=_by_quantity(pooled, k),
        parity_plot=plot,
    )
