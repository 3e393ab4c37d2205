"""Benchmark: how close each protocol's adsorption energies come to a full DFT relaxation.

On a fixed set of DAC states (default: Fe-Co, Co-Ni, Ni-Cu and Co-Zn qv-n6
on graphene x *OH, *O, *OOH, 12 states; ``--min-image 5``: the 4 x 4 graphene cell, 30
atoms bare, 31-33 with the adsorbate; GPAW ``fast``) every state runs under
every protocol of ``--protocols`` (:mod:`workflows.protocols`) with the
placement search (``--placements k``: the k lowest distinct CHGNet end points
of each intermediate go to DFT). The reference is ``full``: CHGNet
pre-relaxation, GPAW relaxation to fmax 0.05 eV/A, single point, for every
placement that reaches DFT. Printed per protocol:

* success rate at 0.1 eV -- AdsorbML's criterion (Lan et al., npj Comput.
  Mater. 9, 172 (2023)): a state succeeds when the protocol's best
  adsorption energy over its placements is within 0.1 eV of, or below, the
  reference's best. Adsorption energies are E(state) - E(bare) - sum n
  E(gas) (H2O/H2 references of ``reactions.yaml``), with the reference's bare
  site and gas energies for every protocol, so that a protocol is judged by
  its adsorbed state alone; ``MAE own`` uses the protocol's own bare site
  and gas energies (what its free energies would show);
* MAE of the adsorption energies against the reference, eV;
* DFT force calls (GPAW's, counted in its logs; without a log, ionic steps
  + 1 per relaxation and 1 per single point) and core-hours (wall time of
  the DFT calculations x 1 core), and the ratio of ``full``'s force calls.

``sp-tuned`` follows a campaign: the sites run in order, and for each site
CHGNet is refitted on the GPAW frames of the sites before it
(:func:`workflows.tuning.tune_on_frames`); the first site has no frames yet
and runs untuned (as ``sp``): the row counts only the states it ran tuned
(``+Nu`` says how many ran untuned), and a line compares it with ``sp`` on
those same states (:func:`paired`).

Everything lands in the job store of ``--project`` (one flow per protocol,
site and adsorbate, tagged in the jobs' metadata), so a re-run -- on any
later day -- continues where it stopped and recomputes nothing; the last line
says how many calculations this run computed. The default project is the
repository's ``benchmarks/protocol``: the store, GPAW logs and trajectories of
the benchmark are committed there, so that a fresh machine reprints the table
and continues where the last one stopped (``benchmarks/protocol/README.md``:
stop it with Ctrl-C, which folds the store's write-ahead log into
``store.sqlite``, before committing). ``--budget-core-hours`` stops
starting new flows once the benchmark's DFT has used that much (all runs
together); ``--dry-run`` prints the plan and the estimated cost
(``benchmark`` in ``arsc/data/protocols.yaml``) and runs nothing.
``--max-dft-steps N`` is for smoke runs only: the reference becomes
``relax-N`` (not converged), marked ``full*``.

Usage::

    python scripts/bench_protocol.py --dry-run
    python scripts/bench_protocol.py [--project benchmarks/protocol] [--sites 3|ID,ID]
        [--adsorbates OH,O,OOH] [--protocols full,sp,sp-tuned,relax-3] [--placements 1]
        [--budget-core-hours 14] [--json | --markdown]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from arsc.adsorbates import get_adsorbate
from arsc.errors import ArscInputError
from arsc.placements import PlacementGrid, placements
from arsc.space import Site
from arsc.structures import build
from arsc.thermo import load_network

#: The benchmark's states: four sites of different metals x the ORR intermediates, 12
#: states, so that it can fill the ``measured:`` figures (workflows.protocols.MIN_STATES).
SITES = (
    "Fe-Co_qv-n6_graphene",
    "Co-Ni_qv-n6_graphene",
    "Ni-Cu_qv-n6_graphene",
    "Co-Zn_qv-n6_graphene",
)
ADSORBATES = ("OH", "O", "OOH")
PROTOCOLS = ("full", "sp", "sp-tuned", "relax-3")
#: AdsorbML's success threshold, eV (Lan et al. 2023).
SUCCESS_EV = 0.1
REFERENCE = "full"
#: DFT steps after which the reference's relaxations are read as relax-n (step_curve).
CURVE_STEPS = (0, 1, 2, 3, 5, 8, 12, 20)
#: Default project: the benchmark's store kept in the repository, so that a
#: re-run on a fresh machine continues it (benchmarks/protocol/README.md).
PROJECT = Path(__file__).resolve().parents[1] / "benchmarks" / "protocol"
#: Default DFT budget of the stored benchmark, core-hours: about 3 per site as measured
#: here (docs/engines.md), x 4 sites, plus the gas references and some margin.
BUDGET_CORE_HOURS = 14.0


@dataclass
class Config:
    """What to benchmark (the command-line options)."""

    project: Path
    sites: tuple[str, ...] = SITES
    adsorbates: tuple[str, ...] = ADSORBATES
    protocols: tuple[str, ...] = PROTOCOLS
    placements: int = 1
    modes: tuple[str, ...] | None = None
    min_image: float = 5.0
    engine: str = "gpaw"
    preset: str | None = "fast"
    grid: PlacementGrid = field(default_factory=PlacementGrid)
    mlip_fmax: float | None = None
    max_dft_steps: int | None = None
    budget_core_hours: float = BUDGET_CORE_HOURS
    epochs: int | None = None

    def key(self) -> str:
        """Tag of this benchmark's jobs: everything that changes a calculation."""
        parts = {
            "engine": self.engine,
            "preset": self.preset,
            "min_image": self.min_image,
            "placements": self.placements,
            "modes": self.modes,
            "grid": asdict(self.grid),
            "mlip_fmax": self.mlip_fmax,
            "max_dft_steps": self.max_dft_steps,
            "epochs": self.epochs,
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]

    def reference(self) -> str:
        """Protocol of the reference (``relax-N`` in a smoke run with --max-dft-steps)."""
        return REFERENCE if self.max_dft_steps is None else f"relax-{self.max_dft_steps}"

    def rows(self) -> list[str]:
        """Protocol rows, the reference first."""
        return [REFERENCE, *(p for p in self.protocols if p != REFERENCE)]


