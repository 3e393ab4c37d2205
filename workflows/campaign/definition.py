"""The campaign definition: one YAML file says what to screen, how, and when to stop.

Every field is documented below (and printed by ``arsc campaign validate
--schema``-style tools through the pydantic JSON schema). Unknown keys are
refused (``extra="forbid"``); a malformed file, an unknown key or a bad value
raises :class:`arsc.errors.ArscInputError` with one line naming the file and
every bad key (``key: problem; key: problem``). Every number must be finite
and lie in a documented range (the state file, JSON, cannot hold NaN or
infinities). What the schema cannot see (names of the packages' tables, the
replay table's columns, the candidate space) is checked by
:func:`workflows.campaign.checks.check_definition` before a campaign folder is
created. Packaged examples: ``workflows/data/campaigns/*.yaml``
(:func:`packaged_campaigns`).

Example
-------
.. code-block:: yaml

    name: orr-oer-3d
    space: {metals: [Fe, Co, Ni], motifs: [qv-n6]}
    objective: {reaction: bifunctional, quantity: overpotential, goal: min}
    dft: {executor: local, engine: gpaw, preset: fast, relax: mlip, modes: [top1]}
    acquisition: {strategy: ucb, batch: 1, prune_recall: 0.95}
    budget: {dft_calculations: 12}
"""

from __future__ import annotations

import hashlib
import json
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_serializer,
    model_validator,
)

from arsc.errors import ArscInputError, unknown
from arsc.model.terms import DEFAULT_VARIANT
from arsc.select import DEFAULT_PRUNE_RECALL, kappa_for_recall
from arsc.yamlio import read_yaml, validate
from workflows.flow_options import EngineName, FlowOptions, MinImage, ProtocolName, option_field

#: Quantities an objective can rank by (see :class:`ObjectiveSpec`).
QUANTITIES: tuple[str, ...] = ("overpotential", "limiting_potential", "dg", "selectivity")
#: Executors: how a batch of sites gets its DFT (see :mod:`workflows.campaign.backends`).
EXECUTORS: tuple[str, ...] = ("local", "fireworks", "replay")
#: Engines whose numbers stand in for DFT without being DFT (universal potentials).
NOT_DFT_ENGINES: tuple[str, ...] = ("mlip",)


#: Sane upper bounds of counts (memory and time), shared by several fields.
MAX_SITES_PER_BATCH = 10_000
MAX_ROUNDS = 10_000
MAX_CALCULATIONS = 10_000_000
#: Widest bound (pruning, stopping, UCB), standard deviations.
MAX_KAPPA = 100.0


class _Strict(BaseModel):
    # NaN and infinities are refused everywhere: the state file (JSON) cannot hold them
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class SpaceSpec(_Strict):
    """The candidate space: every site :func:`arsc.space.enumerate_sites` makes from these."""

    metals: list[str] | None = Field(
        default=None,
        description="Metal symbols; None: the authors' 20 (arsc.elements.AUTHORS_METALS)",
    )
    motifs: list[str] | None = Field(
        default=None, description="Motif names of arsc/data/motifs.yaml; None: every motif"
    )
    supports: list[str] | None = Field(
        default=None, description="Support names of arsc/data/supports.yaml; None: every support"
    )
    elements: Literal["default", "authors"] = Field(
        default="default", description="Element property table the metals must be in"
    )
    sites: list[str] | None = Field(
        default=None,
        description="Explicit site ids (M1-M2_motif_support); when given, replaces the "
        "metals x motifs x supports enumeration",
    )


