"""Batch backends: how a campaign's batch of sites gets its DFT.

One registry (:data:`BACKENDS`, keyed by the definition's
``dft.executor``), three backends with one interface (:class:`BatchBackend`):

``local``
    :class:`workflows.flows.DacAdsorptionFlow` run in this machine's
    processes through :mod:`workflows.executors.local` and the job store of
    the settings (by default the embedded sqlite store in the campaign
    folder). The gas references run first; the sites then run one flow per
    site, ``dft.workers`` side by side (separate processes, which die with
    the campaign process). Under a tuned protocol (``sp-tuned``) the backend
    refits CHGNet on the campaign's DFT frames between rounds
    (:meth:`LocalBackend.tune`) and the next batch relaxes with those weights.
``fireworks``
    the same flows submitted to a FireWorks LaunchPad and run by workers the
    queue (SLURM) starts, through :mod:`workflows.executors.fireworks`; the
    backend waits until every submitted workflow has finished. A tuned
    protocol is refused (the workers' DFT frames are not where the refit
    reads them).
``replay``
    answers from a table of precomputed results (one row per site with
    ``dG_<X>`` columns, eV) with :class:`arsc.replay.ReplayOracle`, for
    benchmarks and fast tests; every answer is appended to
    ``replay-calls.jsonl`` in the campaign folder, its cache.

Whatever the backend, a finished calculation is never recomputed: the
DFT engines' jobs look their fingerprint up in the store first
(:mod:`workflows.cache`), so recomputing a batch after a crash only runs what
had not finished.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import signal
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from arsc.errors import ArscInputError, unknown
from arsc.space import Site
from workflows.campaign.batch import BatchBackend, BatchOutcome, ProgressFn, SiteOutcome
from workflows.campaign.definition import CampaignDefinition, DftSpec
from workflows.campaign.replay_backend import REPLAY_LEDGER, ReplayBackend
from workflows.campaign.state import CalcCost, RoundProtocol
from workflows.tuning import TunedWeights

__all__ = [
    "BACKENDS",
    "REPLAY_LEDGER",
    "BatchBackend",
    "BatchOutcome",
    "FireworksBackend",
    "LocalBackend",
    "ReplayBackend",
    "SiteOutcome",
    "dft_steps",
    "flow_maker",
    "make_backend",
    "round_protocol",
    "runs_flows",
]

# ---- the flow of the local and FireWorks backends ------------------------------------


def flow_maker(dft: DftSpec, reaction: str, weights: str | None = None) -> Any:
    """Return the :class:`workflows.flows.DacAdsorptionFlow` of a definition's DFT settings.

    ``relax: mlip`` relaxes every state with the MLIP (``prerelax_engine``)
    and runs one DFT single point on it; ``relax: dft`` pre-relaxes with the
    MLIP, then relaxes and runs a single point with the DFT engine.

    Parameters
    ----------
    dft
        The definition's DFT settings.
    reaction
        The reaction of the batch.
    weights
        MLIP weights tuned on the campaign's frames (:meth:`LocalBackend.tune`)
        for a tuned protocol: the flow's ``prerelax_weights``, so they reach
        the MLIP Maker, every geometry's fingerprint and every job's metadata.
        None before the first refit: the protocol runs as its untuned twin.
    """
    from workflows.flows import DacAdsorptionFlow

    return DacAdsorptionFlow.from_options(dft.flow_options(reaction, weights))


def runs_flows(dft: DftSpec) -> bool:
    """Whether the executor runs the adsorption flow (MLIP geometries, DFT), not a table."""
    backend = BACKENDS.get(dft.executor)
    return backend is not None and issubclass(backend, LocalBackend)


def round_protocol(dft: DftSpec, reaction: str, tuned: TunedWeights | None) -> RoundProtocol:
    """Return the record of what a batch runs: protocol, MLIP weights and their refit.

    Parameters
    ----------
    dft
        The definition's DFT settings (a flow-running executor).
    reaction
        The reaction of the batch.
    tuned
        The MLIP refit the batch relaxes with (tuned protocol), None: none yet.

    Raises
    ------
    ArscInputError
        The MLIP's weights are not installed, or the tuned file is missing.
    """
    weights = tuned.weights_file if tuned is not None else None
    maker = flow_maker(dft, reaction, weights)
    record = maker.mlip_weights()
    return RoundProtocol(
        requested=dft.protocol_name,
        name=maker.protocol,
        weights=record,
        tuning=tuned,
    )


def dft_steps(dft: DftSpec) -> tuple[str, ...]:
    """Return the steps of a state that count as DFT calculations."""
    return ("static",) if dft.relax == "mlip" else ("relax", "static")


def _plan_flow(maker: Any, dft: DftSpec, sites: Sequence[str]) -> tuple[list[int], int]:
    from workflows.flows import gas_references, reaction_intermediates

    steps = len(dft_steps(dft))
    per_site = [len(maker.states(Site.from_id(s))) * steps for s in sites]
    gas = len(gas_references(reaction_intermediates(maker.reactions))) * steps
    return per_site, gas


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except (TypeError, ValueError):
        return None


def store_calculations(
    store: Any, sites: Sequence[str], dft: DftSpec, steps: dict[str, str], since: datetime
) -> list[CalcCost]:
    """Every calculation of the sites and the gas references in a store, with its cost.

    Parameters
    ----------
    store
        A connected jobflow JobStore.
    sites
        Site ids of the batch.
    dft
        The DFT settings (which steps are DFT, cores per calculation).
    steps
        Fingerprint -> step (prerelax, relax, static) from the SiteDocs.
    since
        Campaign start: a fingerprint first computed before it is not new.
    """
    wanted = set(sites)
    props = [
        "output.fingerprint",
        "output.site_id",
        "output.adsorbate",
        "output.mode",
        "output.engine",
        "output.task",
        "output.status",
        "output.wall_time",
        "completed_at",
    ]
    first: dict[str, tuple[datetime | None, dict[str, Any]]] = {}
    for doc in store.query({"output.fingerprint": {"$exists": True}}, properties=props):
        out = doc["output"]
        gas = out.get("mode") == "gas"
        if not gas and out.get("site_id") not in wanted:
            continue
        stamp = _parse_time(str(doc.get("completed_at", "")))
        fp = str(out["fingerprint"])
        old = first.get(fp)
        if old is None or (stamp is not None and (old[0] is None or stamp < old[0])):
            first[fp] = (stamp, out)
    rows = []
    counted = dft_steps(dft)
    for fp, (stamp, out) in sorted(first.items()):
        gas = out.get("mode") == "gas"
        step = steps.get(fp) or ("static" if out.get("task") == "static" else "relax")
        is_dft = step in counted
        cores = dft.cores_per_calculation if is_dft else 1
        wall = out.get("wall_time")
        rows.append(
            CalcCost(
                fingerprint=fp,
                site="gas" if gas else str(out.get("site_id")),
                adsorbate=str(out.get("adsorbate", "bare")),
                mode="" if gas else str(out.get("mode") or ""),
                engine=str(out.get("engine", "")),
                task=str(out.get("task", "")),
                status=str(out.get("status", "")),
                wall_time_s=wall,
                cores=cores,
                core_hours=None if wall is None else float(wall) * cores / 3600.0,
                new=stamp is not None and stamp >= since,
                dft=is_dft,
            )
        )
    return rows


def _outcome(doc: Any) -> SiteOutcome:
    """Site outcome from a SiteDoc."""
    from workflows.summary import energies_table

    rows: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()}
        for r in energies_table(doc.site_id, doc.states).to_dict("records")
    ]
    for row, st in zip(rows, doc.states, strict=True):
        row.update(engine=doc.engine, settings_hash=st.settings_hash or "")
        row.update(path="store:" + st.fingerprints.get("static", ""))
        for key in ("e0", "f"):
            if isinstance(row[key], float) and not math.isfinite(row[key]):
                row[key] = None
    fps = [fp for st in doc.states for fp in st.fingerprints.values()]
    dg = {k: (None if v is None or not math.isfinite(v) else float(v)) for k, v in doc.dg.items()}
    return SiteOutcome(
        site=doc.site_id,
        dg=dg,
        status="ok",
        reason="; ".join(doc.problems),
        site_doc=doc.model_dump(mode="json"),
        energies=rows,
        fingerprints=fps,
    )


def _collect(
    store: Any, sites: Sequence[str], dft: DftSpec, since: datetime, wall: float
) -> BatchOutcome:
    from workflows.results import site_docs

    store.connect()
    try:
        docs = {d.site_id: d for d in site_docs(store) if d.site_id in set(sites)}
        steps = {
            fp: step
            for d in docs.values()
            for st in d.states
            for step, fp in st.fingerprints.items()
        }
        calcs = store_calculations(store, sites, dft, steps, since)
    finally:
        store.close()
    outcomes = []
    for s in sites:
        if s in docs:
            outcomes.append(_outcome(docs[s]))
        else:
            outcomes.append(SiteOutcome(s, {}, "failed", f"no site summary for {s} in the store"))
    return BatchOutcome(outcomes, calcs, wall)


def _count_done(store: Any, sites: Sequence[str], dft: DftSpec) -> int:
    """Count the batch's finished DFT calculations in the store (for the progress bar)."""
    store.connect()
    try:
        docs = store.query(
            {"output.fingerprint": {"$exists": True}},
            properties=[
                f"output.{k}" for k in ("fingerprint", "site_id", "mode", "engine", "task")
            ],
        )
        wanted = set(sites)
        done = set()
        for d in docs:
            out = d["output"]
            if out.get("site_id") not in wanted and out.get("mode") != "gas":
                continue
            if out.get("task") == "static" or (
                dft.relax == "dft" and out.get("engine") == dft.engine
            ):
                done.add(out["fingerprint"])
        return len(done)
    finally:
        store.close()


