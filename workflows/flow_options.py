"""The options of the adsorption flow, defined once: :class:`FlowOptions`.

Every place that takes the flow's options uses this model (or its fields):

* :class:`workflows.settings.ArscSettings` takes the defaults and
  descriptions of ``engine``, ``preset`` and ``reactions`` (:func:`option_field`;
  the keys ``ARSC_ENGINE``, ``engine:`` in ``arsc.yaml`` ... are unchanged);
* :class:`workflows.executors.local.RunRequest` is a FlowOptions plus the site
  ids (the flat ``last_request.json`` of older projects still loads);
* the campaign's DFT section, :class:`workflows.campaign.definition.DftSpec`,
  holds ``engine``, ``preset``, ``prerelax_engine``, ``modes``,
  ``min_image``, ``corrections`` and ``protocol`` through :func:`option_field`
  and the types below, and turns into FlowOptions with ``DftSpec.flow_options``;
* ``arsc run`` and ``arsc submit`` build it from their typed options
  (:func:`workflows.cli.options.flow_options`);
* :meth:`workflows.flows.DacAdsorptionFlow.from_options` is the one mapping
  onto the flow Maker, whose dataclass fields stay the knobs.

This module imports nothing heavy: the names of engines, protocols, reactions
and binding modes are looked up (lazily) only when a model is validated.
"""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from arsc.errors import ArscInputError, unknown
from arsc.limits import MIN_IMAGE_DISTANCE, MIN_IMAGE_RANGE
from arsc.yamlio import problems_error


def known_engine(value: str) -> str:
    """Return an engine name if it is known (registered or importable), else raise.

    Raises
    ------
    ArscInputError
        ``unknown engine 'x'; allowed: mlip, gpaw, vasp`` (the message of
        :func:`workflows.engines.get_engine`).
    """
    from workflows.engines import engine_names

    if value not in engine_names():
        raise unknown("engine", value, engine_names())
    return value


def known_protocol(value: str) -> str:
    """Return a protocol's recorded name (``relax-n`` -> ``relax-3``) if it is known, else raise.

    Raises
    ------
    ArscInputError
        ``unknown protocol 'x'; allowed: full, sp, sp-tuned, relax-n ...``
        (:func:`workflows.protocols.get_protocol`).
    """
    from workflows.protocols import canonical_protocol

    return canonical_protocol(value)


def _default_protocol() -> str:
    from workflows.protocols import default_protocol

    return default_protocol()


#: An engine name, checked against the engine registry.
EngineName = Annotated[str, AfterValidator(known_engine)]
#: A protocol name of ``arsc/data/protocols.yaml``, checked and made canonical.
ProtocolName = Annotated[str, AfterValidator(known_protocol)]
#: The smallest metal-image distance, Angstrom: finite, within :data:`arsc.limits.MIN_IMAGE_RANGE`.
MinImage = Annotated[
    float, Field(ge=MIN_IMAGE_RANGE[0], le=MIN_IMAGE_RANGE[1], allow_inf_nan=False)
]