class ObjectiveSpec(_Strict):
    """What a candidate is ranked by: a quantity of one reaction, and which way is best.

    Quantities (computed by :mod:`arsc.thermo` from the adsorption free energies,
    predicted by ARSC before DFT and computed from DFT after):

    ``overpotential``
        thermodynamic overpotential of ``reaction``, V (for ``bifunctional``:
        eta_ORR + eta_OER); with ``product`` set, a site whose predicted or
        computed path does not reach that product scores ``product_penalty``;
    ``limiting_potential``
        U_L of ``reaction``, V vs RHE;
    ``dg``
        adsorption free energy of ``intermediate``, eV;
    ``selectivity``
        for competition ``competition`` of ``reaction`` (e.g. ``nrr_vs_her``),
        the step free energy of its first label minus that of its second, eV
        (negative: the first wins).
    """

    reaction: str = Field(
        default="bifunctional",
        description="Reaction name of arsc/data/reactions.yaml (orr, oer, ...)",
    )
    quantity: str = Field(default="overpotential", description=f"One of {', '.join(QUANTITIES)}")
    goal: str = Field(
        default="min",
        description="min, max or closest:VALUE (units of the quantity); "
        "parsed by arsc.select.Objective",
    )
    intermediate: str | None = Field(default=None, description="Intermediate of quantity dg")
    competition: str | None = Field(
        default=None, description="Selectivity competition of quantity selectivity (reactions.yaml)"
    )
    product: str | None = Field(
        default=None, description="Product the network path must reach (overpotential of crr/nrr)"
    )
    product_penalty: float = Field(
        default=2.0,
        ge=-100.0,
        le=100.0,
        description="Value given to a site whose path reaches another product, units of the "
        "quantity (V); large enough to rank it last among active sites",
    )

    @field_validator("quantity")
    @classmethod
    def _known_quantity(cls, value: str) -> str:
        if value not in QUANTITIES:
            raise unknown("objective quantity", value, QUANTITIES)
        return value

    @model_validator(mode="after")
    def _needs(self) -> ObjectiveSpec:
        if self.quantity == "dg" and not self.intermediate:
            raise ValueError("quantity dg needs objective.intermediate")
        if self.quantity == "selectivity" and not self.competition:
            raise ValueError("quantity selectivity needs objective.competition")
        return self


class ModelSpec(_Strict):
    """The ARSC model that scores candidates, where it starts and how it learns."""

    prior: str | None = Field(
        default="prior-sac-hoer",
        description="Model used before any DFT: a packaged prior name (arsc/data/models/) "
        "or a model file path; None: no prior, the first batch is space-filling",
    )
    refit: Literal["auto", "offset", "full", "none"] = Field(
        default="auto",
        description="How DFT updates the model: offset (prior shape, per-intermediate shift "
        "and residual std from the campaign's DFT), full (arsc.model.fit_model on the "
        "campaign's DFT rows), auto (offset until full_refit_rows DFT rows per "
        "intermediate, then full), none",
    )
    full_refit_rows: int = Field(
        default=12,
        ge=4,
        le=100_000,
        description="DFT rows per intermediate from which auto refits fully, count",
    )
    ensemble: int = Field(
        default=10, ge=0, le=1000, description="Bootstrap members of a full refit, count"
    )
    variant: str = Field(
        default=DEFAULT_VARIANT, description="Model variant of a full refit (arsc.model)"
    )
    formula: str | None = Field(
        default=None,
        description="A-term formula of a full refit; None: the prior's, else the default",
    )
    samples: int = Field(
        default=64,
        ge=8,
        le=4096,
        description="Monte Carlo samples of the predicted dG per candidate used to propagate "
        "the model's uncertainty to the objective quantity, count",
    )


class FireworksSpec(_Strict):
    """Settings of the FireWorks + SLURM executor."""

    launchpad: str = Field(
        default="launchpad.yaml", description="LaunchPad YAML file (FireWorks format)"
    )
    qadapter: str | None = Field(
        default=None,
        description="Queue settings YAML (workflows.executors.queue); None: the packaged "
        "SLURM settings",
    )
    workers: int = Field(
        default=0,
        ge=0,
        le=MAX_SITES_PER_BATCH,
        description="Most worker jobs queued per batch, count; 0: one per site of the batch",
    )
    poll_seconds: float = Field(
        default=2.0, gt=0, le=3600.0, description="Seconds between LaunchPad polls, s"
    )
    timeout_seconds: float = Field(
        default=86400.0, gt=0, le=30 * 86400.0, description="Most seconds to wait for a batch, s"
    )


class ReplaySpec(_Strict):
    """Settings of the replay executor (answers from a table of precomputed results)."""

    table: str = Field(
        description="CSV with a site column (id or site) and dG_<X> columns (eV) for the "
        "intermediates; relative paths are relative to the campaign file"
    )
    seconds_per_calculation: float = Field(
        default=0.0,
        ge=0,
        le=1e7,
        description="Wall time booked per replayed calculation, s (accounting only)",
    )
    delay_seconds: float = Field(
        default=0.0,
        ge=0,
        le=3600.0,
        description="Real seconds to wait per site answered, imitating a slow engine (demos, "
        "kill-and-resume tests), s",
    )


