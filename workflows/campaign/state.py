"""The persisted state of a campaign: ``<campaign dir>/state.json``.

The state is the campaign's memory and its public record: the loop writes it
atomically (temporary file + rename) after every step, ``arsc campaign
resume`` continues from it, ``arsc campaign validate`` and ``arsc report``
read it. Nothing else is needed to understand a campaign: the definition,
every round's predictions, what was pruned and why, what was chosen, the DFT
that came back, the validation of the predictions against it, and the cost.

Layout of a campaign folder (paths in the state are relative to it)::

    campaign.yaml          the definition as given
    state.json             this document (STATE_FILE)
    candidates.csv         the enumerated space (arsc.structures.space_table)
    models/round-NN.json   the ARSC model used to score round NN
    store.sqlite, runs/    the embedded job store and job folders (local executor)
    validation/            parity plots (arsc campaign validate)

Schema version :data:`STATE_SCHEMA_VERSION`; fields are only ever added
(with defaults), never renamed, within a version.

Rounds and steps
----------------
Round r runs the steps of :data:`STEPS` in order; ``Round.step`` is the last
one completed. ``score`` (ARSC predictions for every candidate with the model
of ``Round.model``), ``prune``, ``select`` (the batch), ``compute`` (DFT on
the batch), ``ingest`` (energies rows, free energies and the objective from
DFT; validation of this round's predictions), ``refit`` (the model the next
round scores with; under a tuned protocol also the MLIP its states relax with,
``Round.tuning``), ``check`` (budget and stopping rule). ``Round.protocol``
records the protocol and MLIP weights (file, SHA-256) that produced the
batch's geometries.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from arsc.errors import ArscInputError
from arsc.jsonio import load_json, save_json
from workflows.campaign.definition import CampaignDefinition
from workflows.tuning import TunedWeights, WeightsRecord

#: Version of the state layout; a file of another version is refused.
STATE_SCHEMA_VERSION: Literal[1] = 1
#: File name of the state in the campaign folder.
STATE_FILE = "state.json"
#: Steps of a round, in order.
STEPS: tuple[str, ...] = ("score", "prune", "select", "compute", "ingest", "refit", "check")

Step = Literal["start", "score", "prune", "select", "compute", "ingest", "refit", "check"]
Status = Literal["running", "finished", "failed"]
Number = float | None


def now() -> str:
    """Return the current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _num(value: Any) -> Number:
    """Return a float for the state (None for NaN/inf, which JSON cannot hold)."""
    if value is None:
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def nums(values: Any) -> list[Number]:
    """Return a list of floats for the state (None for NaN/inf)."""
    return [_num(v) for v in values]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SpaceSummary(_Doc):
    """The enumerated candidate space."""

    sites: int = Field(description="Candidate sites, count")
    structures: int = Field(
        description="Bare sites plus site-intermediate-mode structures an exhaustive screen of "
        "the objective's intermediates (in the campaign's binding modes) needs, count"
    )
    calculations_per_site: list[int] = Field(
        description="DFT calculations each candidate costs in this campaign's flow, count "
        "(candidate order), gas references excluded"
    )
    gas_calculations: int = Field(
        description="DFT calculations of the gas reference molecules (once per campaign), count"
    )
    exhaustive_calculations: int = Field(
        description="DFT calculations an exhaustive screen of every candidate needs "
        "(sum of calculations_per_site + gas_calculations), count"
    )
    candidates_file: str = Field(
        default="candidates.csv",
        description="Site table of every candidate (arsc.structures.space_table)",
    )


class Predictions(_Doc):
    """ARSC predictions for every candidate (column lists in candidate order).

    ``value`` is the objective quantity (V or eV), ``score`` the objective's
    lower-is-better score (arsc.select.Objective.score_dist), both with their
    standard deviations; None where undefined.
    """

    sites: list[str] = Field(description="Candidate site ids, candidate order")
    intermediates: list[str] = Field(description="Intermediates predicted")
    dg: dict[str, list[Number]] = Field(description="Intermediate -> predicted dG, eV")
    dg_std: dict[str, list[Number]] = Field(description="Intermediate -> predictive std of dG, eV")
    phi: dict[str, list[Number]] = Field(
        default_factory=dict, description="Intermediate -> ARSC descriptor phi, dimensionless"
    )
    phi_opt: dict[str, Number] = Field(
        default_factory=dict,
        description="Intermediate -> phi_opt of the objective's reaction, dimensionless",
    )
    value: list[Number] = Field(
        description="Objective quantity at the predicted dG (V for potentials, eV for dG)"
    )
    value_std: list[Number] = Field(
        description="Std of the objective quantity from Monte Carlo samples of dG (same unit)"
    )
    score: list[Number] = Field(description="Objective score, lower is better (unit of value)")
    score_std: list[Number] = Field(description="Std of the score (unit of value)")
    space_filling: bool = Field(
        default=False,
        description="True when no model could score (no prior): values are None and the "
        "batch was chosen space-filling",
    )

    def frame(self) -> pd.DataFrame:
        """Return one row per candidate: site, dG_<X>(_std), phi_<X>, value(_std), score(_std)."""
        cols: dict[str, Any] = {"site": self.sites}
        for z in self.intermediates:
            cols[f"dG_{z}"] = self.dg[z]
            cols[f"dG_{z}_std"] = self.dg_std[z]
            if z in self.phi:
                cols[f"phi_{z}"] = self.phi[z]
        cols.update(
            value=self.value, value_std=self.value_std, score=self.score, score_std=self.score_std
        )
        return pd.DataFrame(cols).astype({c: float for c in cols if c != "site"})


