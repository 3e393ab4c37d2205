"""The failure ladder: recoverable errors and the parameter changes tried in turn."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

LOG = logging.getLogger(__name__)

T = TypeVar("T")


class RecoverableError(Exception):
    """An attempt failed in a way the failure ladder knows how to treat.

    Attributes
    ----------
    kind
        Key of the ladder to use: ``scf`` or ``optimizer``.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class RecoveryStep:
    """One rung of a failure ladder.

    Attributes
    ----------
    label
        Short record for ``Convergence.retries`` (e.g. ``"mixing 0.02"``).
    changes
        Parameters replaced for this and every later attempt.
    reason
        Why this step helps (documentation).
    """

    label: str
    changes: Mapping[str, Any]
    reason: str = ""


Ladder = Mapping[str, Sequence[RecoveryStep]]


def parse_ladder(data: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, list[RecoveryStep]]:
    """Build a ladder from its data form (``{kind: [{label, set, reason}, ...]}``)."""
    return {
        kind: [
            RecoveryStep(str(s["label"]), dict(s["set"]), str(s.get("reason", ""))) for s in steps
        ]
        for kind, steps in data.items()
    }


@dataclass
class LadderResult:
    """What :func:`run_ladder` ended with."""

    value: Any
    params: dict[str, Any]
    retries: list[str]
    error: str | None


def run_ladder(
    attempt: Callable[[dict[str, Any]], T], params: Mapping[str, Any], ladder: Ladder
) -> LadderResult:
    """Run ``attempt(params)``; on a :class:`RecoverableError` climb its kind's ladder.

    Each step's changes apply on top of the previous ones. When the ladder of
    the failing kind is exhausted (or has no steps), the result carries the
    error (one line) and ``value`` None.

    Returns
    -------
    LadderResult
        The attempt's value (or None), the parameters of the last attempt, the
        labels of the steps applied, and the error of the last attempt if it failed.
    """
    current = dict(params)
    queues = {kind: list(steps) for kind, steps in ladder.items()}
    retries: list[str] = []
    while True:
        try:
            return LadderResult(attempt(current), current, retries, None)
        except RecoverableError as exc:
            queue = queues.get(exc.kind, [])
            if not queue:
                tried = f"; tried {', '.join(retries)}" if retries else ""
                return LadderResult(None, current, retries, f"{exc}{tried}")
            step = queue.pop(0)
            LOG.warning("%s; retrying with %s", exc, step.label)
            current.update(step.changes)
            retries.append(step.label)