class DftSpec(_Strict):
    """How the DFT of a batch is computed.

    ``engine``, ``preset``, ``prerelax_engine``, ``modes``, ``min_image``,
    ``corrections`` and ``protocol`` are the flow options of the same names
    (:class:`workflows.flow_options.FlowOptions`: defaults, descriptions,
    engine and protocol names and the min_image range); the modes and the
    corrections table are checked with the rest of the definition
    (:func:`workflows.campaign.checks.check_definition`).
    :meth:`flow_options` gives a batch's FlowOptions.

    ``protocol`` (:mod:`workflows.protocols`) and ``relax`` say the same
    thing at two levels of detail: a file that names a protocol gets the
    ``relax`` it implies (``sp``, ``sp-tuned``: mlip; ``full``, ``relax-<n>``:
    dft) and may not contradict it; a file without one keeps ``relax``, whose
    protocol is :attr:`protocol_name` (``dft``: full, ``mlip``: sp). A
    definition without ``protocol`` dumps (and hashes) as before the key existed.
    """

    executor: str = Field(default="local", description=f"One of {', '.join(EXECUTORS)}")
    engine: EngineName = option_field("engine")
    preset: str | None = option_field("preset")
    relax: Literal["mlip", "dft"] = Field(
        default="dft",
        description="mlip: MLIP relaxation then one DFT single point per state (cheap); "
        "dft: MLIP pre-relaxation, DFT relaxation, DFT single point",
    )
    protocol: ProtocolName | None = Field(
        default=None,
        description="Protocol of every state (full, sp, sp-tuned, relax-<n>; "
        "arsc/data/protocols.yaml); None: the one of relax (dft: full, mlip: sp)",
    )
    prerelax_engine: EngineName = option_field(
        "prerelax_engine", "with relax: mlip, the engine of the relaxation"
    )
    modes: list[str] | None = option_field("modes")
    min_image: MinImage = option_field("min_image")
    corrections: str = option_field("corrections", "relative to the campaign file")
    workers: int = Field(
        default=1,
        ge=1,
        le=256,
        description="Local executor: sites computed side by side in separate processes, "
        "count (one core each with cores_per_calculation 1)",
    )
    cores_per_calculation: int = Field(
        default=1,
        ge=1,
        le=100_000,
        description="Cores one calculation occupies, count (for core-hours)",
    )
    fireworks: FireworksSpec = Field(
        default_factory=lambda: FireworksSpec(), description="FireWorks executor settings"
    )
    replay: ReplaySpec | None = Field(default=None, description="Replay executor settings")

    @property
    def is_dft(self) -> bool:
        """False when an MLIP engine computes the values (a replay table counts as DFT)."""
        return self.executor == "replay" or self.engine not in NOT_DFT_ENGINES

    @property
    def source(self) -> str:
        """Where a computed value came from: ``computed (gpaw fast)``, ``replayed (table)``."""
        if self.executor == "replay":
            return "replayed (table)"
        return (
            f"computed ({self.engine} {self.preset})"
            if self.preset
            else f"computed ({self.engine})"
        )

    @property
    def protocol_name(self) -> str:
        """Return the protocol of the batches: ``protocol``, else the one of ``relax``."""
        from workflows.protocols import campaign_protocol

        return self.protocol or campaign_protocol(self.relax)

    def flow_options(self, reaction: str, weights: str | None = None) -> FlowOptions:
        """Return the flow's options of a batch that computes ``reaction``.

        ``relax: mlip`` has no pre-relaxation (``prerelax`` false): the
        protocol (``sp``) relaxes with ``prerelax_engine``.

        Parameters
        ----------
        reaction
            The reaction of the batch.
        weights
            MLIP weights tuned on the campaign's frames so far
            (:func:`workflows.tuning.tune_between_rounds`), for a tuned
            protocol. A tuned protocol before its first refit (None) runs,
            and is recorded, as its untuned twin (``sp-tuned`` -> ``sp``).

        Raises
        ------
        ArscInputError
            Unknown reaction or binding mode, in one line.
        """
        from workflows.protocols import get_protocol

        data = self.model_dump(include=set(FlowOptions.model_fields))
        protocol = get_protocol(self.protocol_name)
        name = protocol.name
        if protocol.tuned and weights is None and protocol.untuned:
            name = protocol.untuned
        data.update(reactions=[reaction], prerelax=self.relax == "dft", protocol=name)
        if protocol.tuned and weights is not None:
            data["prerelax_weights"] = str(weights)
        return FlowOptions.validated(data, "dft")

    @model_validator(mode="before")
    @classmethod
    def _relax_of_protocol(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("protocol") is None:
            return data
        from workflows.protocols import get_protocol

        try:
            kind = get_protocol(data["protocol"]).relax
        except ArscInputError:
            return data  # the field's own check names the protocol
        given = data.get("relax")
        if given is not None and given != kind:
            raise ValueError(
                f"protocol {data['protocol']} relaxes with {kind}, but relax is {given}; "
                f"drop relax or set it to {kind}"
            )
        return {**data, "relax": kind}

    @model_serializer(mode="wrap")
    def _without_unset_protocol(self, handler: Any) -> Any:
        # a definition without protocol dumps (and hashes: CampaignDefinition.sha256) as
        # before the key existed, so that campaigns started then still resume
        out = handler(self)
        if isinstance(out, dict) and out.get("protocol", "") is None:
            out.pop("protocol")
        return out

    @field_validator("executor")
    @classmethod
    def _known_executor(cls, value: str) -> str:
        if value not in EXECUTORS:
            raise unknown("executor", value, EXECUTORS)
        return value

    @model_validator(mode="after")
    def _replay_table(self) -> DftSpec:
        if self.executor == "replay" and self.replay is None:
            raise ValueError("executor replay needs dft.replay.table")
        return self


class AcquisitionSpec(_Strict):
    """How each batch is chosen (arsc.select)."""

    strategy: str = Field(
        default="ucb", description="Acquisition strategy: greedy, ucb, ei, thompson or random"
    )
    batch: int = Field(
        default=2, ge=1, le=MAX_SITES_PER_BATCH, description="Sites per batch, count"
    )
    initial: int | None = Field(
        default=None,
        ge=1,
        le=MAX_SITES_PER_BATCH,
        description="Sites of the first batch, count; None: batch. Without a prior model the "
        "first batch is space-filling (farthest-point in descriptor space)",
    )
    prune_recall: float = Field(
        default=DEFAULT_PRUNE_RECALL,
        ge=0.5,
        lt=1.0,
        description="Target recall of pruning: a candidate is kept while its optimistic bound "
        "mu - kappa sigma can still beat the best DFT score, with kappa = Phi^-1(recall), so "
        "a truly better candidate survives with at least this probability when the "
        "(conformally calibrated) uncertainty holds",
    )
    prune_kappa: float | None = Field(
        default=None,
        ge=0,
        le=MAX_KAPPA,
        description="Pruning width in std units; overrides prune_recall when given",
    )
    ucb_kappa: float = Field(
        default=2.0,
        ge=0,
        le=MAX_KAPPA,
        description="Exploration weight of the ucb strategy, std units",
    )

    @property
    def pruning_kappa(self) -> float:
        """Width of the pruning bound, std units (prune_kappa, else from prune_recall)."""
        if self.prune_kappa is not None:
            return self.prune_kappa
        return kappa_for_recall(self.prune_recall)

    seed: int = Field(
        default=0,
        ge=0,
        le=2**63 - 1,
        description="Seed of every random choice of the campaign (a non-negative integer)",
    )


class BudgetSpec(_Strict):
    """When to stop at the latest."""

    dft_calculations: int = Field(
        default=12,
        ge=1,
        le=MAX_CALCULATIONS,
        description="DFT calculations the campaign may run (gas references included)",
    )
    rounds: int = Field(default=20, ge=1, le=MAX_ROUNDS, description="Most rounds (batches), count")


class StoppingSpec(_Strict):
    """The stopping rule besides the budget."""

    rule: Literal["confirmed-lead", "budget"] = Field(
        default="confirmed-lead",
        description="confirmed-lead: stop when the best DFT-confirmed candidate beats every "
        "other candidate's optimistic bound (mu - kappa sigma, scores lower-is-better); "
        "budget: run until the budget is spent",
    )
    kappa: float = Field(
        default=2.0, ge=0, le=MAX_KAPPA, description="Width of the optimistic bound, std units"
    )
    min_rounds: int = Field(
        default=1, ge=1, le=MAX_ROUNDS, description="Rounds before the rule may stop, count"
    )


class ReportSpec(_Strict):
    """What the end of the campaign prints."""

    top: int = Field(
        default=5, ge=1, le=MAX_SITES_PER_BATCH, description="Candidates printed at the end, count"
    )
    validate_k: int = Field(
        default=3, ge=1, le=1000, description="k of the top-k retention in validation"
    )


class CampaignDefinition(_Strict):
    """A screening campaign (the YAML file, see the module docstring)."""

    name: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"\S",
        description="Campaign name (used in messages, the report and the default folder)",
    )
    description: str = Field(default="", description="What the campaign is for, free text")
    space: SpaceSpec = Field(default_factory=lambda: SpaceSpec(), description="Candidate space")
    objective: ObjectiveSpec = Field(
        default_factory=lambda: ObjectiveSpec(), description="What is optimised"
    )
    model: ModelSpec = Field(default_factory=lambda: ModelSpec(), description="The ARSC model")
    dft: DftSpec = Field(default_factory=lambda: DftSpec(), description="How DFT is computed")
    acquisition: AcquisitionSpec = Field(
        default_factory=lambda: AcquisitionSpec(), description="Batch selection"
    )
    budget: BudgetSpec = Field(default_factory=lambda: BudgetSpec(), description="DFT budget")
    stopping: StoppingSpec = Field(
        default_factory=lambda: StoppingSpec(), description="Stopping rule"
    )
    report: ReportSpec = Field(
        default_factory=lambda: ReportSpec(), description="End-of-run printout"
    )

    def sha256(self) -> str:
        """Hash of the canonical JSON of the definition (changes with any field)."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()


def parse_definition(data: Any, source: str) -> CampaignDefinition:
    """Validate parsed YAML as a campaign definition; every problem in one line.

    Raises
    ------
    ArscInputError
        ``source: key: problem; key: problem`` (all of them).
    """
    return validate(CampaignDefinition, data, source)


def with_overrides(
    definition: CampaignDefinition,
    source: str = "the command line",
    unset: tuple[str, ...] = (),
    **dotted: object,
) -> CampaignDefinition:
    """Return the definition with fields replaced and validated again.

    Parameters
    ----------
    definition
        The definition.
    source
        Where the values come from, for the message.
    unset
        ``section__field`` keys set to None.
    **dotted
        ``section__field=value`` (e.g. ``budget__dft_calculations=20``); None
        values are ignored.

    Raises
    ------
    ArscInputError
        A bad value (one line naming the key).
    """
    data = definition.model_dump()
    for key, value in [*((k, None) for k in unset), *dotted.items()]:
        if value is None and key not in unset:
            continue
        section, name = key.split("__")
        data[section][name] = value
    return parse_definition(data, source)


def read_definition(path: str | Path) -> CampaignDefinition:
    """Read and check a campaign YAML file.

    Relative paths inside it (``dft.replay.table``, a prior model file) are
    made absolute against the file's folder.

    Raises
    ------
    ArscInputError
        One line naming the file and the key: missing or malformed file,
        unknown key, bad value.
    """
    p = Path(path)
    if not p.is_file():
        raise ArscInputError(f"campaign file {str(p)!r} does not exist")
    source = f"campaign file {str(p)!r}"
    data = read_yaml(p, "campaign file")
    definition = parse_definition(data, source)
    return _absolute(definition, p.parent.resolve())


def _absolute(definition: CampaignDefinition, base: Path) -> CampaignDefinition:
    dft = definition.dft
    if dft.replay is not None and not Path(dft.replay.table).is_absolute():
        table = str((base / dft.replay.table).resolve())
        replay = dft.replay.model_copy(update={"table": table})
        definition = definition.model_copy(
            update={"dft": dft.model_copy(update={"replay": replay})}
        )
    prior = definition.model.prior
    if prior is not None and prior.endswith(".json") and not Path(prior).is_absolute():
        model = definition.model.model_copy(update={"prior": str((base / prior).resolve())})
        definition = definition.model_copy(update={"model": model})
    corrections = definition.dft.corrections
    if corrections.endswith((".yaml", ".yml")) and not Path(corrections).is_absolute():
        dft = definition.dft.model_copy(update={"corrections": str((base / corrections).resolve())})
        definition = definition.model_copy(update={"dft": dft})
    return definition


def packaged_campaigns() -> dict[str, Path]:
    """Return the packaged example campaigns, name -> file (``workflows/data/campaigns``)."""
    folder = Path(str(files("workflows.data").joinpath("campaigns")))
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def resolve_campaign(name_or_path: str | Path) -> Path:
    """Return a campaign file: an existing path, or a packaged campaign's name.

    Raises
    ------
    ArscInputError
        Neither a file nor a packaged name (the message lists the packaged ones).
    """
    p = Path(name_or_path)
    if p.is_file():
        return p
    packaged = packaged_campaigns()
    if str(name_or_path) in packaged:
        return packaged[str(name_or_path)]
    if p.is_dir():
        raise ArscInputError(
            f"campaign file {str(name_or_path)!r} is a folder; give a campaign YAML file or a "
            f"packaged campaign name ({', '.join(packaged)})"
        )
    raise ArscInputError(
        f"campaign file {str(name_or_path)!r} does not exist and is not a packaged campaign; "
        f"packaged: {', '.join(packaged)}"
    )