# ---- plan and cost estimate ------------------------------------------------------------


def _cost_table() -> dict[str, Any]:
    from importlib.resources import files

    import yaml

    data = yaml.safe_load(files("arsc.data").joinpath("protocols.yaml").read_text())
    return dict(data["benchmark"])


def _gas(adsorbate: str) -> dict[str, float]:
    return {m: n for m, n in load_network().intermediates[adsorbate].items() if n}


def _calls_per_state(protocol: str, kind: str, cost: dict[str, Any]) -> int:
    from workflows.protocols import get_protocol

    proto = get_protocol(protocol)
    if proto.relax == "mlip":
        return 1
    relax = proto.dft_steps + 1 if proto.dft_steps else int(cost["relax_force_calls"][kind])
    return relax + 1


def plan(config: Config) -> dict[str, Any]:
    """Return the states (starts, k), each row's estimated DFT force calls and core-hours."""
    cost = _cost_table()
    states: list[dict[str, Any]] = []
    gas: set[str] = set()
    for site_id in config.sites:
        site = Site.from_id(site_id)
        natoms = len(build(site, None, min_image=config.min_image))
        for ads in config.adsorbates:
            starts = placements(site, ads, config.modes, config.grid, min_image=config.min_image)
            k = min(config.placements, len(starts))
            states.append(
                {
                    "site": site.id,
                    "adsorbate": ads,
                    "atoms": natoms + len(get_adsorbate(ads).symbols),
                    "starts": len(starts),
                    "k": k,
                }
            )
            gas.update(_gas(ads))
    rows = {}
    for row in config.rows():
        protocol = config.reference() if row == REFERENCE else row
        calls = seconds = 0.0
        scale = float(cost["seconds_per_force_call"])
        size = float(cost["atoms_measured"])
        for site_id in config.sites:
            bare = len(build(Site.from_id(site_id), None, min_image=config.min_image))
            n = _calls_per_state(protocol, "bare", cost)
            calls, seconds = calls + n, seconds + n * scale * (bare / size) ** 2
        for s in states:
            n = s["k"] * _calls_per_state(protocol, "adsorbed", cost)
            calls, seconds = calls + n, seconds + n * scale * (s["atoms"] / size) ** 2
        n = len(gas) * _calls_per_state(protocol, "gas", cost)
        calls, seconds = calls + n, seconds + n * float(cost["seconds_per_gas_force_call"])
        rows[row] = {"protocol": protocol, "force_calls": calls, "core_hours": seconds / 3600}
    return {"states": states, "gas": sorted(gas), "rows": rows}


def progress(config: Config) -> dict[str, Any] | None:
    """Return what the store of ``--project`` holds: finished states per row, DFT spent.

    None when the project has no store yet (nothing is created).
    """
    if not (config.project / "store.sqlite").is_file():
        return None
    store = _store(config)
    store.connect()
    try:
        rows = {}
        for row in config.rows():
            done = sum(
                _energies(_site_doc(store, config, row, site, ads), ads) is not None
                for site in config.sites
                for ads in config.adsorbates
            )
            rows[row] = {"done": done, "of": len(config.sites) * len(config.adsorbates)}
        spent = spent_core_hours(store, config)
    finally:
        store.close()
    return {"rows": rows, "spent_core_hours": spent}


# ---- running ---------------------------------------------------------------------------


def _store(config: Config) -> Any:
    from workflows.settings import ArscSettings
    from workflows.store import make_store

    return make_store(ArscSettings(project=config.project))