class FlowOptions(BaseModel):
    """What the adsorption flow computes and how: engines, reactions, modes, supercell.

    Every field has the name of the :class:`workflows.flows.DacAdsorptionFlow`
    field it sets (:meth:`~workflows.flows.DacAdsorptionFlow.from_options`).
    Validation checks the names of engines, reactions and binding modes and
    the range of ``min_image``; presets, the engines' optional dependencies
    and the weights file are checked when the flow is built.
    """

    model_config = ConfigDict(extra="forbid")

    engine: EngineName = Field(
        "gpaw", description="DFT engine of the relax and static steps: gpaw, vasp or mlip"
    )
    preset: str | None = Field(
        None, description="Engine preset (e.g. fast); None: the engine's default"
    )
    reactions: list[str] = Field(
        default_factory=lambda: ["orr"],
        description="Reactions whose intermediates are computed: orr, oer, her, crr, nrr "
        "(arsc/data/reactions.yaml)",
    )
    protocol: ProtocolName = Field(
        default_factory=lambda: _default_protocol(),
        description="How a state reaches its DFT energy: full (MLIP pre-relaxation, DFT "
        "relaxation, DFT single point), sp (MLIP relaxation, DFT single point), sp-tuned (sp "
        "with CHGNet fine-tuned on the project's DFT frames), relax-<n> (n DFT steps from the "
        "MLIP end point); arsc/data/protocols.yaml",
    )
    prerelax: bool = Field(
        True, description="Pre-relax every state with prerelax_engine before the DFT relaxation"
    )
    prerelax_engine: EngineName = Field(
        "mlip", description="Engine of the pre-relaxation: mlip (the default), gpaw or vasp"
    )
    prerelax_weights: str | None = Field(
        None,
        description="Fine-tuned MLIP weights file of the pre-relaxation (arsc finetune); "
        "None: the packaged weights",
    )
    modes: list[str] | None = Field(
        None, description="Binding modes computed (top1, top2, bridge, side-on); None: all"
    )
    placements: int | None = Field(
        None,
        ge=1,
        le=100,
        description="Placement search: per intermediate, the k lowest distinct MLIP end points "
        "of its starts (modes x tilts x rotations x heights) go to DFT, count; None: one start "
        "per binding mode, each to DFT",
    )
    min_image: MinImage = Field(
        MIN_IMAGE_DISTANCE,
        description=f"Smallest metal-image distance of the supercell, Angstrom "
        f"({MIN_IMAGE_RANGE[0]:g} to {MIN_IMAGE_RANGE[1]:g})",
    )
    corrections: str = Field(
        "vasp-pbe",
        description="References table whose Delta(ZPE - TS) corrections the site summary "
        "uses: a packaged name (arsc/data/references/) or a references YAML file",
    )

    @field_validator("reactions")
    @classmethod
    def _known_reactions(cls, value: list[str]) -> list[str]:
        from arsc.thermo.network import load_network

        if not value:
            raise ArscInputError("reactions: empty; give at least one reaction (e.g. orr)")
        net = load_network()
        for name in value:
            net.get(name)  # raises "unknown reaction 'x'; allowed: ..."
        return value

    @field_validator("modes")
    @classmethod
    def _known_modes(cls, value: list[str] | None) -> list[str] | None:
        from arsc.space import MODES

        if value is None:
            return value
        if not value:
            raise ArscInputError(
                f"modes: empty; give binding modes ({', '.join(MODES)}) or leave them out (all)"
            )
        for mode in value:
            if mode not in MODES:
                raise unknown("binding mode", mode, MODES)
        return value

    @classmethod
    def validated(cls, data: dict[str, Any], source: str = "the flow options") -> Self:
        """Validate ``data`` into this model; every problem as one :class:`ArscInputError` line.

        A name check's own error (``unknown engine 'qe'; allowed: ...``) is
        raised as it is; other problems are listed after ``source``
        (``the command line: min_image: must be >= 5 (got 1)``).
        """
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors():
                cause = (err.get("ctx") or {}).get("error")
                if isinstance(cause, ArscInputError):
                    raise ArscInputError(str(cause)) from None
            raise problems_error(exc, cls, source) from None


def option_field(name: str, note: str = "") -> Any:
    """Return one FlowOptions field's default and description, for another model's field.

    A model that holds a flow option under the same key (the settings, the
    campaign's DFT section) declares it as ``engine: EngineName =
    option_field("engine")``: the default and description are FlowOptions'
    own; the checks come with the type (:data:`EngineName`, :data:`MinImage`),
    so that each model chooses what it checks when (the settings check no
    names: a verb that runs no flow must not fail on ``ARSC_ENGINE``).

    Parameters
    ----------
    name
        A field of :class:`FlowOptions`.
    note
        Appended to the description (e.g. what a relative path is relative to).
    """
    info = FlowOptions.model_fields[name]
    description = f"{info.description}; {note}" if note else info.description
    if info.default_factory is not None:
        return Field(default_factory=info.default_factory, description=description)
    return Field(info.default, description=description)