class Pruned(_Doc):
    """A candidate the round's pruning dropped."""

    site: str = Field(description="Site id")
    reason: str = Field(description="Why it was pruned (from arsc.select.prune), one line")


class Selection(_Doc):
    """The batch chosen in a round."""

    strategy: str = Field(description="Acquisition strategy used (arsc.select.STRATEGIES)")
    sites: list[str] = Field(description="Sites of the batch, in the order chosen")
    predicted_score: list[Number] = Field(description="Their predicted scores (unit of value)")
    predicted_score_std: list[Number] = Field(description="Their score stds (unit of value)")
    space_filling: bool = Field(
        default=False, description="Chosen space-filling (no model) rather than by the strategy"
    )


class CalcCost(_Doc):
    """One DFT calculation run (or reused) for the campaign."""

    fingerprint: str = Field(description="Calculation fingerprint (sha256)")
    site: str = Field(description="Site id, or 'gas' for a reference molecule")
    adsorbate: str = Field(description="Intermediate, 'bare', or the molecule for gas")
    mode: str = Field(default="", description="Binding mode, '' for bare and gas")
    engine: str = Field(description="Engine that computed it (gpaw, vasp, mlip, replay)")
    task: str = Field(description="relax or static")
    status: str = Field(description="ok or failed")
    wall_time_s: Number = Field(description="Wall-clock time of the calculation, s")
    cores: int = Field(description="Cores it occupied, count")
    core_hours: Number = Field(description="wall_time_s * cores / 3600, core-hours")
    new: bool = Field(
        description="True: computed for this campaign; False: found finished in the store "
        "(fingerprint cache), not counted against the budget"
    )
    dft: bool = Field(
        default=True,
        description="True: a DFT step (counted against the budget); False: an MLIP "
        "(pre-)relaxation",
    )


class SiteResult(_Doc):
    """What DFT said about one site of a batch."""

    site: str = Field(description="Site id")
    status: Literal["ok", "failed"] = Field(
        description="ok: the objective could be computed from DFT; failed: it could not"
    )
    reason: str = Field(
        default="", description="Why failed, or which calculations are inconsistent"
    )
    dg: dict[str, Number] = Field(
        description="Intermediate -> DFT adsorption free energy (lowest mode), eV"
    )
    value: Number = Field(description="Objective quantity from DFT (V or eV)")
    score: Number = Field(description="Objective score from DFT, lower is better")
    energies: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Energies-table rows of the site (arsc.ingest.table.EnergyRow fields; "
        "e0 and f in eV)",
    )
    site_doc: dict[str, Any] | None = Field(
        default=None, description="The flow's SiteDoc (workflows.schemas.SiteDoc) as a dict, if any"
    )
    fingerprints: list[str] = Field(
        default_factory=list, description="Fingerprints of the site's calculations"
    )


class IntermediateValidation(_Doc):
    """Predicted (before the batch) vs DFT (after) for one quantity over the batch."""

    n: int = Field(description="Sites with both values, count")
    mae: Number = Field(description="Mean absolute error, unit of the quantity (eV or V)")
    spearman: Number = Field(description="Spearman rank correlation, dimensionless")
    topk_retained: int | None = Field(
        default=None,
        description="Of the k best by DFT, how many were in the k best predicted, count",
    )
    k: int | None = Field(default=None, description="k of topk_retained, count")
    within_2sigma: Number = Field(
        default=None, description="Fraction with |pred - DFT| <= 2 std, dimensionless"
    )


class RoundValidation(_Doc):
    """Validation of a round's predictions against the DFT of its batch."""

    quantities: dict[str, IntermediateValidation] = Field(
        description="'dG_<X>' per intermediate and 'value' (the objective) -> metrics"
    )
    cumulative: dict[str, IntermediateValidation] = Field(
        default_factory=dict,
        description="The same over every site computed so far, each with the prediction of "
        "the round that chose it",
    )
    parity_plot: str | None = Field(default=None, description="Parity plot PNG, relative path")