def _fingerprints(store: Any) -> set[str]:
    docs = store.query({"output.fingerprint": {"$exists": True}}, properties=["output.fingerprint"])
    return {d["output"]["fingerprint"] for d in docs}


def _dft_docs(store: Any, config: Config, **meta: Any) -> dict[str, dict[str, Any]]:
    """Every DFT calculation of the benchmark's jobs matching ``meta``, by fingerprint."""
    query = {
        "metadata.bench": config.key(),
        "metadata.role": "dft",
        "output.fingerprint": {"$exists": True},
    }
    query.update({f"metadata.{k}": v for k, v in meta.items()})
    props = [
        "output.fingerprint",
        "output.engine",
        "output.task",
        "output.wall_time",
        "output.convergence",
        "output.site_id",
        "output.adsorbate",
        "output.status",
        "output.error",
    ]
    return {d["output"]["fingerprint"]: d["output"] for d in store.query(query, properties=props)}


def _force_calls(doc: dict[str, Any], runs: Path) -> int:
    """GPAW force calls of a calculation from its logs; else steps + 1 (relax) or 1 (static)."""
    folder = runs / f"{doc['engine']}-{doc['task']}-{doc['fingerprint'][:12]}"
    logs = sorted(folder.glob("gpaw*.txt")) if doc["engine"] == "gpaw" else []
    counted = sum(p.read_text(errors="replace").count("Forces  # eV/Ang") for p in logs)
    if counted:
        return counted
    steps = int((doc.get("convergence") or {}).get("ionic_steps") or 0)
    return steps + 1 if doc["task"] == "relax" else 1


def spent_core_hours(store: Any, config: Config) -> float:
    """DFT core-hours the benchmark's calculations took (every run so far), h."""
    return sum(float(d.get("wall_time") or 0.0) for d in _dft_docs(store, config).values()) / 3600


def _frame_files(store: Any, config: Config, sites: list[str]) -> list[Path]:
    """GPAW frame files (relaxation trajectories, single points) of the sites' DFT so far."""
    runs = config.project / "runs"
    out = []
    for doc in _dft_docs(store, config).values():
        if doc.get("site_id") not in sites or doc["engine"] != "gpaw":
            continue
        name = "relax.traj" if doc["task"] == "relax" else "static.traj"
        path = runs / f"gpaw-{doc['task']}-{doc['fingerprint'][:12]}" / name
        if path.is_file():
            out.append(path)
    return out


def _tuned(store: Any, config: Config, index: int) -> tuple[str | None, str]:
    """Weights for ``sp-tuned`` at the site of ``index``: tuned on the sites before it."""
    from workflows.tuning import tune_on_frames

    files = _frame_files(store, config, list(config.sites[:index]))
    tuner = None
    if config.epochs is not None:
        from workflows.engines.finetune import ChgnetFinetune

        tuner = ChgnetFinetune(epochs=config.epochs)
    tuned = tune_on_frames(files, config.project / "models" / "tuned", tuner)
    if tuned is None:
        return None, "untuned: no GPAW frames of earlier sites yet"
    return tuned.weights_file, f"tuned on {tuned.frames} frames of {index} earlier site(s)"


def _maker(config: Config, protocol: str, ads: str, weights: str | None) -> Any:
    from workflows.flows import DacAdsorptionFlow
    from workflows.protocols import get_protocol

    knobs: dict[str, Any] = {}
    if config.mlip_fmax is not None or weights is not None:
        from workflows.engines.mlip import MlipRelaxMaker

        mlip: dict[str, Any] = {"weights_file": weights}
        if config.mlip_fmax is not None:
            mlip["fmax"] = config.mlip_fmax
        knobs["prerelax_maker"] = MlipRelaxMaker(**mlip)
    proto = get_protocol(protocol)
    if proto.tuned and weights is None and proto.untuned:
        protocol = proto.untuned  # no frames yet: the untuned twin, recorded as such
    return DacAdsorptionFlow(
        engine=config.engine,
        preset=config.preset,
        protocol=protocol,
        placements=config.placements,
        placement_grid=config.grid,
        intermediates=(ads,),
        modes=config.modes,
        min_image=config.min_image,
        **knobs,
    )


def _run_flow(
    store: Any, config: Config, row: str, site: str, ads: str, weights: str | None
) -> None:
    from workflows.executors.local import run_local

    protocol = config.reference() if row == REFERENCE else row
    maker = _maker(config, protocol, ads, weights)
    flow = maker.make([site])
    flow.update_metadata(
        {"bench": config.key(), "bench_protocol": row, "bench_site": site, "bench_adsorbate": ads}
    )
    runs = config.project / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    run_local(flow, store, progress=False, root_dir=runs)


