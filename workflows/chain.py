"""The steps of one state, chained: run the next step on the previous step's result.

:func:`continue_with` is the link of every state's chain in
:class:`workflows.flows.DacAdsorptionFlow` and of the DFT chains the
placement search starts (:mod:`workflows.placements`). :func:`capped_relax`
turns a DFT relaxation Maker into the few-step relaxation of a ``relax-n``
protocol (:mod:`workflows.protocols`), whose unconverged end point goes on.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass, replace
from typing import Any

from jobflow import JobConfig, Maker, OnMissing, Response, job

from arsc.errors import ArscInputError
from workflows.schemas import CalcDoc

#: Jobs that must run even when an upstream job raised (they get None for it).
TOLERANT = JobConfig(on_missing_references=OnMissing.NONE)

#: Start of the error of a relaxation that used up its steps (workflows.engines.relax).
NOT_CONVERGED = "relaxation not converged"


def has_knob(maker: Maker, name: str) -> bool:
    """Whether a Maker is a dataclass with a field ``name``."""
    return is_dataclass(maker) and name in {f.name for f in fields(maker)}


def ran_out_of_steps(doc: CalcDoc) -> bool:
    """Whether a relaxation failed only because it used up its optimiser steps."""
    return (
        doc.task == "relax"
        and doc.status == "failed"
        and (doc.error or "").startswith(NOT_CONVERGED)
    )


def capped_relax(relax: Maker, steps: int) -> Maker:
    """Return ``relax`` limited to ``steps`` optimiser steps, its optimiser ladder off.

    The step cap enters the calculation's settings (so its fingerprint); the
    SCF part of the failure ladder stays. For a Maker without a ``recovery``
    knob (the MLIP) only the steps change.

    Raises
    ------
    ArscInputError
        The Maker has no ``steps`` knob.
    """
    if not has_knob(relax, "steps"):
        engine = getattr(relax, "engine", type(relax).__name__)
        raise ArscInputError(
            f"a relax-n protocol caps the DFT relaxation's steps, but the {engine} relaxation "
            "has no steps knob; use full or sp with this engine"
        )
    knobs: dict[str, Any] = {"steps": steps}
    ladder = getattr(relax, "ladder", None)
    if has_knob(relax, "recovery") and callable(ladder):
        scf = [{"label": s.label, "set": dict(s.changes)} for s in ladder().get("scf", [])]
        knobs["recovery"] = {"scf": scf, "optimizer": []}
    return replace(relax, **knobs)


@job(config=TOLERANT)
def continue_with(
    previous: Any,
    maker: Maker,
    fallback: Any = None,
    name: str | None = None,
    accept_capped: bool = False,
) -> Any:
    """Run ``maker`` on the previous step's result, if it succeeded.

    Parameters
    ----------
    previous
        Output (CalcDoc as a dict) of the previous step, or None if it raised.
    maker
        Engine Maker of this step (``make(structure)`` accepts a CalcDoc dict).
    fallback
        Structure to start from when the previous step failed (None: stop).
    name
        Name of the job that replaces this one.
    accept_capped
        Go on from a relaxation that failed only because it used up its steps
        (a ``relax-n`` protocol's capped DFT relaxation).

    Returns
    -------
    jobflow.Response or dict or None
        A replacement by the step's job; or, when the previous step failed
        and there is no fallback, the previous (failed) document itself.
    """
    doc = CalcDoc.from_output(previous) if previous is not None else None
    if doc is not None and (doc.status == "ok" or (accept_capped and ran_out_of_steps(doc))):
        nxt = maker.make(previous)
    elif fallback is not None:
        nxt = maker.make(fallback)
    else:
        return previous
    if name:
        nxt.name = name
    return Response(replace=nxt)
