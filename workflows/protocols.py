"""Protocols: the named presets of the adsorption flow, one table (``arsc/data/protocols.yaml``).

A protocol is how every state gets from its start to the DFT energy the
free energies use:

``full``
    MLIP pre-relaxation, DFT relaxation to convergence, DFT single point
    (``arsc run``'s default, and campaigns with ``relax: dft``);
``sp``
    MLIP relaxation, one DFT single point (campaigns with ``relax: mlip``,
    ``arsc screen``'s);
``sp-tuned``
    as ``sp``, with CHGNet fine-tuned on the project's own DFT frames
    (:mod:`workflows.tuning`);
``relax-N``
    MLIP relaxation, N DFT relaxation steps from its end point, DFT single
    point (``relax-n``: N from the table).

:class:`workflows.flows.DacAdsorptionFlow` reads the knobs from here
(``protocol`` field); the name goes into the metadata of every job the flow
runs. The table also holds what ``scripts/bench_protocol.py`` measured for
each protocol (null until measured).

Examples
--------
>>> get_protocol("relax-5").dft_steps
5
>>> get_protocol("sp").relax
'mlip'
>>> canonical_protocol("relax-n")
'relax-3'
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from arsc.errors import ArscInputError

#: ``relax-<n>``: a relax-n protocol with n DFT steps.
_RELAX_N = re.compile(r"^relax-(\d+)$")
#: Largest n of ``relax-<n>`` (beyond, it is a full relaxation).
MAX_RELAX_STEPS = 1000
#: Success rate (AdsorbML, within 0.1 eV of full) a protocol needs to become a default (issue 19).
SUCCESS_BAR = 0.9
#: Fewest benchmark states behind a success rate that may make a protocol the default.
MIN_STATES = 10


class Measured(BaseModel):
    """What the protocol benchmark measured for a protocol (None until measured)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    success_rate: float | None = Field(
        default=None,
        description="Share of states within 0.1 eV of (or below) the full reference, 0-1",
    )
    mae_ev: float | None = Field(
        default=None, description="Mean absolute error of adsorption energies against full, eV"
    )
    force_call_ratio: float | None = Field(
        default=None,
        description="GPAW force calls of full divided by this protocol's, dimensionless",
    )
    states: int | None = Field(default=None, description="States compared, count")
    date: str | None = Field(default=None, description="Date of the benchmark run (ISO 8601)")


class Protocol(BaseModel):
    """One named knob set of the adsorption flow (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Protocol name (relax-n resolved to relax-<n>)")
    description: str = Field(description="What the protocol computes, one line")
    relax: Literal["dft", "mlip"] = Field(
        description="Engine that relaxes a state before the DFT single point"
    )
    dft_steps: int | None = Field(
        default=None,
        ge=1,
        le=MAX_RELAX_STEPS,
        description="Most DFT optimiser steps, count (relax dft); None: to convergence",
    )
    tuned: bool = Field(
        default=False, description="Relax with CHGNet fine-tuned on the project's own DFT frames"
    )
    untuned: str | None = Field(
        default=None, description="Protocol a tuned one runs as before its first refit"
    )
    measured: Measured = Field(
        default_factory=lambda: Measured(), description="Benchmark figures against full"
    )

    @property
    def capped(self) -> bool:
        """Whether the DFT relaxation stops after :attr:`dft_steps` (converged or not)."""
        return self.relax == "dft" and self.dft_steps is not None


@cache
def _table() -> dict[str, Any]:
    import yaml

    return dict(yaml.safe_load(files("arsc.data").joinpath("protocols.yaml").read_text()))


def protocol_names() -> tuple[str, ...]:
    """Return the protocol names of the table (``relax-n`` stands for every ``relax-<n>``)."""
    return tuple(_table()["protocols"])


def default_protocol() -> str:
    """Return the protocol of a flow that names none (``full``)."""
    return str(_table()["default"])


def campaign_protocol(relax: str) -> str:
    """Return the protocol of a campaign's ``dft.relax`` (``dft`` -> full, ``mlip`` -> sp)."""
    return str(_table()["campaign_relax"][relax])


def _unknown(name: object) -> ArscInputError:
    known = ", ".join(protocol_names())
    return ArscInputError(
        f"unknown protocol {name!r}; allowed: {known} (relax-<n>: n DFT steps, "
        f"1 to {MAX_RELAX_STEPS})"
    )