def _site_doc(store: Any, config: Config, row: str, site: str, ads: str) -> dict[str, Any] | None:
    found = store.query_one(
        {
            "metadata.arsc_doc": "site",
            "metadata.bench": config.key(),
            "metadata.bench_protocol": row,
            "metadata.bench_site": site,
            "metadata.bench_adsorbate": ads,
        },
        properties=["output"],
        sort={"completed_at": -1},
    )
    return found["output"] if found else None


def _finished(store: Any, config: Config, row: str, site: str, ads: str) -> bool:
    """Whether the store holds the state's result for ``row`` (then a re-run leaves it as it is).

    A tuned row's finished state keeps the weights it ran with, even if a later
    refit (more frames of earlier sites) would give other weights.
    """
    return _energies(_site_doc(store, config, row, site, ads), ads) is not None


def _energies(doc: dict[str, Any] | None, ads: str) -> dict[str, Any] | None:
    """Best state energy of ``ads``, bare energy and gas energies of a SiteDoc (None if missing)."""
    if doc is None:
        return None
    ok = [s for s in doc["states"] if s["status"] == "ok" and s.get("energy") is not None]
    bare = [s["energy"] for s in ok if s["adsorbate"] == "bare"]
    state = [s["energy"] for s in ok if s["adsorbate"] == ads]
    gas = doc.get("gas") or {}
    needed = _gas(ads)
    if not bare or not state or any(gas.get(m) is None for m in needed):
        return None
    return {"state": min(state), "bare": bare[0], "gas": {m: gas[m] for m in needed}}


def _adsorption(state: float, bare: float, gas: dict[str, float], ads: str) -> float:
    return state - bare - sum(n * gas[m] for m, n in _gas(ads).items())


def _untuned_twin(row: str) -> str | None:
    """Return the protocol a tuned row runs as before its first refit (None: not tuned)."""
    from workflows.protocols import get_protocol

    if row == REFERENCE:
        return None
    proto = get_protocol(row)
    return proto.untuned if proto.tuned else None


def _rate(value: float | None) -> str:
    """Format a success rate as ``33 %`` (``-``: none)."""
    return "-" if value is None else f"{100 * value:.0f} %"


def _cost(store: Any, config: Config, row: str, sites: list[str]) -> tuple[int, float]:
    """GPAW force calls and core-hours of a row's calculations at ``sites``."""
    runs = config.project / "runs"
    docs = {  # a shared gas reference once
        fp: d
        for site in sites
        for fp, d in _dft_docs(store, config, bench_protocol=row, bench_site=site).items()
    }
    calls = sum(_force_calls(d, runs) for d in docs.values())
    hours = sum(float(d.get("wall_time") or 0.0) for d in docs.values()) / 3600
    return calls, hours


def _summary(states: list[dict[str, Any]]) -> dict[str, Any]:
    """Success rate at :data:`SUCCESS_EV` and MAEs of per-state adsorption energies."""
    n = len(states)
    if not n:
        return {"states": 0, "success_rate": None, "mae_ev": None, "mae_own_ev": None}
    return {
        "states": n,
        "success_rate": sum(s["protocol"] <= s["reference"] + SUCCESS_EV for s in states) / n,
        "mae_ev": sum(abs(s["protocol"] - s["reference"]) for s in states) / n,
        "mae_own_ev": sum(abs(s["own"] - s["reference"]) for s in states) / n,
    }


def paired(rows: dict[str, Any], row: str, twin: str) -> dict[str, Any] | None:
    """``row`` against ``twin`` on the states both finished (sp-tuned against sp).

    Returns the number of shared states and each row's success rate and MAEs
    on them, or None when they share none.
    """
    if row not in rows or twin not in rows:
        return None
    mine = {(s["site"], s["adsorbate"]): s for s in rows[row]["per_state"]}
    theirs = [s for s in rows[twin]["per_state"] if (s["site"], s["adsorbate"]) in mine]
    if not theirs:
        return None
    shared = [mine[(s["site"], s["adsorbate"])] for s in theirs]
    return {"twin": twin, row: _summary(shared), twin: _summary(theirs)}


