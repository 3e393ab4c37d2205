"""The replay batch backend: DFT answers from a table of precomputed results.

One row per site (``id`` or ``site`` column) with ``dG_<X>`` columns (eV; an
empty cell: no value, the site fails for that intermediate); each answer is
appended to ``replay-calls.jsonl`` in the campaign folder, which a rerun
reads instead of asking again (the replay's fingerprint cache). The table is
checked before the campaign starts
(:func:`workflows.campaign.checks.replay_problems`).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from arsc.errors import ArscInputError
from arsc.space import Site
from workflows.campaign.batch import BatchOutcome, ProgressFn, SiteOutcome
from workflows.campaign.definition import CampaignDefinition
from workflows.campaign.state import CalcCost

#: The replay backend's record of answered sites (one JSON object per line).
REPLAY_LEDGER = "replay-calls.jsonl"


@dataclass
class ReplayBackend:
    """Answer from a table of precomputed free energies (see the module docstring)."""

    folder: Path
    definition: CampaignDefinition
    since: datetime
    show_progress: bool = True
    _table: pd.DataFrame | None = None

    def table(self) -> pd.DataFrame:
        """Return the replay table, indexed by site id."""
        if self._table is None:
            spec = self.definition.dft.replay
            assert spec is not None
            path = Path(spec.table)
            if not path.is_file():
                raise ArscInputError(f"replay table {str(path)!r} does not exist")
            data = pd.read_csv(path)
            col = "id" if "id" in data.columns else "site"
            if col not in data.columns:
                raise ArscInputError(f"replay table {str(path)!r} needs a column 'id' or 'site'")
            data["_site"] = [Site.from_id(s).id for s in data[col]]
            self._table = data.set_index("_site", drop=False)
        return self._table

    def _states(self, site: str) -> list[tuple[str, str]]:
        from workflows.flows import DacAdsorptionFlow

        flow = DacAdsorptionFlow(
            reactions=(self.definition.objective.reaction,),
            modes=tuple(self.definition.dft.modes) if self.definition.dft.modes else None,
        )
        return [(a, m or "") for a, m in flow.states(Site.from_id(site))]

    def plan(self, sites: Sequence[str]) -> tuple[list[int], int]:
        """One calculation per state of each site (no gas: the table holds dG)."""
        return [len(self._states(s)) for s in sites], 0

    def ledger(self) -> dict[str, dict[str, float | None]]:
        """Sites answered so far (``replay-calls.jsonl``), the replay's fingerprint cache."""
        path = self.folder / REPLAY_LEDGER
        out: dict[str, dict[str, float | None]] = {}
        if path.is_file():
            for line in path.read_text().splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:  # a line cut by a kill: not answered
                    continue
                out[rec["site"]] = rec["dg"]
        return out

    def _ask(self, site: str) -> dict[str, float | None] | None:
        """Read one site's row (None: not in the table); append the answer to the ledger."""
        data = self.table()
        if site not in data.index:
            return None
        row = int(np.flatnonzero(data.index == site)[0])
        dg = {
            col[3:]: _finite(pd.to_numeric(data[col].iloc[row], errors="coerce"))
            for col in data.columns
            if str(col).startswith("dG_")
        }
        spec = self.definition.dft.replay
        if spec is not None and spec.delay_seconds:
            time.sleep(spec.delay_seconds)
        with (self.folder / REPLAY_LEDGER).open("a") as fh:
            fh.write(json.dumps({"site": site, "dg": dg}) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return dg

    def tune(self) -> None:
        """Nothing to tune: a replayed table has no MLIP geometries."""
        return None

    def compute(
        self,
        sites: Sequence[str],
        progress: ProgressFn | None = None,
        weights: str | None = None,
    ) -> BatchOutcome:
        """Answer each site from the ledger if asked before, else from the table's oracle.

        ``weights`` is ignored (a replayed table has no MLIP geometries).
        """
        start = time.perf_counter()
        known = self.ledger()
        outcomes, calcs = [], []
        for n, site in enumerate(sites):
            dg = known[site] if site in known else self._ask(site)
            if dg is None:
                outcomes.append(SiteOutcome(site, {}, "failed", "not in the replay table"))
                continue
            fps = [f"replay:{site}:{a}:{m}" for a, m in self._states(site)]
            outcomes.append(SiteOutcome(site, dg, fingerprints=fps))
            calcs += [self._cost(fp, site) for fp in fps]  # the ledger is this campaign's
            if progress is not None:
                progress(n + 1, len(sites))
        return BatchOutcome(outcomes, calcs, time.perf_counter() - start)

    def _cost(self, fp: str, site: str) -> CalcCost:
        _, _, ads, mode = fp.split(":")
        spec = self.definition.dft.replay
        wall = spec.seconds_per_calculation if spec else 0.0
        cores = self.definition.dft.cores_per_calculation
        return CalcCost(
            fingerprint=fp,
            site=site,
            adsorbate=ads,
            mode=mode,
            engine="replay",
            task="static",
            status="ok",
            wall_time_s=wall,
            cores=cores,
            core_hours=wall * cores / 3600.0,
            new=True,
            dft=True,
        )


def _finite(value: Any) -> float | None:
    v = float(value)
    return v if math.isfinite(v) else None