# ---- local -----------------------------------------------------------------------------


def _die_with_parent() -> None:  # pragma: no cover - runs in the worker processes
    """Set a worker up: killed when the campaign process dies (prctl PDEATHSIG), stdout to stderr.

    The campaign's stdout is for its results (``--json``); a worker's chatter goes to stderr.
    """
    os.dup2(2, 1)
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1


def _run_site(
    folder: str, dft_json: str, reaction: str, site: str, weights: str | None = None
) -> str:
    """Worker process: run one site's flow (gas references are cache hits by now)."""
    from workflows.executors.local import run_local
    from workflows.settings import get_settings
    from workflows.store import make_store

    dft = DftSpec.model_validate_json(dft_json)
    flow = flow_maker(dft, reaction, weights).make([site])
    store = make_store(get_settings(project=Path(folder)))
    run_local(flow, store, progress=False, root_dir=Path(folder) / "runs")
    return site


@dataclass
class LocalBackend:
    """Run the flows here (see the module docstring).

    Under a tuned protocol (``sp-tuned``) :meth:`tune` refits CHGNet on the
    DFT frames the campaign's GPAW jobs left in ``runs/``
    (:func:`workflows.tuning.tune_between_rounds`) with ``tuner`` (None:
    :class:`workflows.engines.finetune.ChgnetFinetune` with the defaults of
    ``workflows/data/mlip_models.yaml``), and :meth:`compute` relaxes with the
    weights it is given.
    """

    folder: Path
    definition: CampaignDefinition
    since: datetime
    show_progress: bool = True
    tuner: Any | None = None

    @property
    def dft(self) -> DftSpec:
        """The definition's DFT settings."""
        return self.definition.dft

    def maker(self, weights: str | None = None) -> Any:
        """Return the flow Maker (``weights``: tuned MLIP weights, see :func:`flow_maker`)."""
        return flow_maker(self.dft, self.definition.objective.reaction, weights)

    def tune(self) -> TunedWeights | None:
        """Refit the MLIP on the campaign's DFT frames for the next round (tuned protocol).

        Returns
        -------
        TunedWeights or None
            The tuned model (``reused`` when the frames have not changed);
            None when the protocol is not tuned or the campaign has fewer
            DAC-site frames than a refit needs.
        """
        from workflows.protocols import get_protocol
        from workflows.tuning import tune_between_rounds

        if not get_protocol(self.dft.protocol_name).tuned:
            return None
        return tune_between_rounds(self.folder.resolve(), self.tuner)

    def plan(self, sites: Sequence[str]) -> tuple[list[int], int]:
        """Return DFT calculations per site and for the gas references, counts."""
        return _plan_flow(self.maker(), self.dft, sites)

    def store(self) -> Any:
        """Return the job store of the campaign (settings with project = the campaign folder)."""
        from workflows.settings import get_settings
        from workflows.store import make_store

        return make_store(get_settings(project=self.folder.resolve()))

    def compute(
        self,
        sites: Sequence[str],
        progress: ProgressFn | None = None,
        weights: str | None = None,
    ) -> BatchOutcome:
        """Run the gas references, then the sites (``dft.workers`` at a time).

        ``weights``: the tuned MLIP weights the states relax with (the
        round's, :meth:`tune` of the round before); None: packaged weights.
        """
        from workflows.executors.local import run_local

        start = time.perf_counter()
        runs = self.folder / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        maker = self.maker(weights)
        per_site, gas = self.plan(sites)
        total = sum(per_site) + gas
        if self.dft.workers <= 1 or len(sites) <= 1:
            run_local(maker.make(list(sites)), self.store(), self.show_progress, root_dir=runs)
        else:
            run_local(maker.make([]), self.store(), self.show_progress, root_dir=runs)
            self._parallel(sites, progress, total, weights)
        return _collect(self.store(), sites, self.dft, self.since, time.perf_counter() - start)

    def _parallel(
        self,
        sites: Sequence[str],
        progress: ProgressFn | None,
        total: int,
        weights: str | None = None,
    ) -> None:
        ctx = get_context("spawn")
        args = (str(self.folder.resolve()), self.dft.model_dump_json())
        reaction = self.definition.objective.reaction
        with ProcessPoolExecutor(
            max_workers=self.dft.workers, mp_context=ctx, initializer=_die_with_parent
        ) as pool:
            futures = [pool.submit(_run_site, *args, reaction, s, weights) for s in sites]
            pending = set(futures)
            while pending:
                done = {f for f in pending if f.done()}
                pending -= done
                for f in done:
                    f.result()  # re-raise a worker's error
                if progress is not None:
                    progress(_count_done(self.store(), sites, self.dft), total)
                if pending:
                    time.sleep(2.0)


