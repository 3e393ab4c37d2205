"""Benchmark the campaign report on a synthetic campaign over the default 2270-site space.

Writes a synthetic finished campaign (every motif, the authors' 20 metals:
2270 sites, ``--rounds`` rounds of ``--batch`` sites) to a temporary folder
and times, best of ``--repeat`` runs:

- reading ``state.json`` and building the report data (the adapter),
- each figure,
- the HTML page (base64 embedding),
- the whole ``write_report`` (what ``arsc report`` runs);

wall and CPU seconds (CPU shows the cost when other work shares the cores).

Run:

    .venv/bin/python scripts/bench_report.py
    .venv/bin/python scripts/bench_report.py --repeat 3 --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from workflows.report import write_report
from workflows.report.adapter import load_report_data
from workflows.report.figures import FIGURES
from workflows.report.html import write_page
from workflows.report.synthetic import write_synthetic_campaign


def _best(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best (wall, CPU) seconds; CPU time shows the cost when other work shares the cores."""
    times = []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
    return min(times)


def main() -> None:
    """Print the timings (seconds)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "campaign"
        start = time.perf_counter()
        write_synthetic_campaign(folder, rounds=args.rounds, batch=args.batch)
        make_state = time.perf_counter() - start
        data = load_report_data(folder)
        out = Path(tmp) / "report"
        out.mkdir()
        times: dict[str, tuple[float, float]] = {
            "adapter (read state.json, build tables)": _best(
                lambda: load_report_data(folder), args.repeat
            )
        }
        figures = {}
        for name, spec in FIGURES.items():
            times[f"figure {name}"] = _best(lambda s=spec: s.build(data, out / "x.png"), 1)
            figures[name] = spec.build(data, out / f"{name}.png")
        kept = {k: v for k, v in figures.items() if v is not None}
        times["page (HTML, base64)"] = _best(
            lambda: write_page(data, kept, out / "report.html"), args.repeat
        )
        times["write_report total"] = _best(lambda: write_report(folder), args.repeat)
        size = (folder / "report" / "report.html").stat().st_size
    doc = {
        "sites": data.funnel.enumerated,
        "computed": data.funnel.computed,
        "synthetic state written (s)": round(make_state, 2),
        "seconds": {k: {"wall": round(w, 2), "cpu": round(c, 2)} for k, (w, c) in times.items()},
        "page_bytes": size,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
    }
    if args.json:
        print(json.dumps(doc))
        return
    print(f"synthetic campaign: {doc['sites']} sites, {doc['computed']} computed by DFT")
    print(f"  {'':45s} {'wall':>7s}   {'CPU':>7s}")
    for name, (wall, cpu) in times.items():
        print(f"  {name:45s} {wall:7.2f} s {cpu:7.2f} s")
    print(f"  page size {size / 1e6:.2f} MB; {doc['machine']}")


if __name__ == "__main__":
    main()