def evaluate(store: Any, config: Config) -> dict[str, Any]:
    """Compare every row with the reference on every state both finished.

    A tuned row (``sp-tuned``) counts only the states it ran with tuned
    weights; those it ran untuned (the first site: no earlier frames) are
    its untuned twin's calculations, counted in ``untuned_states``, and its
    force calls, core-hours and ratio are those of its tuned sites (the
    reference's on the same sites).
    """
    table: dict[str, Any] = {}
    ref_calls: dict[tuple[str, ...], int] = {}
    twins: dict[str, str] = {}  # tuned row -> the protocol it runs as untuned
    for row in config.rows():
        twin, states, untuned = _untuned_twin(row), [], 0
        if twin:
            twins[row] = twin
        for site in config.sites:
            for ads in config.adsorbates:
                ref = _energies(_site_doc(store, config, REFERENCE, site, ads), ads)
                doc = _site_doc(store, config, row, site, ads)
                got = _energies(doc, ads)
                if ref is None or got is None:
                    continue
                if twin and doc is not None and doc.get("protocol") != row:
                    untuned += 1
                    continue
                states.append(
                    {
                        "site": site,
                        "adsorbate": ads,
                        "reference": _adsorption(ref["state"], ref["bare"], ref["gas"], ads),
                        "protocol": _adsorption(got["state"], ref["bare"], ref["gas"], ads),
                        "own": _adsorption(got["state"], got["bare"], got["gas"], ads),
                    }
                )
        sites = list(config.sites)
        if twin:
            sites = [s for s in config.sites if any(st["site"] == s for st in states)]
        calls, hours = _cost(store, config, row, sites)
        key = tuple(sites)
        if key not in ref_calls:
            ref_calls[key] = _cost(store, config, REFERENCE, sites)[0]
        table[row] = {
            **_summary(states),
            "untuned_states": untuned,
            "force_calls": calls,
            "core_hours": hours,
            "force_call_ratio": ref_calls[key] / calls if calls else None,
            "per_state": states,
        }
    for row, twin in twins.items():
        table[row]["versus"] = paired(table, row, twin)
    return table


def _usable(doc: dict[str, Any]) -> bool:
    """Say whether a relaxation finished, or only ran out of steps (a relax-N smoke reference)."""
    from workflows.chain import NOT_CONVERGED

    return doc.get("status") == "ok" or (doc.get("error") or "").startswith(NOT_CONVERGED)


def _accepted_energies(path: Path) -> list[float]:
    """Energies of the frames of a relaxation trajectory that moved the atoms, eV."""
    from workflows.engines.trajectory import moved_frames, trajectory_frames

    return [float(f.get_potential_energy()) for f in moved_frames(trajectory_frames(path))]


def reference_trajectories(store: Any, config: Config, site: str, ads: str) -> list[Path]:
    """Return the relax.traj of every finished ``full`` relaxation of ``ads`` at ``site``.

    Frame 0 of each is the CHGNet end point that ``sp`` computes its single
    point at (GPAW's energy and forces there).
    """
    runs = config.project / "runs"
    docs = _dft_docs(store, config, bench_protocol=REFERENCE, bench_site=site, bench_adsorbate=ads)
    return [
        runs / f"{d['engine']}-relax-{d['fingerprint'][:12]}" / "relax.traj"
        for d in docs.values()
        if d["task"] == "relax" and d.get("adsorbate") == ads and _usable(d)
    ]


def step_curve(store: Any, config: Config, steps: tuple[int, ...] = CURVE_STEPS) -> dict[str, Any]:
    """Read the reference's own DFT relaxations after n steps: ``relax-n`` without new DFT.

    Every ``full`` relaxation of an adsorbed state starts at the CHGNet end
    point that ``sp`` and ``relax-n`` start from, with the same optimiser, so
    its frame n is the end point a ``relax-n`` run would reach (before its
    closing single point; a run whose SCF ladder changed the smearing has
    its later frames at the changed settings). Per n: the states, the
    success rate at :data:`SUCCESS_EV` and the MAE of the adsorption
    energies against the reference (its bare site and gas energies), and the
    reference's accepted steps per state, for scale.
    """
    curves: list[tuple[float, list[float]]] = []  # reference E_ads, E_ads after each frame
    full_steps = []
    for site in config.sites:
        for ads in config.adsorbates:
            ref = _energies(_site_doc(store, config, REFERENCE, site, ads), ads)
            if ref is None:
                continue
            paths = reference_trajectories(store, config, site, ads)
            per_start = [e for e in (_accepted_energies(p) for p in paths) if e]
            if not per_start:
                continue
            full_steps.append(max(len(e) - 1 for e in per_start))
            e_ref = _adsorption(ref["state"], ref["bare"], ref["gas"], ads)
            longest = max(len(e) for e in per_start)
            best = [min(e[min(n, len(e) - 1)] for e in per_start) for n in range(longest)]
            curves.append((e_ref, [_adsorption(x, ref["bare"], ref["gas"], ads) for x in best]))
    points = []
    for n in steps:
        errors = [c[min(n, len(c) - 1)] - e_ref for e_ref, c in curves]
        points.append(
            {
                "steps": n,
                "states": len(errors),
                "success_rate": (
                    sum(e <= SUCCESS_EV for e in errors) / len(errors) if errors else None
                ),
                "mae_ev": sum(abs(e) for e in errors) / len(errors) if errors else None,
            }
        )
    mean_steps = sum(full_steps) / len(full_steps) if full_steps else None
    return {"points": points, "full_mean_steps": mean_steps}