# ---- FireWorks -------------------------------------------------------------------------


def refuse_tuned_on_fireworks(definition: CampaignDefinition) -> None:
    """Refuse a tuned protocol on FireWorks (see :class:`FireworksBackend`)."""
    from workflows.protocols import get_protocol

    name = definition.dft.protocol_name
    if get_protocol(name).tuned:
        raise ArscInputError(
            f"{name}: the fireworks executor cannot tune the MLIP between rounds (its "
            "workers' DFT frames stay in their launch folders); use executor local, or protocol sp"
        )


@dataclass
class FireworksBackend(LocalBackend):
    """Submit the flows to a LaunchPad; the queue's workers run them.

    A tuned protocol is refused: the workers leave their GPAW frames in their
    own launch folders, which the refit between rounds
    (:func:`workflows.tuning.tune_between_rounds`, ``runs/`` of the campaign
    folder) does not read, so every round would silently run untuned.
    """

    def __post_init__(self) -> None:
        try:
            refuse_tuned_on_fireworks(self.definition)
        except ArscInputError as exc:
            raise ArscInputError(f"dft.protocol {exc}") from None

    def key(self, site: str) -> str:
        """Request key of a site's workflow (duplicate-free submission)."""
        d = self.dft
        key = f"{self.definition.name}|{site}|{d.engine}|{d.preset}|{d.relax}"
        # a file without `protocol:` keeps the key it had before protocols existed
        return key if d.protocol is None else f"{key}|{d.protocol_name}"

    def compute(
        self,
        sites: Sequence[str],
        progress: ProgressFn | None = None,
        weights: str | None = None,
    ) -> BatchOutcome:
        """Submit, launch workers, wait until every workflow of the batch has finished."""
        from workflows.executors.fireworks import (
            launch,
            open_launchpad,
            submit_flows,
            worker_jobs,
        )
        from workflows.executors.queue import load_queue_settings
        from workflows.executors.submission import META_SITE, adapter_for

        start = time.perf_counter()
        spec = self.dft.fireworks
        lp_file = Path(spec.launchpad)
        launch_dir = self.folder.resolve() / "fireworks"
        adapter = adapter_for(load_queue_settings(spec.qadapter), lp_file, launch_dir)
        maker = self.maker(weights)
        keys = [self.key(s) for s in sites]
        with open_launchpad(lp_file, write=True) as lp:
            for key, site in zip(keys, sites, strict=True):
                meta = {META_SITE: site, "arsc_campaign": self.definition.name}
                submit_flows(lp, [(key, maker.make([site]))], store=self.store(), metadata=meta)
        with open_launchpad(lp_file) as lp:  # read-only: the workers write from now on
            n = worker_jobs(lp, spec.workers or len(sites), bool(adapter.settings().sequential))
            if n:
                launch(adapter, lp, n, launch_dir)
        per_site, gas = self.plan(sites)
        self._wait(keys, spec.poll_seconds, spec.timeout_seconds, progress, sum(per_site) + gas)
        return _collect(self.store(), sites, self.dft, self.since, time.perf_counter() - start)

    @staticmethod
    def _unfinished(lp: Any, keys: Sequence[str]) -> int:
        """Count the batch's workflows not finished yet (COMPLETED, FIZZLED, DEFUSED are)."""
        done = ("COMPLETED", "FIZZLED", "DEFUSED")
        query = {"metadata.arsc_key": {"$in": list(keys)}, "state": {"$nin": list(done)}}
        return int(lp.workflows.count_documents(query))

    def _wait(
        self,
        keys: Sequence[str],
        poll: float,
        timeout: float,
        progress: ProgressFn | None,
        total: int,
    ) -> None:
        from workflows.executors.fireworks import open_launchpad

        end = time.monotonic() + timeout
        sites = [k.split("|")[1] for k in keys]
        while True:
            with open_launchpad(self.dft.fireworks.launchpad) as lp:
                left = self._unfinished(lp, keys)
            if progress is not None:
                progress(_count_done(self.store(), sites, self.dft), total)
            if not left:
                return
            if time.monotonic() > end:
                raise ArscInputError(
                    f"FireWorks batch not finished after {timeout:g} s ({left} workflows left); "
                    "`arsc campaign resume` waits again"
                )
            time.sleep(poll)


#: Executor name (``dft.executor``) -> batch backend class.
BACKENDS: dict[str, type] = {
    "local": LocalBackend,
    "fireworks": FireworksBackend,
    "replay": ReplayBackend,
}


def make_backend(
    folder: Path, definition: CampaignDefinition, since: datetime, show_progress: bool = True
) -> BatchBackend:
    """Build the batch backend of a definition's ``dft.executor``."""
    name = definition.dft.executor
    if name not in BACKENDS:
        raise unknown("executor", name, BACKENDS)
    backend: BatchBackend = BACKENDS[name](folder, definition, since, show_progress)
    return backend
