"""Reusable typed CLI options and small helpers shared by the verb modules."""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from arsc.errors import ArscInputError
from arsc.io import plain
from arsc.limits import MIN_IMAGE_DISTANCE, MIN_IMAGE_RANGE


class ElementTable(StrEnum):
    """Element tables shipped with arsc."""

    default = "default"
    authors = "authors"


#: ``--elements authors|default``
ElementsOpt = Annotated[
    ElementTable, typer.Option("--elements", help="Element property table: default or authors.")
]


def split_list(values: list[str] | None, option: str = "list option") -> list[str] | None:
    """Accept both ``--x a --x b`` and ``--x a,b``; None when not given.

    Raises
    ------
    ArscInputError
        An empty item (``--x ""``, ``--x a,,b``): an empty string never means "all".
    """
    if not values:
        return None
    items = [v.strip() for item in values for v in item.split(",")]
    if any(not v for v in items):
        raise ArscInputError(
            f"{option} {','.join(values)!r} has an empty item; give names separated by commas "
            "(leave the option out to mean all)"
        )
    return items


def bounded(
    low: float | None = None,
    high: float | None = None,
    *,
    unit: str = "",
    low_open: bool = False,
) -> Callable[[Any, Any, Any], Any]:
    """Build a typer callback that refuses NaN, infinities and values outside [low, high].

    Parameters
    ----------
    low, high
        Allowed range (None: unbounded on that side; infinities are refused anyway).
    unit
        Unit named in the message.
    low_open
        The lower bound itself is not allowed (a strictly positive value).
    """

    def check(ctx: Any, param: Any, value: Any) -> Any:
        if value is None:
            return value
        name = param.opts[0] if getattr(param, "opts", None) else str(param.name)
        try:
            x = float(value)
        except OverflowError:  # an integer beyond any float: out of every range
            x = math.copysign(math.inf, value)
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        span = f"{'(' if low_open else '['}{lo}, {hi}]" + (f" {unit}" if unit else "")
        if (
            not math.isfinite(x)
            or (low is not None and (x < low or (low_open and x == low)))
            or (high is not None and x > high)
        ):
            raise ArscInputError(f"{name} {plain(value)} is out of range; allowed: {span}")
        return value

    return check


#: ``--force``: replace an existing output file of another kind.
ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force", help="Overwrite an existing output file that this command did not write."
    ),
]


def console() -> Console:
    """Console for human-readable output (stdout)."""
    return Console(highlight=False)


#: A list option given as ``--x a --x b`` or ``--x a,b`` (see :func:`split_list`).
ListOpt = list[str] | None

# ---- options of the adsorption flow, shared by ``arsc run`` and ``arsc submit`` ---------
#: ``--prerelax/--no-prerelax``
PrerelaxOpt = Annotated[
    bool | None,
    typer.Option("--prerelax/--no-prerelax", help="Pre-relax every state (default: yes)."),
]
#: ``--prerelax-engine``
PrerelaxEngineOpt = Annotated[
    str | None,
    typer.Option("--prerelax-engine", help="Engine of the pre-relaxation (default mlip)."),
]
#: ``--prerelax-weights``
PrerelaxWeightsOpt = Annotated[
    Path | None,
    typer.Option(
        "--prerelax-weights",
        help="Fine-tuned CHGNet weights for the pre-relaxation (from `arsc finetune`).",
    ),
]
#: ``--min-image``
MinImageOpt = Annotated[
    float | None,
    typer.Option(
        "--min-image",
        callback=bounded(*MIN_IMAGE_RANGE, unit="Angstrom"),
        help=f"Smallest metal-image distance, Angstrom ({MIN_IMAGE_RANGE[0]:g}-"
        f"{MIN_IMAGE_RANGE[1]:g}; default {MIN_IMAGE_DISTANCE:g}).",
    ),
]
#: ``--modes``
ModesOpt = Annotated[
    ListOpt, typer.Option("--modes", help="Binding modes to compute (default: all).")
]
#: ``--protocol``
ProtocolOpt = Annotated[
    str | None,
    typer.Option(
        "--protocol",
        help="How each state reaches its DFT energy: full (default: MLIP pre-relax, DFT relax, "
        "single point), sp (MLIP relax, DFT single point), sp-tuned (sp with CHGNet tuned on "
        "the project's DFT frames), relax-N (N DFT steps from the MLIP end point).",
    ),
]

PlacementsOpt = Annotated[
    int | None,
    typer.Option(
        "--placements",
        callback=bounded(1, 100),
        help="Placement search: the K lowest distinct MLIP end points of every intermediate's "
        "starts (modes x tilts x rotations x heights) go to DFT (default: one start per mode).",
    ),
]


def flow_knobs(
    prerelax: bool | None,
    prerelax_engine: str | None,
    prerelax_weights: Path | None,
    min_image: float | None,
    modes: list[str] | None,
    protocol: str | None = None,
) -> dict[str, Any]:
    """Turn the flow's typed options of ``arsc run``/``arsc submit`` into FlowOptions values.

    The keys are :class:`workflows.flow_options.FlowOptions` fields; a value is
    None where the option was not given. ``--engine``, ``--preset`` and
    ``--reactions`` go through the settings instead (they have settings
    defaults): ``get_settings(...).flow_options(**flow_knobs(...))`` is the
    request's FlowOptions.

    Raises
    ------
    ArscInputError
        An empty item in ``--modes``.
    """
    return {
        "prerelax": prerelax,
        "prerelax_engine": prerelax_engine,
        # absolute: the request is replayed (resume, FireWorks workers) from elsewhere
        "prerelax_weights": str(prerelax_weights.absolute()) if prerelax_weights else None,
        "min_image": min_image,
        "modes": split_list(modes, "--modes"),
        "protocol": protocol,
    }


def json_clean(value: Any) -> Any:
    """Turn non-finite floats (NaN, inf) into None (JSON null), recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_clean(v) for v in value]
    return value