def run(config: Config) -> dict[str, Any]:
    """Run what is not finished yet (within the budget) and evaluate everything there is."""
    store = _store(config)
    store.connect()
    try:
        before = _fingerprints(store)
        notes: dict[str, str] = {}
        stopped = None
        for index, site in enumerate(config.sites):
            weights = None
            if "sp-tuned" in config.rows():
                weights, notes[site] = _tuned(store, config, index)
            for ads in config.adsorbates:
                for row in config.rows():
                    spent = spent_core_hours(store, config)
                    if spent >= config.budget_core_hours:
                        stopped = (
                            f"budget of {config.budget_core_hours:g} core-hours spent "
                            f"({spent:.2f} h); raise --budget-core-hours and re-run to continue"
                        )
                        break
                    if _finished(store, config, row, site, ads):
                        continue  # no flow at all: a cached job would still store its output again
                    _run_flow(store, config, row, site, ads, weights if row == "sp-tuned" else None)
                if stopped:
                    break
            if stopped:
                break
        table = evaluate(store, config)
        curve = step_curve(store, config)
        new = len(_fingerprints(store) - before)
        spent = spent_core_hours(store, config)
    finally:
        store.close()
    return {
        "date": datetime.now(UTC).date().isoformat(),
        "key": config.key(),
        "reference": config.reference(),
        "rows": table,
        "tuning": notes,
        "stopped": stopped,
        "new_calculations": new,
        "spent_core_hours": spent,
        "step_curve": curve,
    }


# ---- output ----------------------------------------------------------------------------


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_plan(config: Config, planned: dict[str, Any], done: dict[str, Any] | None = None) -> None:
    """Print the states, the rows and the estimated cost (and what the store holds)."""
    where = f"{config.engine} {config.preset}, min_image {config.min_image:g} A"
    print(f"benchmark {config.key()} in {config.project} ({where})")
    for s in planned["states"]:
        print(
            f"  {s['site']} *{s['adsorbate']}: {s['atoms']} atoms, "
            f"{s['starts']} starts, {s['k']} to DFT"
        )
    print(f"  gas references: {', '.join(planned['gas'])}")
    total = 0.0
    for row, est in planned["rows"].items():
        total += est["core_hours"]
        print(
            f"  {row:10s} ({est['protocol']}): ~{est['force_calls']:.0f} DFT force calls, "
            f"~{est['core_hours']:.2f} core-hours"
        )
    print(
        f"estimated total {total:.2f} core-hours (budget {config.budget_core_hours:g}); "
        "MLIP screening not counted"
    )
    if done is None:
        print("the store is empty: a run starts from the beginning")
        return
    finished = ", ".join(f"{row} {r['done']}/{r['of']}" for row, r in done["rows"].items())
    print(
        f"in the store: states finished {finished}; DFT so far "
        f"{done['spent_core_hours']:.2f} core-hours (a run continues from there)"
    )


HEADER = ("protocol", "states", "success@0.1eV", "MAE eV", "MAE own", "force calls", "x fewer")


def print_result(config: Config, result: dict[str, Any]) -> None:
    """Print the table per protocol, then how this run went."""
    ref = result["reference"]
    mark = "*" if ref != REFERENCE else ""
    print(f"protocol benchmark {result['key']} ({result['date']}), reference {REFERENCE}{mark}")
    print(f"{HEADER[0]:12s}" + "".join(f" {h:>13s}" for h in (*HEADER[1:], "core-hours")))
    for row, r in result["rows"].items():
        untuned = r.get("untuned_states")
        cells = (
            f"{r['states']}+{untuned}u" if untuned else str(r["states"]),
            _rate(r["success_rate"]),
            _fmt(r["mae_ev"], ".3f"),
            _fmt(r["mae_own_ev"], ".3f"),
            str(r["force_calls"]),
            _fmt(r["force_call_ratio"], ".1f"),
            f"{r['core_hours']:.3f}",
        )
        name = f"{row}{mark}" if row == REFERENCE else row
        print(f"{name:12s}" + "".join(f" {c:>13s}" for c in cells))
    if any(r.get("untuned_states") for r in result["rows"].values()):
        print("+Nu: N more states ran untuned (no earlier frames), not counted in the row")
    print_states(result["rows"])
    print_versus(result["rows"])
    print_curve(result["step_curve"])
    for site, note in result["tuning"].items():
        print(f"sp-tuned at {site}: {note}")
    if mark:
        print(f"* smoke run: the reference is {ref} (--max-dft-steps), not a converged relaxation")
    if result["stopped"]:
        print(result["stopped"])
    print(
        f"this run computed {result['new_calculations']} new calculations; "
        f"DFT so far {result['spent_core_hours']:.3f} core-hours"
    )


