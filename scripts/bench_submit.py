"""Submission overhead per job (flow -> workflow -> LaunchPad); one job's latency through SLURM.

Part 1, submission overhead for ``--jobs`` jobs (default 1,000), split into
flow conversion (jobflow ``flow_to_workflow``, which also serialises the job
store into every firework) and LaunchPad insert (``add_wf`` plus the
duplicate check of :func:`workflows.executors.fireworks.submit_flows`), for

* trivial jobs: flows of 10 one-line jobs (a chain), as many as needed;
* real DAC flows: :class:`workflows.flows.DacAdsorptionFlow` (MLIP engine,
  ORR, every binding mode; about 35 jobs per site with structures) for as
  many sites as needed.

The LaunchPad is FireWorks' mongomock backend (no MongoDB server can run
here): its insert is an in-memory dict update plus one JSON file write at the
end, so the insert figures are NOT those of a MongoDB server, where every
``add_wf`` is a few network round trips. The conversion figures hold for any
backend.

Part 2 (``--slurm``, needs root for scripts/slurm.sh): the end-to-end latency
of one trivial job (:func:`workflows.executors.probe.probe`) through the
local SLURM: submit + sbatch, queue wait, worker start-up and run, until the
LaunchPad says COMPLETED; repeated ``--repeat`` times.

Usage::

    python scripts/bench_submit.py                  # part 1, 1,000 jobs
    python scripts/bench_submit.py --slurm          # both parts
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _mongomock_launchpad(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "launchpad-db.json"
    db.write_text("{}")
    os.environ["MONGOMOCK_SERVERSTORE_FILE"] = str(db)
    lp_file = folder / "launchpad.yaml"
    lp_file.write_text("host: localhost\nname: arsc_bench\n")
    from workflows.executors.fireworks import open_launchpad

    with open_launchpad(lp_file, write=True) as lp:
        lp.reset("", require_password=False)
    return lp_file


def trivial_flows(n_jobs: int) -> list[tuple[str, Any]]:
    """Flows of 10 chained probe jobs, enough for ``n_jobs`` jobs."""
    from jobflow import Flow

    from workflows.executors.probe import probe

    flows = []
    for i in range(-(-n_jobs // 10)):
        jobs = [probe(f"{i}-0")]
        for k in range(1, 10):
            jobs.append(probe(jobs[-1].output["tag"]))
            jobs[-1].name = f"probe {i}-{k}"
        flows.append((f"trivial-{i}", Flow(jobs)))
    return flows


def dac_flows(n_jobs: int) -> tuple[list[tuple[str, Any]], float]:
    """Real DAC flows (MLIP engine, ORR, all modes) for enough sites; also the build time."""
    from arsc.space import Site
    from workflows.flows import DacAdsorptionFlow

    metals = ["Fe", "Co", "Ni", "Cu", "Mn", "Cr", "Ru", "Rh", "Pd", "Ir", "Pt", "Zn"]
    maker = DacAdsorptionFlow(engine="mlip", reactions=("orr",), min_image=9.5)
    flows, total, start = [], 0, time.perf_counter()
    pairs = ((a, b) for i, a in enumerate(metals) for b in metals[i:])
    for m1, m2 in pairs:
        site = Site.from_id(f"{m1}-{m2}_qv-n6_graphene").id
        flow = maker.make([site])
        flows.append((f"dac-{site}", flow))
        total += len(flow.jobs)
        if total >= n_jobs:
            break
    return flows, time.perf_counter() - start


def _count_jobs(flow: Any) -> int:
    return len(flow.jobs)


def submission_overhead(label: str, flows: list[tuple[str, Any]], folder: Path) -> None:
    """Time conversion and insert separately for ``flows``; print ms per job."""
    from jobflow.managers.fireworks import flow_to_workflow

    from workflows.executors.fireworks import flush, open_launchpad
    from workflows.settings import ArscSettings
    from workflows.store import make_store

    lp_file = _mongomock_launchpad(folder / label)
    store = make_store(ArscSettings(project=folder / label / "proj"))
    n = sum(_count_jobs(f) for _, f in flows)
    t0 = time.perf_counter()
    wfs = [
        (key, flow_to_workflow(flow, store=store, metadata={"arsc_key": key}))
        for key, flow in flows
    ]
    t_convert = time.perf_counter() - t0
    with open_launchpad(lp_file) as lp:
        t0 = time.perf_counter()
        for key, wf in wfs:
            lp.workflows.find_one({"metadata.arsc_key": key}, {"nodes": 1})  # duplicate check
            lp.add_wf(wf)
        t_insert = time.perf_counter() - t0
        t0 = time.perf_counter()
        flush(lp)
        t_flush = time.perf_counter() - t0
        fireworks = lp.fireworks.count_documents({})
    size = Path(os.environ["MONGOMOCK_SERVERSTORE_FILE"]).stat().st_size / 1e6
    total = t_convert + t_insert + t_flush
    print(f"{label}: {n} jobs in {len(flows)} flows -> {fireworks} fireworks")
    print(f"  flow conversion  {1e3 * t_convert / n:7.2f} ms/job  ({t_convert:.2f} s)")
    print(f"  LaunchPad insert {1e3 * t_insert / n:7.2f} ms/job  ({t_insert:.2f} s, mongomock)")
    print(f"  file write       {1e3 * t_flush / n:7.2f} ms/job  ({t_flush:.2f} s, {size:.1f} MB)")
    print(f"  total            {1e3 * total / n:7.2f} ms/job")


def _queue_wait(job_id: str) -> float | None:
    """Seconds between SLURM's Submit and Start of a job (its records; 1 s resolution)."""
    from datetime import datetime

    out = subprocess.run(
        ["sacct", "-c", "-P", "-n", "-j", job_id, "--format=Submit,Start"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not out:
        return None
    submit, start = (datetime.fromisoformat(t) for t in out.splitlines()[0].split("|"))
    return (start - submit).total_seconds()


def slurm_latency(folder: Path, repeat: int) -> None:
    """Submit one probe job through SLURM ``repeat`` times; print the latencies."""
    from jobflow import Flow

    from workflows.executors.fireworks import launch, open_launchpad, status_rows, submit_flows
    from workflows.executors.probe import probe
    from workflows.executors.queue import load_queue_settings, make_adapter
    from workflows.executors.submission import for_backend
    from workflows.settings import ArscSettings
    from workflows.store import make_store

    script = str(ROOT / "scripts/slurm.sh")
    subprocess.run(["bash", script, "start"], check=True)
    conf = subprocess.run(["bash", script, "conf"], capture_output=True, text=True, check=True)
    os.environ["SLURM_CONF"] = conf.stdout.strip()
    lp_file = _mongomock_launchpad(folder / "slurm")
    store = make_store(ArscSettings(project=folder / "slurm" / "proj"))
    queue = load_queue_settings(None, {"cpus_per_task": 1, "job_name": "arsc-bench"})
    adapter = make_adapter(for_backend(queue), lp_file)
    to_end, to_seen, sbatch, job_ids = [], [], [], []
    for i in range(repeat):
        tag = f"latency-{i}"
        t0, wall0 = time.perf_counter(), time.time()
        with open_launchpad(lp_file, write=True) as lp:
            submit_flows(lp, [(tag, Flow([probe(tag)]))], store=store)
        with open_launchpad(lp_file) as lp:
            t1 = time.perf_counter()
            job_ids += launch(adapter, lp, 1, folder / "slurm" / "launch")
            sbatch.append(time.perf_counter() - t1)
        while True:
            with open_launchpad(lp_file) as lp:
                if all(r["state"] == "COMPLETED" for r in status_rows(lp)):
                    break
            time.sleep(0.05)
        to_seen.append(time.perf_counter() - t0)
        store.connect()
        doc = store.query_one({"output.tag": tag}, ["output"]) or {}
        to_end.append(doc["output"]["finished_at"] - wall0)
    while subprocess.run(["squeue", "-h", "-n", "arsc-bench"], capture_output=True).stdout:
        time.sleep(0.2)  # the last worker leaves the queue; then SLURM writes its record
    waits = [w for w in map(_queue_wait, job_ids) if w is not None]

    def fmt(values: list[float]) -> str:
        low, high = min(values), max(values)
        return f"median {statistics.median(values):.2f} s (min {low:.2f}, max {high:.2f})"

    print(f"one trivial job through SLURM ({repeat} runs; local SLURM, mongomock LaunchPad):")
    print(f"  submit to job finished (job's clock)  {fmt(to_end)}")
    print(f"  submit to COMPLETED seen on LaunchPad {fmt(to_seen)}")
    print(f"  sbatch call                           {fmt(sbatch)}")
    if waits:
        print(f"  SLURM queue wait (sacct, 1 s steps)   {fmt(waits)}")
    print("  the rest is the worker's start-up (Python, FireWorks, jobflow imports) and the job")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000, help="jobs to submit (default 1000)")
    parser.add_argument("--slurm", action="store_true", help="also time one job through SLURM")
    parser.add_argument("--repeat", type=int, default=5, help="SLURM latency runs (default 5)")
    parser.add_argument("--no-dac", action="store_true", help="skip the real DAC flows")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        submission_overhead("trivial", trivial_flows(args.jobs), folder)
        if not args.no_dac:
            flows, build = dac_flows(args.jobs)
            n = sum(_count_jobs(f) for _, f in flows)
            print(f"building {len(flows)} DAC flows: {1e3 * build / n:.2f} ms/job ({build:.2f} s)")
            submission_overhead("dac", flows, folder)
        if args.slurm:
            if os.geteuid() != 0:
                print("--slurm needs root (scripts/slurm.sh installs and starts SLURM)")
                return 1
            slurm_latency(folder, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