class RefitInfo(_Doc):
    """The model the refit step made (used by the next round)."""

    kind: Literal["prior", "offset", "full", "none", "failed"] = Field(
        description="prior: unchanged prior; offset: prior shifted per intermediate; full: "
        "arsc.model.fit_model on the DFT rows; none: no model; failed: kept the previous"
    )
    model: str | None = Field(description="Model file written, relative path")
    rows: int = Field(description="DFT rows (site x intermediate) it learned from, count")
    offsets: dict[str, float] = Field(
        default_factory=dict, description="Intermediate -> shift added to the prior's dG, eV"
    )
    message: str = Field(default="", description="What happened, one line")


class MlipTuning(_Doc):
    """The MLIP refit on the campaign's DFT frames after a round's DFT (tuned protocol).

    The next round relaxes with it (:class:`RoundProtocol`); None in
    ``tuned`` when there were too few DAC-site frames for a refit.
    """

    tuned: TunedWeights | None = Field(
        default=None,
        description="The tuned model (weights file, SHA-256 hex, frames count, held-out "
        "force MAE before/after in eV/A, reused when the frames were unchanged); None: no refit",
    )
    message: str = Field(default="", description="What happened, one line")


class RoundProtocol(_Doc):
    """Which protocol ran a round's batch and which MLIP weights produced its geometries."""

    requested: str = Field(description="Protocol of the definition (DftSpec.protocol_name)")
    name: str = Field(
        description="Protocol that ran: the requested one, or a tuned protocol's untuned "
        "twin before its first refit (sp-tuned -> sp)"
    )
    weights: WeightsRecord | None = Field(
        default=None,
        description="MLIP weights that relaxed every state of the batch (model, file, SHA-256 "
        "hex), as in every job's metadata; None: no MLIP relaxed",
    )
    tuning: TunedWeights | None = Field(
        default=None,
        description="The refit the weights come from (previous round's MlipTuning); None: "
        "packaged weights",
    )

    @property
    def line(self) -> str:
        """Return ``sp-tuned (weights 1a2b3c4d)``, ``sp (no frames yet)`` or ``sp``."""
        if self.tuning is not None:
            return f"{self.name} (weights {self.tuning.sha256[:8]})"
        if self.name != self.requested:
            return f"{self.name} (no frames yet)"
        return self.name


class RoundAccounting(_Doc):
    """Cost of one round."""

    calculations: list[CalcCost] = Field(
        default_factory=list, description="Every calculation of the batch's sites and gas"
    )
    dft_calculations: int = Field(default=0, description="New DFT calculations (counted), count")
    reused_calculations: int = Field(default=0, description="Calculations found finished, count")
    wall_time_s: float = Field(default=0.0, description="Wall time of the compute step, s")
    core_hours: float = Field(default=0.0, description="Core-hours of the new DFT calculations")


class Round(_Doc):
    """One round of the loop."""

    index: int = Field(description="Round number, from 0")
    step: Step = Field(default="start", description="Last step completed (see STEPS)")
    started: str = Field(default_factory=now, description="Start time, ISO 8601 UTC")
    step_times: dict[str, str] = Field(
        default_factory=dict, description="Step -> completion time, ISO 8601 UTC"
    )
    model: str | None = Field(
        default=None,
        description="ARSC model file that scored this round (relative path); None: none",
    )
    model_kind: str = Field(default="none", description="prior, offset, full or none")
    predictions: Predictions | None = Field(default=None, description="Scores of every candidate")
    best_score: Number = Field(
        default=None,
        description="Best DFT score before this round (lower is better); None: no DFT yet",
    )
    kept: int | None = Field(default=None, description="Candidates kept by pruning, count")
    pruned: list[Pruned] = Field(default_factory=list, description="Candidates pruned, with why")
    selection: Selection | None = Field(default=None, description="The batch")
    results: list[SiteResult] = Field(default_factory=list, description="DFT of the batch")
    validation: RoundValidation | None = Field(default=None, description="Predictions vs DFT")
    refit: RefitInfo | None = Field(default=None, description="The model for the next round")
    accounting: RoundAccounting = Field(
        default_factory=lambda: RoundAccounting(), description="Cost of the round"
    )
    protocol: RoundProtocol | None = Field(
        default=None,
        description="Protocol and MLIP weights the batch ran with; None: no batch run yet, a "
        "replayed table, or a state written before rounds recorded it",
    )
    tuning: MlipTuning | None = Field(
        default=None,
        description="MLIP refit for the next round (tuned protocol); None: protocol not tuned",
    )
    stop: str | None = Field(default=None, description="Why the campaign stopped after this round")