def state_table(rows: dict[str, Any]) -> dict[tuple[str, str], dict[str, float]]:
    """Adsorption energy per state (site, adsorbate) and row, eV, from the evaluated rows.

    The reference's value is under ``REFERENCE``; a row appears for a state
    only where it and the reference both finished.
    """
    table: dict[tuple[str, str], dict[str, float]] = {}
    for row, r in rows.items():
        for st in r["per_state"]:
            key = (st["site"], st["adsorbate"])
            table.setdefault(key, {REFERENCE: st["reference"]})[row] = st["protocol"]
    return table


def print_states(rows: dict[str, Any]) -> None:
    """Print each finished state's adsorption energies: the reference, each row's error."""
    table = state_table(rows)
    if not table:
        return
    others = [r for r in rows if r != REFERENCE]
    print("adsorption energies, eV (reference; each protocol's error against it, + is above)")
    print(f"{'state':28s} {REFERENCE:>9s}" + "".join(f" {r:>9s}" for r in others))
    for (site, ads), values in table.items():
        ref = values[REFERENCE]
        cells = [_fmt(values[r] - ref if r in values else None, "+.3f") for r in others]
        name = f"{site.split('_')[0]} *{ads}"
        print(f"{name:28s} {ref:9.3f}" + "".join(f" {c:>9s}" for c in cells))


def print_versus(rows: dict[str, Any]) -> None:
    """Print each tuned row against its untuned twin on the same states."""
    for row, r in rows.items():
        versus = r.get("versus")
        if not versus:
            continue
        twin = versus["twin"]
        mine, theirs = versus[row], versus[twin]
        print(
            f"{row} against {twin} on the same {mine['states']} states: success@0.1eV "
            f"{_rate(mine['success_rate'])} vs {_rate(theirs['success_rate'])}, "
            f"MAE {mine['mae_ev']:.3f} vs {theirs['mae_ev']:.3f} eV, "
            f"MAE own {mine['mae_own_ev']:.3f} vs {theirs['mae_own_ev']:.3f} eV"
        )


def print_curve(curve: dict[str, Any]) -> None:
    """Print the success rate and MAE of the reference's relaxations read after n steps."""
    points = [p for p in curve["points"] if p["states"]]
    if not points:
        return
    mean = curve["full_mean_steps"]
    print(
        "the reference's relaxations read after n DFT steps (relax-n without new DFT; "
        f"full took {mean:.0f} steps per state on average):"
    )
    print("  n steps " + "".join(f" {p['steps']:>6d}" for p in points))
    rates = [_fmt(100 * p["success_rate"], ".0f") + "%" for p in points]
    print("  success " + "".join(f" {r:>6s}" for r in rates))
    print("  MAE eV  " + "".join(f" {_fmt(p['mae_ev'], '.3f'):>6s}" for p in points))


