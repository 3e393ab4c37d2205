"""Benchmark: build the whole default candidate space with one intermediate.

Prints structures/s (every structure passes the geometry checks) and the peak
memory. Usage::

    python scripts/bench_space.py [--intermediate OH] [--workers 2] [--limit N]
"""

from __future__ import annotations

import argparse
import resource
import time
from concurrent.futures import ProcessPoolExecutor

from arsc.space import Site, binding_modes, enumerate_sites
from arsc.structures import build


def _build_site(args: tuple[Site, str]) -> int:
    """Build the bare site and every mode of the intermediate; return the count."""
    site, intermediate = args
    build(site)
    n = 1
    for mode in binding_modes(site, intermediate):
        build(site, intermediate, mode)
        n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intermediate", default="OH")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="only the first N sites")
    args = parser.parse_args()
    sites = enumerate_sites()[: args.limit]
    jobs = [(s, args.intermediate) for s in sites]
    start = time.perf_counter()
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            count = sum(pool.map(_build_site, jobs, chunksize=16))
    else:
        count = sum(map(_build_site, jobs))
    elapsed = time.perf_counter() - start
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"sites: {len(sites)}; intermediate: {args.intermediate}; workers: {args.workers}")
    print(f"structures built and checked: {count} in {elapsed:.1f} s")
    print(f"structures/s: {count / elapsed:.0f} (goal >= 200)")
    print(f"peak memory: {peak_self:.0f} MiB (main), {peak_children:.0f} MiB (largest worker)")


if __name__ == "__main__":
    main()
