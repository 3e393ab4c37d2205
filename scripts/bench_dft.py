"""Benchmark: GPAW relaxation of one 48-atom M2N6 site with and without MLIP pre-relaxation.

Relaxes the bare site (default Fe-Co qv-n6 on graphene, ``min_image=9.5``:
C40N6FeCo, 48 atoms) with GPAW twice: from the built structure, and from the
structure pre-relaxed with an MLIP (CHGNet by default). Prints the GPAW ionic
steps and wall times of both and the reduction in GPAW steps (goal >= 70 %
fewer). The optimiser part of the failure ladder is switched off so that
``--max-steps`` is a hard cap (a capped run is reported as not converged).
Then, unless ``--skip-store``, runs ``scripts/bench_store.py`` (orchestration
overhead per job on the embedded store, owned by the store helper) if present.

A full GPAW relaxation without pre-relaxation takes 45-90 min on two cores
(platform.md); use a looser ``--fmax`` and a ``--max-steps`` cap for a quick
figure. Usage::

    python scripts/bench_dft.py [--preset fast] [--fmax 0.05] [--max-steps 100]
        [--mlip chgnet] [--mlip-fmax 0.05] [--only both|with|without] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from arsc.space import Site
from arsc.structures import build
from workflows.engines.gpaw import GpawRelaxMaker, recovery_ladder
from workflows.schemas import CalcDoc


def _gpaw_maker(args: argparse.Namespace, scratch: str) -> GpawRelaxMaker:
    scf_only = {
        "scf": [{"label": s.label, "set": dict(s.changes)} for s in recovery_ladder()["scf"]],
        "optimizer": [],
    }
    return GpawRelaxMaker(
        preset=args.preset,
        fmax=args.fmax,
        steps=args.max_steps,
        scratch_dir=scratch,
        recovery=scf_only,
    )


def _summary(doc: CalcDoc) -> dict[str, Any]:
    c = doc.convergence
    return {
        "steps": c.ionic_steps,
        "converged": c.converged,
        "fmax": c.fmax,
        "energy": doc.energy,
        "wall_s": doc.wall_time,
        "error": doc.error,
    }


def run_without(args: argparse.Namespace, atoms: Any, scratch: str) -> dict[str, Any]:
    """GPAW relaxation from the built structure."""
    return {"gpaw": _summary(_gpaw_maker(args, scratch).run(atoms))}


def run_with(args: argparse.Namespace, atoms: Any, scratch: str) -> dict[str, Any]:
    """MLIP pre-relaxation, then GPAW relaxation from its final structure."""
    from workflows.engines.mlip import MlipRelaxMaker

    mlip = MlipRelaxMaker(model=args.mlip, fmax=args.mlip_fmax, scratch_dir=scratch).run(atoms)
    gpaw = _gpaw_maker(args, scratch).run(mlip)
    return {"mlip": _summary(mlip), "gpaw": _summary(gpaw)}


def _print(result: dict[str, Any]) -> None:
    s = result["settings"]
    print(
        f"site {s['site']} ({s['natoms']} atoms); GPAW preset {s['preset']}, "
        f"fmax {s['fmax']} eV/A, max {s['max_steps']} steps; MLIP {s['mlip']} "
        f"fmax {s['mlip_fmax']} eV/A"
    )
    for key, label in (("without", "GPAW from the built structure"), ("with", "MLIP + GPAW")):
        if key not in result:
            continue
        part = result[key]
        if "mlip" in part:
            m = part["mlip"]
            print(f"  MLIP pre-relaxation: {m['steps']} steps, {m['wall_s']:.0f} s")
        g = part["gpaw"]
        state = "converged" if g["converged"] else f"NOT converged (fmax {g['fmax']})"
        print(f"  {label}: {g['steps']} GPAW steps, {g['wall_s']:.0f} s, {state}")
    if "reduction" in result:
        saved = 100 * result["reduction"]
        print(f"GPAW steps saved by MLIP pre-relaxation: {saved:.0f} % (goal >= 70 %)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", default="Fe-Co_qv-n6_graphene")
    parser.add_argument("--min-image", type=float, default=9.5)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--fmax", type=float, default=0.05, help="GPAW force criterion, eV/A")
    parser.add_argument("--max-steps", type=int, default=100, help="cap on GPAW steps per run")
    parser.add_argument("--mlip", default="chgnet")
    parser.add_argument("--mlip-fmax", type=float, default=0.05)
    parser.add_argument("--only", choices=("both", "with", "without"), default="both")
    parser.add_argument("--scratch", default=None, help="folder for logs and trajectories")
    parser.add_argument("--skip-store", action="store_true", help="skip scripts/bench_store.py")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args()

    atoms = build(Site.from_id(args.site), min_image=args.min_image)
    scratch = args.scratch or tempfile.mkdtemp(prefix="bench_dft_")
    result: dict[str, Any] = {
        "settings": {
            "site": args.site,
            "natoms": len(atoms),
            "preset": args.preset,
            "fmax": args.fmax,
            "max_steps": args.max_steps,
            "mlip": args.mlip,
            "mlip_fmax": args.mlip_fmax,
            "scratch": scratch,
        }
    }
    start = time.perf_counter()
    if args.only in ("both", "with"):
        result["with"] = run_with(args, atoms, scratch)
    if args.only in ("both", "without"):
        result["without"] = run_without(args, atoms, scratch)
    if "with" in result and "without" in result:
        n_with = result["with"]["gpaw"]["steps"]
        n_without = result["without"]["gpaw"]["steps"]
        result["reduction"] = 1.0 - n_with / n_without if n_without else None
    result["total_s"] = time.perf_counter() - start
    if args.json:
        print(json.dumps(result))
    else:
        _print(result)
    store_bench = Path(__file__).with_name("bench_store.py")
    if not args.skip_store and not args.json and store_bench.exists():
        subprocess.run([sys.executable, str(store_bench)], check=False)


if __name__ == "__main__":
    main()