class RankedCandidate(_Doc):
    """One line of the campaign's ranking."""

    rank: int = Field(description="1 = best")
    site: str = Field(description="Site id")
    source: Literal["dft", "arsc"] = Field(
        description="dft: the value is DFT-confirmed; arsc: predicted by the last model"
    )
    value: Number = Field(description="Objective quantity (V or eV)")
    value_std: Number = Field(default=None, description="Its std (0 for DFT; unit of value)")
    score: Number = Field(description="Objective score, lower is better")
    round: int | None = Field(default=None, description="Round whose batch computed it (dft rows)")


class Accounting(_Doc):
    """What the campaign spent, and what an exhaustive screen would have."""

    dft_calculations: int = Field(default=0, description="DFT calculations run, count")
    reused_calculations: int = Field(default=0, description="Calculations found finished, count")
    core_hours: float = Field(default=0.0, description="Core-hours of the DFT calculations run")
    wall_time_s: float = Field(default=0.0, description="Wall time of all compute steps, s")
    core_hours_per_calculation: Number = Field(
        default=None, description="Measured mean core-hours per DFT calculation (None before any)"
    )
    exhaustive_calculations: int = Field(
        default=0, description="DFT calculations an exhaustive screen needs, count"
    )
    exhaustive_core_hours: Number = Field(
        default=None, description="exhaustive_calculations x core_hours_per_calculation, core-hours"
    )
    saved_fraction: Number = Field(
        default=None, description="1 - dft_calculations / exhaustive_calculations, dimensionless"
    )
    ratio: Number = Field(
        default=None, description="exhaustive_calculations / dft_calculations, dimensionless"
    )


class CampaignState(_Doc):
    """The whole persisted campaign (``state.json``)."""

    schema_version: Literal[1] = Field(
        default=STATE_SCHEMA_VERSION, description="State layout version"
    )
    arsc_version: str = Field(description="arsc version that wrote the file")
    definition: CampaignDefinition = Field(description="The campaign definition")
    definition_sha256: str = Field(description="Hash of the definition (CampaignDefinition.sha256)")
    created: str = Field(default_factory=now, description="Creation time, ISO 8601 UTC")
    updated: str = Field(default_factory=now, description="Last write, ISO 8601 UTC")
    status: Status = Field(default="running", description="running, finished or failed")
    stop_reason: str = Field(default="", description="Why the campaign stopped, one line")
    error: str = Field(default="", description="Last error, one line (status failed)")
    space: SpaceSummary | None = Field(default=None, description="The enumerated space")
    rounds: list[Round] = Field(default_factory=list, description="Rounds so far")
    accounting: Accounting = Field(default_factory=lambda: Accounting(), description="Totals")
    ranking: list[RankedCandidate] = Field(
        default_factory=list,
        description="Final ranking (DFT-confirmed first by score, then ARSC predictions)",
    )
    final_predictions: Predictions | None = Field(
        default=None,
        description="Predictions of the final model (after the last refit) for every "
        "candidate; the ranking's ARSC values and the report's 'predicted now'",
    )

    # ---- convenience ---------------------------------------------------------------
    @property
    def current(self) -> Round | None:
        """The last round, or None."""
        return self.rounds[-1] if self.rounds else None

    def results(self) -> list[tuple[int, SiteResult]]:
        """Every DFT site result so far, with its round."""
        return [(r.index, s) for r in self.rounds for s in r.results]

    def computed_sites(self) -> set[str]:
        """Sites with DFT results."""
        return {s.site for _, s in self.results()}


def state_path(folder: str | Path) -> Path:
    """Path of the state file of a campaign folder."""
    return Path(folder) / STATE_FILE


def save_state(state: CampaignState, folder: str | Path) -> Path:
    """Write the state atomically (temporary file, fsync, rename).

    A reader (or a process killed mid-write) sees the old or the new state,
    never part of one.

    Raises
    ------
    ArscInputError
        One line when the folder cannot be written.
    """
    path = state_path(folder)
    state.updated = now()
    return save_json(path, state, newline=False)


def load_state(folder: str | Path) -> CampaignState:
    """Read the state of a campaign folder.

    Raises
    ------
    ArscInputError
        One line: no state file, not JSON, no or another schema version, or malformed.
    """
    path = state_path(folder)
    if not path.is_file():
        raise ArscInputError(
            f"no campaign in {str(folder)!r}: {STATE_FILE} not found; "
            "start one with `arsc campaign run FILE`"
        )
    return load_json(path, CampaignState, what="campaign state")