def get_protocol(name: str) -> Protocol:
    """Return a protocol by name; ``relax-5`` is ``relax-n`` with 5 DFT steps.

    Raises
    ------
    ArscInputError
        Unknown name, or a ``relax-<n>`` with n out of range (one line, the known names).
    """
    table = _table()["protocols"]
    if not isinstance(name, str):
        raise _unknown(name)
    match = _RELAX_N.match(name)
    if name in table and name != "relax-n":
        return Protocol(name=name, **table[name])
    entry = dict(table["relax-n"])
    if match:
        steps = int(match.group(1))
        if not 1 <= steps <= MAX_RELAX_STEPS:
            raise _unknown(name)
        if steps != entry["dft_steps"]:  # the table's figures are for its own n
            entry.update(dft_steps=steps, measured={})
    elif name != "relax-n":
        raise _unknown(name)
    return Protocol(name=f"relax-{entry['dft_steps']}", **entry)


def canonical_protocol(name: str) -> str:
    """Return the recorded name of a protocol (``relax-n`` -> ``relax-3``); raises if unknown."""
    return get_protocol(name).name


def _measured(name: str) -> Measured:
    """Return a protocol's measured figures; all None for a name the table does not know."""
    try:
        return get_protocol(name).measured
    except ArscInputError:
        return Measured()


def protocol_success_rate(name: str) -> float | None:
    """Return the measured success rate of a protocol (fraction, 0..1); None: not measured.

    From the protocol table (:func:`workflows.protocols.get_protocol`,
    ``measured.success_rate``, AdsorbML's criterion against ``full``); a name
    the table does not know (a replayed table) was not measured.
    """
    return _measured(name).success_rate


def protocol_states(name: str) -> int | None:
    """Return the number of benchmark states behind a protocol's success rate (None: unknown)."""
    return _measured(name).states


def protocol_line(name: str, success_rate: float | None, states: int | None = None) -> str:
    """Return ``protocol sp, success rate not measured`` or ``..., measured success 87 %``.

    With ``states``, the number of benchmark states behind the rate is said too.
    """
    if success_rate is None:
        return f"protocol {name}, success rate not measured"
    on = f", {states} states" if states else ""
    return f"protocol {name}, measured success rate {100 * success_rate:.0f} % (within 0.1 eV{on})"


def recommended_protocol(bar: float = SUCCESS_BAR) -> str | None:
    """Return the cheapest protocol whose measured success rate is at least ``bar``; None if none.

    Cheapest = most GPAW force calls saved against ``full`` (``measured.force_call_ratio``);
    a protocol without measured figures, or measured on fewer than :data:`MIN_STATES`
    states, never qualifies. ``full`` is the reference itself and qualifies only by being
    measured against itself (ratio 1).
    """
    table = [get_protocol(name) for name in protocol_names()]
    good = [
        (m.force_call_ratio or 1.0, p.name)
        for p in table
        if (m := p.measured).success_rate is not None
        and m.success_rate >= bar
        and (m.states or 0) >= MIN_STATES
    ]
    return max(good)[1] if good else None


def _validation(used: str) -> str:
    """``sp is unvalidated`` or ``sp measured 0 % on 12 states`` (below every bar)."""
    rate = protocol_success_rate(used)
    if rate is None:
        return f"{used} is unvalidated"
    states = protocol_states(used)
    return f"{used} measured {100 * rate:.0f} %" + (f" on {states} states" if states else "")


def default_statement(used: str, bar: float = SUCCESS_BAR) -> str:
    """Say whether the protocol ``used`` is the one the benchmark supports (issue 19 item 5).

    >>> default_statement("sp")[:47]
    'no protocol has a measured success rate >= 90 %'
    """
    best = recommended_protocol(bar)
    if best is None:
        return (
            f"no protocol has a measured success rate >= {100 * bar:.0f} % yet "
            f"(scripts/bench_protocol.py); {_validation(used)}"
        )
    if canonical_protocol(used) == best:
        return f"{used} is the cheapest protocol measured at >= {100 * bar:.0f} % success"
    cheapest = f"{best} is the cheapest protocol measured at >= {100 * bar:.0f} % success"
    return f"{cheapest}; this used {used}"
