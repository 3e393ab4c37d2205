"""What a campaign report shows, as plain tables: the input of the figures and the page.

The figures (:mod:`workflows.report.plots`) and the page
(:mod:`workflows.report.html`) read only a :class:`ReportData`, so they can be
tested on synthetic tables without a campaign; :mod:`workflows.report.adapter`
builds one from a campaign's persisted state.

Tables and their columns
------------------------
predictions
    One row per enumerated site, the latest ARSC prediction: ``site``,
    ``metal1``, ``metal2``, ``motif``, ``support``, ``symmetric`` (bool),
    ``mu`` and ``sigma`` (predicted objective and its standard deviation, in
    the objective's unit), ``phi`` (ARSC descriptor of the volcano's
    intermediate, dimensionless; NaN where unknown), ``pruned`` (bool).
dft
    One row per site computed by DFT: ``site``, ``round`` (int, the round
    whose batch computed it), ``objective`` (DFT value, objective's unit),
    ``pred_mu`` and ``pred_sigma`` (the ARSC prediction made before that
    batch), ``phi``.
dft_dg
    One row per (site, intermediate) computed: ``site``, ``intermediate``,
    ``dg`` (adsorption free energy, eV, CHE references).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from arsc.errors import ArscInputError

Sense = Literal["min", "max", "closest"]

PREDICTION_COLUMNS: tuple[str, ...] = (
    "site",
    "metal1",
    "metal2",
    "motif",
    "support",
    "symmetric",
    "mu",
    "sigma",
    "phi",
    "pruned",
)
DFT_COLUMNS: tuple[str, ...] = ("site", "round", "objective", "pred_mu", "pred_sigma", "phi")
DG_COLUMNS: tuple[str, ...] = ("site", "intermediate", "dg")


@dataclass(frozen=True)
class Objective:
    """What the campaign optimises.

    Attributes
    ----------
    label
        Axis label without unit, e.g. ``"η_ORR + η_OER"``.
    unit
        ``"V"`` or ``"eV"``.
    sense
        ``"min"``, ``"max"`` or ``"closest"`` (to ``target``).
    target
        The ideal value for ``"closest"``, in ``unit``.
    reaction
        Reaction name of ``arsc/data/reactions.yaml`` whose free-energy
        diagrams are drawn (``None``: no diagrams).
    """

    label: str
    unit: str
    sense: Sense = "min"
    target: float | None = None
    reaction: str | None = None

    @property
    def axis(self) -> str:
        """Axis label with the unit: ``"η_ORR + η_OER (V)"``."""
        return f"{self.label} ({self.unit})"

    def badness(self, values: np.ndarray | pd.Series) -> np.ndarray:
        """Distance from the best, for ranking: lower is better."""
        v = np.asarray(values, dtype=float)
        if self.sense == "min":
            return v
        if self.sense == "max":
            return -v
        return np.abs(v - (self.target or 0.0))


@dataclass(frozen=True)
class Funnel:
    """Candidate counts at each stage of the campaign.

    Attributes
    ----------
    enumerated
        Sites in the candidate space.
    pruned
        Sites pruned (could not beat the best within their uncertainty).
    computed
        Sites computed by DFT.
    confirmed
        Computed sites whose DFT value confirms the ARSC prediction that
        selected them (:func:`confirmed_mask`).
    """

    enumerated: int
    pruned: int
    computed: int
    confirmed: int

    def stages(self) -> list[tuple[str, int]]:
        """(label, count) per stage, widest first."""
        return [
            ("enumerated", self.enumerated),
            ("kept after pruning", self.enumerated - self.pruned),
            ("computed by DFT", self.computed),
            ("confirmed by DFT", self.confirmed),
        ]


@dataclass(frozen=True)
class Accounting:
    """DFT cost of the campaign against an exhaustive screen.

    Attributes
    ----------
    calculations
        DFT calculations the campaign ran.
    core_hours
        Core-hours they took (measured).
    exhaustive_calculations
        Calculations an exhaustive screen of the enumerated space needs with
        the campaign's own flow (its intermediates and binding modes, same
        calculations per site, gas references once).
    wall_time_s
        Wall time of the campaign's DFT steps, s (NaN: unknown).
    exhaustive_all
        Calculations of an exhaustive screen of every registered
        intermediate in every binding mode, one relaxation each
        (:func:`arsc.space.count_space`); None: not counted.
    confirmed
        Whether the stopping rule's test confirmed the best computed site as
        the optimum (:func:`workflows.campaign.outcome.resolution`); a saving
        is claimed only then.
    claim
        What the campaign may claim, one sentence
        (:func:`workflows.campaign.outcome.claim_text`): the saving of a
        confirmed optimum, else the stop reason, what is unresolved and "no
        saving claimed"; empty: not known (then no saving is claimed).
    protocol
        The protocol that produced the computed values and its measured
        success rate (:func:`workflows.protocols.protocol_line`);
        empty: not known.
    protocol_note
        Whether that protocol is the cheapest one measured at >= 90 %
        success (:func:`workflows.protocols.default_statement`); empty: not
        known or not applicable (replayed values).
    """

    calculations: int
    core_hours: float
    exhaustive_calculations: int
    wall_time_s: float = math.nan
    exhaustive_all: int | None = None
    confirmed: bool = False
    claim: str = ""
    protocol: str = ""
    protocol_note: str = ""

    @property
    def core_hours_per_calculation(self) -> float:
        """Measured mean cost of one calculation, core-hours (NaN with none run)."""
        return self.core_hours / self.calculations if self.calculations else math.nan

    @property
    def exhaustive_core_hours(self) -> float:
        """Exhaustive calculations times the measured per-calculation cost, core-hours."""
        return self.exhaustive_calculations * self.core_hours_per_calculation

    @property
    def ratio(self) -> float:
        """Exhaustive calculations per calculation run (how many times fewer)."""
        return self.exhaustive_calculations / self.calculations if self.calculations else math.nan

    @property
    def saved_fraction(self) -> float:
        """Fraction of the exhaustive calculations not run, 0..1."""
        if not self.exhaustive_calculations:
            return math.nan
        return 1.0 - self.calculations / self.exhaustive_calculations


@dataclass(frozen=True)
class ReportData:
    """Everything a report shows; see the module docstring for the table columns.

    Attributes
    ----------
    title
        Campaign name.
    objective
        What is optimised.
    predictions, dft, dft_dg
        The tables.
    funnel, accounting
        Counts and costs.
    metals
        Metal order of the heatmap axes.
    descriptor
        Name of the volcano's descriptor, e.g. ``"φ(*OH)"``.
    phi_opt
        Ideal descriptor value of that intermediate (NaN: not drawn).
    notes
        Extra lines for the page (stopping reason, settings).
    """

    title: str
    objective: Objective
    predictions: pd.DataFrame
    dft: pd.DataFrame
    dft_dg: pd.DataFrame
    funnel: Funnel
    accounting: Accounting
    metals: tuple[str, ...]
    descriptor: str = "φ"
    phi_opt: float = math.nan
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        for name, cols in (
            ("predictions", PREDICTION_COLUMNS),
            ("dft", DFT_COLUMNS),
            ("dft_dg", DG_COLUMNS),
        ):
            missing = [c for c in cols if c not in getattr(self, name).columns]
            if missing:
                raise ArscInputError(
                    f"report table {name!r} lacks columns {', '.join(missing)}; "
                    f"it needs: {', '.join(cols)}"
                )

    def best_computed(self) -> pd.DataFrame:
        """Return the DFT rows ordered best first."""
        order = np.argsort(self.objective.badness(self.dft["objective"]), kind="stable")
        return self.dft.iloc[order].reset_index(drop=True)

    def ranking(self) -> pd.DataFrame:
        """See :func:`ranking`."""
        return ranking(self.predictions, self.dft, self.objective)


def ranking(predictions: pd.DataFrame, dft: pd.DataFrame, objective: Objective) -> pd.DataFrame:
    """Rank every candidate, best first, in one order: the value that matters for each.

    A DFT-computed site counts with its DFT value, every other site with its
    latest ARSC predicted mean; all are sorted together by
    :meth:`Objective.badness` of that value (distance from the best, lower is
    better). On equal badness a computed site comes first, then by site;
    sites without a value come last. This is the campaign's own ranking rule
    (:func:`workflows.campaign.outcome.ranking`, ``CampaignState.ranking``).

    Returns
    -------
    pandas.DataFrame
        Columns ``site``, ``value`` (objective's unit), ``source`` (``"dft"``:
        ranked by its DFT value; ``"arsc"``: by its predicted mean).
    """
    done = dft.drop_duplicates("site", keep="last")
    rest = predictions[~predictions["site"].isin(done["site"])]
    frame = pd.concat(
        [
            pd.DataFrame({"site": done["site"], "value": done["objective"], "source": "dft"}),
            pd.DataFrame({"site": rest["site"], "value": rest["mu"], "source": "arsc"}),
        ],
        ignore_index=True,
    ).astype({"value": float})
    bad = objective.badness(frame["value"])
    site = frame["site"].to_numpy(str)
    order = np.lexsort((site, frame["source"].to_numpy(str) != "dft", bad, np.isnan(bad)))
    return frame.iloc[order].reset_index(drop=True)


#: Width of the bound within which DFT confirms a prediction, in predictive std.
CONFIRM_KAPPA = 2.0


def confirmed_mask(dft: pd.DataFrame, objective: Objective) -> np.ndarray:
    """Which DFT rows confirm the site: DFT no worse than the prediction's pessimistic bound.

    A computed site is confirmed when its DFT value is at least as good as the
    ARSC prediction made before its batch allowed for: badness(DFT) <=
    badness(mu) + :data:`CONFIRM_KAPPA` sigma (badness: distance from the best,
    :meth:`Objective.badness`). Rows without a prior prediction are not confirmed.
    """
    bound = objective.badness(dft["pred_mu"]) + CONFIRM_KAPPA * dft["pred_sigma"].to_numpy(float)
    with np.errstate(invalid="ignore"):
        return np.asarray(objective.badness(dft["objective"]) <= bound)
