"""Benchmark: GPAW relaxation of one 48-atom M2N6 site with and without MLIP pre-relaxation.

Relaxes the bare site (default Fe-Co qv-n6 on graphene, ``min_image=9.5``:
C40N6FeCo, 48 atoms) with GPAW twice (``GpawRelaxMaker``'s default
optimiser, PreconLBFGS, unless ``--optimizer``): from the built structure,
and from the MLIP's (CHGNet by default) pre-relaxed geometry;
``--hessian chgnet --optimizer BFGS`` also seeds that second BFGS with the
MLIP's Hessian there instead of ASE's ``70 eV/A^2 * I``
(workflows/engines/hessian.py). Prints the GPAW ionic steps, GPAW force
calls and wall times of both and the reduction in GPAW steps (goal >= 70 %
fewer), and the GPAW steps needed to reach each force level (1, 0.5, 0.2,
0.1, 0.05 eV/A) read from the optimiser logs. The optimiser part of the
failure ladder is switched off so that ``--max-steps`` is a hard cap (a
capped run is reported as not converged). The cap is for those two runs
only: the prerequisite relaxations below (bare site, siblings) always use
:data:`PREREQUISITE_STEPS`, so a finished one is found again whatever
``--max-steps`` a later benchmark passes.
With ``--state OH`` (any intermediate; ``--mode top1``) the benchmark is
about an adsorbed state instead: the bare site is relaxed with GPAW first
(under ``scratch/bare``; a finished relaxation there is picked up from its
trajectory, not redone), the adsorbate is placed on that DFT-relaxed site
(:func:`arsc.structures.add_adsorbate`), and the two GPAW relaxations start
from that structure, the pre-relaxation moving only the adsorbate
(``MlipRelaxMaker(adsorbate_only=True)``): the flow a chemist runs for every
intermediate once the bare site is known.
With ``--finetune-on SITE,SITE`` the pre-relaxation uses CHGNet fine-tuned
on the GPAW frames of sibling sites (other metal pairs on the same support),
each relaxed with GPAW first under ``scratch/siblings`` (picked up if
finished): in a campaign those sites are computed anyway
(workflows/engines/finetune.py). ``--finetune-preset`` computes the siblings
with another (cheaper) preset than the benchmarked relaxations, e.g. tune on
``fast`` frames and benchmark ``standard``.
With ``--correct-from SITE,SITE`` the pre-relaxed geometry is shifted by the
mean DFT-minus-MLIP displacement of sibling sites built atom for atom like the
target (same support and motif, other metals), each relaxed with GPAW
(``--preset``, under ``scratch/siblings``, picked up if finished) and with the
same MLIP (:mod:`arsc.transfer`); it combines with ``--finetune-on``.
GPAW times are read from GPAW's logs, so a relaxation found finished (or
resumed) reports the time it took.
Then, unless ``--skip-store``, runs ``scripts/bench_store.py`` (orchestration
overhead per job on the embedded store for 500 trivial jobs) if present; with
``--json`` its JSON object is included under ``"store"``.

A full GPAW relaxation without pre-relaxation takes 45-90 min on two cores
(platform.md); use a looser ``--fmax`` and a ``--max-steps`` cap for a quick
figure. Usage::

    python scripts/bench_dft.py [--preset fast] [--fmax 0.05] [--max-steps 100]
        [--optimizer PreconLBFGS|BFGS|FIRE] [--mlip chgnet] [--mlip-fmax 0.05]
        [--hessian none|chgnet]
        [--only both|with|without] [--state bare|OH|O|OOH|...] [--mode top1]
        [--finetune-on Fe-Fe_qv-n6_graphene,Co-Co_qv-n6_graphene]
        [--finetune-preset fast]
        [--correct-from Fe-Fe_qv-n6_graphene,Co-Co_qv-n6_graphene] [--json]
    python scripts/bench_dft.py --from-logs --scratch DIR   # steps per force level so far
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from arsc.errors import ArscInputError
from arsc.space import Site
from arsc.structures import add_adsorbate, build
from arsc.transfer import sibling_corrected_positions
from workflows.engines.gpaw import GpawRelaxMaker, gpaw_params, recovery_ladder
from workflows.engines.optimizers import get_optimizer
from workflows.schemas import CalcDoc

#: Step cap of the prerequisite relaxations (the bare site under ``--state``, the siblings
#: under ``--finetune-on``): they must converge, and a fixed cap keeps their keys, hence
#: their finished results, the same whatever ``--max-steps`` the benchmarked runs use.
PREREQUISITE_STEPS = 100


def _gpaw_maker(
    args: argparse.Namespace,
    scratch: str,
    hessian: str | None = None,
    hessian_weights: str | None = None,
    preset: str | None = None,
    steps: int | None = None,
) -> GpawRelaxMaker:
    scf_only = {
        "scf": [{"label": s.label, "set": dict(s.changes)} for s in recovery_ladder()["scf"]],
        "optimizer": [],
    }
    return GpawRelaxMaker(
        preset=preset or args.preset,
        fmax=args.fmax,
        steps=args.max_steps if steps is None else steps,
        optimizer=args.optimizer,
        scratch_dir=scratch,
        recovery=scf_only,
        hessian=hessian,
        hessian_weights=hessian_weights,
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


#: Force levels (eV/A) at which the GPAW step counts are reported from the optimiser logs.
MILESTONES = (1.0, 0.5, 0.2, 0.1, 0.05)


def fmax_history(folder: Path) -> list[float]:
    """Return the fmax after each GPAW ionic step (index 0: the start), from the optimiser log.

    Every ladder attempt starts a new log block whose step 0 re-evaluates the
    previous geometry; those repeats are dropped.
    """
    history: list[float] = []
    for log in folder.glob("gpaw-relax-*/opt.log"):
        for line in log.read_text().splitlines():
            parts = line.split()
            if len(parts) == 5 and parts[1].isdigit():
                if int(parts[1]) == 0 and history:
                    continue
                history.append(float(parts[4]))
    return history


def force_calls(folder: Path) -> int:
    """Return the GPAW force evaluations of the relaxations under ``folder``, from GPAW's logs.

    An optimiser step may take more than one (PreconLBFGS's line search and
    its estimate of the preconditioner's energy scale).
    """
    return sum(
        text.read_text().count("Forces  # eV/Ang") for text in folder.glob("gpaw-relax-*/gpaw*.txt")
    )


def log_seconds(text: str) -> float:
    """Return the wall time one GPAW log covers, s: from its ``Date:`` to its last SCF iteration.

    GPAW stamps every SCF iteration with the time of day, so this holds for a
    run that is still going, was killed, or finished in another process (a
    day boundary between two stamps counts as one day).
    """
    date = re.search(r"^Date:\s+(.+)$", text, re.MULTILINE)
    stamps = re.findall(r"iter:\s*\d+\|?\s+(\d\d):(\d\d):(\d\d)", text)
    if date is None or not stamps:
        return 0.0
    start = datetime.strptime(date.group(1).strip(), "%a %b %d %H:%M:%S %Y")
    previous = start.hour * 3600 + start.minute * 60 + start.second
    elapsed = 0
    for h, m, sec in stamps:
        now = int(h) * 3600 + int(m) * 60 + int(sec)
        elapsed += (now - previous) % 86400
        previous = now
    return float(elapsed)


def gpaw_seconds(folder: Path) -> float:
    """Return the wall time of the GPAW relaxations under ``folder``, from GPAW's logs, s.

    Read from the logs (:func:`log_seconds`), not from this process's clock,
    so a relaxation found finished, or resumed after a kill, still reports
    the time it took.
    """
    return sum(log_seconds(t.read_text()) for t in folder.glob("gpaw-relax-*/gpaw*.txt"))


def milestones(history: list[float]) -> dict[str, int | None]:
    """GPAW steps needed to reach each force level of :data:`MILESTONES` (None: not reached)."""
    return {
        str(level): next((i for i, f in enumerate(history) if f <= level), None)
        for level in MILESTONES
    }


def run_without(args: argparse.Namespace, atoms: Any, scratch: Path) -> dict[str, Any]:
    """GPAW relaxation from the built structure (files under ``scratch/without``)."""
    folder = scratch / "without"
    gpaw = _summary(_gpaw_maker(args, str(folder)).run(atoms))
    gpaw["force_calls"] = force_calls(folder)
    gpaw["gpaw_s"] = gpaw_seconds(folder)
    return {"gpaw": gpaw, "milestones": milestones(fmax_history(folder))}


def run_with(args: argparse.Namespace, atoms: Any, scratch: Path) -> dict[str, Any]:
    """MLIP pre-relaxation, then GPAW relaxation from its result (files under ``scratch/with``).

    With ``--hessian MODEL`` BFGS starts from that MLIP's Hessian at the
    pre-relaxed geometry; the Hessian's wall time is part of the GPAW job's.
    """
    from workflows.engines.mlip import MlipRelaxMaker

    folder = scratch / "with"
    tuned = finetune(args, scratch) if args.finetune_on else None
    mlip = MlipRelaxMaker(
        model=args.mlip,
        fmax=args.mlip_fmax,
        scratch_dir=str(folder),
        adsorbate_only=args.state != "bare",
        weights_file=tuned["weights_file"] if tuned else None,
    )
    pre = mlip.run(atoms)
    start: Any = pre
    corrected: dict[str, Any] = {}
    if args.correct_from:
        start, corrected = corrected_start(args, pre, mlip, scratch)
    hessian = None if args.hessian == "none" else args.hessian
    weights = tuned["weights_file"] if tuned and hessian == args.mlip else None
    gpaw = _summary(_gpaw_maker(args, str(folder), hessian, weights).run(start))
    gpaw["force_calls"] = force_calls(folder)
    gpaw["gpaw_s"] = gpaw_seconds(folder)
    out = {"mlip": _summary(pre), "gpaw": gpaw, "milestones": milestones(fmax_history(folder))}
    return (
        out
        | ({"finetune": tuned} if tuned else {})
        | ({"corrected_from": corrected} if corrected else {})
    )


def sibling_folder(scratch: Path, site_id: str) -> Path:
    """Folder of a sibling site's GPAW relaxation (shared by --finetune-on and --correct-from)."""
    return scratch / "siblings" / site_id


def relax_siblings(
    args: argparse.Namespace, site_ids: str, preset: str, scratch: Path
) -> dict[str, CalcDoc]:
    """Relax comma-separated sibling sites with GPAW under ``scratch/siblings`` (found if done)."""
    docs = {}
    for site_id in site_ids.split(","):
        built = build(Site.from_id(site_id), min_image=args.min_image)
        folder = sibling_folder(scratch, site_id)
        maker = _gpaw_maker(args, str(folder), preset=preset, steps=PREREQUISITE_STEPS)
        docs[site_id] = maker.run(built)
    return docs


def corrected_start(
    args: argparse.Namespace, pre: CalcDoc, mlip: Any, scratch: Path
) -> tuple[Any, dict[str, Any]]:
    """Shift the MLIP geometry ``pre`` by the siblings' mean DFT-minus-MLIP displacement.

    Each sibling in ``--correct-from`` is relaxed with GPAW (``--preset``) and
    with the same MLIP Maker ``mlip`` from its built structure, which must be
    the target's atom for atom (same support and motif, other metals):
    :func:`arsc.transfer.sibling_corrected_positions` (checked by :func:`check_sibling`).
    """
    siblings = []
    record: dict[str, Any] = {}
    for site_id, doc in relax_siblings(args, args.correct_from, args.preset, scratch).items():
        if not doc.convergence.converged:
            raise SystemExit(f"bench_dft: sibling {site_id} did not converge: {doc.error}")
        model = mlip.run(build(Site.from_id(site_id), min_image=args.min_image))
        siblings.append((site_id, doc.final_atoms().positions, model.final_atoms().positions))
        record[site_id] = {"gpaw": _summary(doc), "mlip": _summary(model)}
    start = pre.final_atoms()
    start.positions = sibling_corrected_positions(start.positions, siblings, start.cell)
    return start, record


def check_sibling(args: argparse.Namespace, site_id: str) -> None:
    """Fail (before any DFT) unless ``site_id`` has the support and motif of ``--site``.

    Such sites are built atom for atom alike (only the metals differ), which
    the sibling correction needs.
    """
    target, sibling = Site.from_id(args.site), Site.from_id(site_id)
    if (sibling.motif, sibling.support) != (target.motif, target.support):
        raise ArscInputError(
            f"--correct-from: sibling {site_id} has motif {sibling.motif!r} on "
            f"{sibling.support!r}; it needs {target.motif!r} on {target.support!r} like {args.site}"
        )


def finetune(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    """Relax the sibling sites with GPAW, fine-tune the MLIP on their frames (``scratch/siblings``).

    A sibling relaxation already finished there is picked up from its
    trajectory, not redone; its GPAW steps are reported (in a campaign they
    are computed anyway, as results of their own).
    """
    from workflows.engines.finetune import ChgnetFinetune, read_frames

    if args.mlip != "chgnet":
        raise SystemExit("bench_dft: --finetune-on fine-tunes chgnet only")
    out = scratch / "finetune"
    done = out / "result.json"
    if done.is_file():  # siblings and model of an earlier run on this scratch folder
        record = dict(json.loads(done.read_text()))
        stored = record.get("preset", "fast")  # records written before the key were fast runs
        if stored != args.finetune_preset:
            raise SystemExit(
                f"bench_dft: {done} holds siblings computed with preset {stored!r}, "
                f"not {args.finetune_preset!r}; delete it or pass --finetune-preset"
            )
        print(f"siblings and tuned model reused from {out} (delete it to redo)", file=sys.stderr)
        return record
    docs = relax_siblings(args, args.finetune_on, args.finetune_preset, scratch)
    trajectories = [
        traj
        for site_id in docs
        for traj in sorted(sibling_folder(scratch, site_id).glob("gpaw-relax-*/relax.traj"))
    ]
    start = time.perf_counter()
    result = ChgnetFinetune().run(read_frames(trajectories), out)
    record = {
        "siblings": {site_id: _summary(doc) for site_id, doc in docs.items()},
        "preset": args.finetune_preset,
        "wall_s": time.perf_counter() - start,
        **result.model_dump(),
    }
    done.write_text(json.dumps(record))
    return record


def relaxed_bare(args: argparse.Namespace, built: Any, scratch: Path) -> Any:
    """Return the built bare site relaxed with GPAW (in ``scratch/bare``; resumed, not redone)."""
    from pymatgen.core import Structure

    bare = built.copy()
    doc = _gpaw_maker(args, str(scratch / "bare"), steps=PREREQUISITE_STEPS).run(bare)
    if not doc.convergence.converged:
        raise SystemExit(f"bench_dft: the bare GPAW relaxation did not converge: {doc.error}")
    bare.positions = Structure.from_dict(doc.structure).cart_coords
    print(
        f"bare site relaxed with GPAW: {doc.convergence.ionic_steps} steps, E {doc.energy:.3f} eV",
        file=sys.stderr,
    )
    return bare


def start_structure(args: argparse.Namespace, scratch: Path) -> Any:
    """Return the start of both relaxations: the built bare site, or an adsorbed state."""
    built = build(Site.from_id(args.site), min_image=args.min_image)
    if args.state == "bare":
        return built
    add_adsorbate(built, args.state, args.mode)  # a bad state or mode fails here, before any DFT
    return add_adsorbate(relaxed_bare(args, built, scratch), args.state, args.mode)


def from_logs(scratch: Path) -> dict[str, Any]:
    """Step counts per force level from the logs of a (possibly unfinished) earlier run."""
    return {
        key: {"milestones": milestones(fmax_history(scratch / key)), "history": h}
        for key in ("with", "without")
        if (h := fmax_history(scratch / key))
    }


def _print(result: dict[str, Any]) -> None:
    s = result["settings"]
    print(
        f"site {s['site']}, {s['state']} ({s['natoms']} atoms); GPAW preset {s['preset']}, "
        f"fmax {s['fmax']} eV/A, max {s['max_steps']} steps; MLIP {s['mlip']} "
        f"fmax {s['mlip_fmax']} eV/A, GPAW optimiser {s['optimizer']}, "
        f"starting Hessian {s['hessian']}"
        + (
            f", fine-tuned on {s['finetune_on']} ({s['finetune_preset']})"
            if s["finetune_on"]
            else ""
        )
    )
    for key, label in (("without", "GPAW from the built structure"), ("with", "MLIP + GPAW")):
        if key not in result:
            continue
        part = result[key]
        if "finetune" in part:
            t = part["finetune"]
            steps = ", ".join(f"{k} {v['steps']}" for k, v in t["siblings"].items())
            print(
                f"  CHGNet fine-tuned on {t['n_frames']} GPAW frames of the siblings "
                f"(GPAW steps: {steps}) in {t['wall_s']:.0f} s: validation force MAE "
                f"{t['force_mae_before']:.3f} -> {t['force_mae_after']:.3f} eV/A"
            )
        if "mlip" in part:
            m = part["mlip"]
            print(
                f"  MLIP pre-relaxation: {m['steps']} steps, {m['wall_s']:.0f} s in this run "
                "(a finished one is found again, not redone)"
            )
        if "corrected_from" in part:
            steps = ", ".join(
                f"{k} (GPAW {v['gpaw']['steps']}, MLIP {v['mlip']['steps']} steps)"
                for k, v in part["corrected_from"].items()
            )
            print(f"  start shifted by the mean DFT-minus-MLIP displacement of {steps}")
        g = part["gpaw"]
        state = "converged" if g["converged"] else f"NOT converged (fmax {g['fmax']})"
        print(
            f"  {label}: {g['steps']} GPAW steps ({g['force_calls']} force calls), "
            f"{g['gpaw_s']:.0f} s of GPAW (from its logs), {state}"
        )
    print("  GPAW steps to reach fmax (eV/A):")
    for key in ("without", "with"):
        if key in result:
            marks = result[key]["milestones"]
            print(f"    {key:8s}" + "".join(f"  <= {k}: {v}" for k, v in marks.items()))
    if "reduction" in result:
        saved = 100 * result["reduction"]
        print(f"GPAW steps saved by MLIP pre-relaxation: {saved:.0f} % (goal >= 70 %)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", default="Fe-Co_qv-n6_graphene")
    parser.add_argument("--min-image", type=float, default=9.5)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--fmax", type=float, default=0.05, help="GPAW force criterion, eV/A")
    parser.add_argument(
        "--max-steps",
        type=int,
        default=PREREQUISITE_STEPS,
        help="cap on GPAW steps of the two benchmarked runs",
    )
    parser.add_argument(
        "--optimizer",
        default=None,
        help="GPAW optimiser: BFGS, FIRE or PreconLBFGS (default: GpawRelaxMaker's)",
    )
    parser.add_argument("--mlip", default="chgnet")
    parser.add_argument("--mlip-fmax", type=float, default=0.05)
    parser.add_argument(
        "--hessian",
        default="none",
        help="MLIP whose Hessian seeds GPAW's BFGS after pre-relaxation (none: ASE's alpha*I)",
    )
    parser.add_argument(
        "--finetune-on",
        default=None,
        metavar="SITE,SITE",
        help="sibling site ids: relax them with GPAW, fine-tune CHGNet on their frames, "
        "pre-relax with the tuned model",
    )
    parser.add_argument(
        "--finetune-preset",
        default=None,
        help="GPAW preset of the sibling relaxations (default: --preset)",
    )
    parser.add_argument(
        "--correct-from",
        default=None,
        metavar="SITE,SITE",
        help="sibling site ids (same support and motif): relax them with GPAW and the MLIP, "
        "shift the pre-relaxed geometry by their mean DFT-minus-MLIP displacement",
    )
    parser.add_argument("--only", choices=("both", "with", "without"), default="both")
    parser.add_argument(
        "--state", default="bare", help="bare, or an intermediate placed on the relaxed bare site"
    )
    parser.add_argument("--mode", default="top1", help="binding mode of --state")
    parser.add_argument("--scratch", default=None, help="folder for logs and trajectories")
    parser.add_argument("--skip-store", action="store_true", help="skip scripts/bench_store.py")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    parser.add_argument(
        "--from-logs",
        action="store_true",
        help="only summarise the optimiser logs under --scratch (of an earlier or running run)",
    )
    args = parser.parse_args()
    args.optimizer = args.optimizer or GpawRelaxMaker().optimizer
    args.finetune_preset = args.finetune_preset or args.preset
    try:  # a bad name fails here, before any DFT
        get_optimizer(args.optimizer)
        gpaw_params(args.preset)
        gpaw_params(args.finetune_preset)
    except ArscInputError as exc:
        parser.error(str(exc))
    if args.correct_from and args.state != "bare":
        parser.error("--correct-from corrects the bare site's geometry: use it with --state bare")
    if args.hessian != "none" and args.optimizer != "BFGS":
        parser.error("--hessian seeds BFGS: add --optimizer BFGS")
    if args.from_logs:
        if not args.scratch:
            parser.error("--from-logs needs --scratch")
        print(json.dumps(from_logs(Path(args.scratch)), indent=None if args.json else 1))
        return

    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="bench_dft_"))
    try:
        atoms = start_structure(args, scratch)
        # a bad sibling fails here, before any DFT
        for site_id in args.finetune_on.split(",") if args.finetune_on else ():
            Site.from_id(site_id)
        for site_id in args.correct_from.split(",") if args.correct_from else ():
            check_sibling(args, site_id)
    except ArscInputError as exc:
        parser.error(str(exc))
    result: dict[str, Any] = {
        "settings": {
            "site": args.site,
            "state": args.state if args.state == "bare" else f"{args.state} {args.mode}",
            "natoms": len(atoms),
            "preset": args.preset,
            "fmax": args.fmax,
            "optimizer": args.optimizer,
            "max_steps": args.max_steps,
            "mlip": args.mlip,
            "mlip_fmax": args.mlip_fmax,
            "hessian": args.hessian,
            "finetune_on": args.finetune_on,
            "finetune_preset": args.finetune_preset if args.finetune_on else None,
            "correct_from": args.correct_from,
            "scratch": str(scratch),
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
    store_bench = Path(__file__).with_name("bench_store.py")
    run_store = not args.skip_store and store_bench.exists()
    if args.json:
        if run_store:
            out = subprocess.run(
                [sys.executable, str(store_bench), "--json"], capture_output=True, text=True
            )
            result["store"] = json.loads(out.stdout) if out.returncode == 0 else None
        print(json.dumps(result))
        return
    _print(result)
    if run_store:
        print("orchestration overhead (scripts/bench_store.py):", flush=True)
        subprocess.run([sys.executable, str(store_bench)], check=False)


if __name__ == "__main__":
    main()