def _list(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(x.strip() for x in text.split(",") if x.strip())


def _floats(text: str | None, default: tuple[float, ...]) -> tuple[float, ...]:
    return default if text is None else tuple(float(x) for x in text.split(","))


def parse(argv: list[str] | None = None) -> tuple[Config, argparse.Namespace]:
    """Parse the command line into a :class:`Config`."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--project",
        type=Path,
        default=PROJECT,
        help="store and runs folder (default: the repository's benchmarks/protocol)",
    )
    p.add_argument(
        "--sites",
        default=None,
        help=f"number of default sites (1-{len(SITES)}) or site ids, comma-separated",
    )
    p.add_argument("--adsorbates", default=",".join(ADSORBATES))
    p.add_argument("--protocols", default=",".join(PROTOCOLS))
    p.add_argument(
        "--placements",
        type=int,
        default=1,
        help="k: end points per intermediate to DFT (1: the stored benchmark; 3 costs 3x)",
    )
    p.add_argument("--modes", default=None, help="binding modes (default: all the site allows)")
    p.add_argument(
        "--min-image", type=float, default=5.0, help="Angstrom (5: the 30-atom 4x4 cell)"
    )
    p.add_argument("--engine", default="gpaw", help="DFT engine (mlip: a plumbing test only)")
    p.add_argument("--preset", default=None, help="engine preset (default: fast for gpaw)")
    p.add_argument(
        "--tilts", default=None, help="placement tilts, degrees (default: protocols.yaml)"
    )
    p.add_argument("--rotations", default=None, help="placement rotations, degrees")
    p.add_argument("--heights", default=None, help="placement heights, Angstrom")
    p.add_argument("--mlip-fmax", type=float, default=None, help="MLIP force criterion, eV/A")
    p.add_argument(
        "--max-dft-steps", type=int, default=None, help="smoke runs: cap the reference's DFT steps"
    )
    p.add_argument(
        "--epochs", type=int, default=None, help="sp-tuned refit epochs (default: mlip_models.yaml)"
    )
    p.add_argument(
        "--budget-core-hours",
        type=float,
        default=BUDGET_CORE_HOURS,
        help="stop starting flows once the benchmark's DFT has used this much (all runs)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the plan and estimated cost only")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--markdown", action="store_true", help="print the tables as Markdown (docs/engines.md)"
    )
    args = p.parse_args(argv)
    sites: tuple[str, ...] = SITES
    if args.sites is not None:
        sites = (
            SITES[: int(args.sites)]
            if args.sites.isdigit()
            else tuple(Site.from_id(s).id for s in _list(args.sites) or ())
        )
    base = PlacementGrid()
    grid = PlacementGrid(
        tilts=_floats(args.tilts, base.tilts),
        rotations=_floats(args.rotations, base.rotations),
        heights=_floats(args.heights, base.heights),
    )
    config = Config(
        project=args.project,
        sites=sites,
        adsorbates=_list(args.adsorbates) or ADSORBATES,
        protocols=_list(args.protocols) or PROTOCOLS,
        placements=args.placements,
        modes=_list(args.modes),
        min_image=args.min_image,
        engine=args.engine,
        preset=args.preset if args.preset or args.engine != "gpaw" else "fast",
        grid=grid,
        mlip_fmax=args.mlip_fmax,
        max_dft_steps=args.max_dft_steps,
        budget_core_hours=args.budget_core_hours,
        epochs=args.epochs,
    )
    return config, args


def check(config: Config) -> None:
    """Check names and numbers before anything runs (one-line ArscInputError)."""
    from workflows.protocols import canonical_protocol

    if not config.sites:
        raise ArscInputError(f"--sites: give a number (1-{len(SITES)}) or site ids")
    for name in config.protocols:
        canonical_protocol(name)
    for ads in config.adsorbates:
        if ads not in load_network().intermediates:
            raise ArscInputError(f"--adsorbates: unknown intermediate {ads!r}")
    if config.placements < 1:
        raise ArscInputError(f"--placements {config.placements}: must be >= 1")
    if not config.budget_core_hours > 0:
        raise ArscInputError(f"--budget-core-hours {config.budget_core_hours}: must be > 0")


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


_MD_HEADER = ["protocol", "states", "success@0.1 eV", "MAE (eV)", "MAE own (eV)"]


def _md_cells(v: dict[str, Any]) -> list[str]:
    return [_rate(v["success_rate"]), _fmt(v["mae_ev"], ".3f"), _fmt(v["mae_own_ev"], ".3f")]


def _md_summary(rows: dict[str, Any]) -> list[str]:
    body = []
    for name, r in rows.items():
        untuned = r.get("untuned_states")
        body.append(
            [
                f"{name} (reference)" if name == REFERENCE else name,
                f"{r['states']} (+{untuned} untuned)" if untuned else str(r["states"]),
                *_md_cells(r),
                str(r["force_calls"]),
                _fmt(r["force_call_ratio"], ".1f"),
                f"{r['core_hours']:.2f}",
            ]
        )
    return _md_table([*_MD_HEADER, "GPAW force calls", "x fewer", "core-hours"], body)


def _md_states(rows: dict[str, Any]) -> list[str]:
    others = [r for r in rows if r != REFERENCE]
    body = [
        [f"{site.split('_')[0]} *{ads}", f"{v[REFERENCE]:.3f}"]
        + [_fmt(v[r] - v[REFERENCE] if r in v else None, "+.3f") for r in others]
        for (site, ads), v in state_table(rows).items()
    ]
    return _md_table(["state", REFERENCE, *others], body)


def _md_versus(rows: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for name, r in rows.items():
        versus = r.get("versus")
        if versus:
            pair = [(name, versus[name]), (versus["twin"], versus[versus["twin"]])]
            body = [[k, str(v["states"]), *_md_cells(v)] for k, v in pair]
            lines += ["", *_md_table(_MD_HEADER, body)]
    return lines


def _md_curve(curve: dict[str, Any]) -> list[str]:
    points = [p for p in curve["points"] if p["states"]]
    if not points:
        return []
    body = [
        ["success@0.1 eV", *(_rate(p["success_rate"]) for p in points)],
        ["MAE (eV)", *(_fmt(p["mae_ev"], ".3f") for p in points)],
    ]
    return ["", *_md_table(["n steps", *(str(p["steps"]) for p in points)], body)]


def markdown(result: dict[str, Any]) -> str:
    """Return the result as Markdown tables: rows, states, tuned row vs twin, step curve."""
    rows = result["rows"]
    lines = [*_md_summary(rows), "", *_md_states(rows), *_md_versus(rows)]
    return "\n".join(lines + _md_curve(result["step_curve"]))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or print its plan); 0 on success, 2 on bad input."""
    try:
        config, args = parse(argv)
        check(config)
        planned = plan(config)
        if args.dry_run:
            done = progress(config)
            if args.json:
                print(json.dumps({"plan": planned, "key": config.key(), "progress": done}))
            else:
                print_plan(config, planned, done)
            return 0
        result = run(config)
    except ArscInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    elif args.markdown:
        print(markdown(result))
    else:
        print_result(config, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
