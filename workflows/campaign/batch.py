"""What a batch backend is: its interface and its results (see workflows.campaign.backends)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from workflows.campaign.state import CalcCost

if TYPE_CHECKING:
    from workflows.tuning import TunedWeights

#: Called with (calculations done, calculations planned) while a batch runs.
ProgressFn = Callable[[int, int], None]


@dataclass
class SiteOutcome:
    """What the DFT of one site delivered (before the objective is computed)."""

    site: str
    dg: dict[str, float | None]
    status: str = "ok"
    reason: str = ""
    site_doc: dict[str, Any] | None = None
    energies: list[dict[str, Any]] = field(default_factory=list)
    fingerprints: list[str] = field(default_factory=list)


@dataclass
class BatchOutcome:
    """What a batch delivered: one outcome per site and every calculation involved."""

    sites: list[SiteOutcome]
    calculations: list[CalcCost]
    wall_time_s: float


class BatchBackend(Protocol):
    """Computes the DFT of a batch of sites (see the module docstring)."""

    def plan(self, sites: Sequence[str]) -> tuple[list[int], int]:
        """Return DFT calculations per site and for the gas references (once), counts."""
        ...

    def compute(
        self,
        sites: Sequence[str],
        progress: ProgressFn | None = None,
        weights: str | None = None,
    ) -> BatchOutcome:
        """Run (or finish) the DFT of the sites; idempotent.

        ``weights``: tuned MLIP weights the states relax with (tuned protocol,
        from :meth:`tune`); None: the packaged weights.
        """
        ...

    def tune(self) -> TunedWeights | None:
        """Refit the MLIP on the campaign's DFT frames for the next round (tuned protocol).

        None: protocol not tuned, too few frames, or a backend that computes
        no MLIP geometry.
        """
        ...
