"""``arsc campaign replay``: benchmark acquisition strategies on a table of precomputed DFT.

The science is :func:`arsc.replay.benchmark`; this module parses, calls it and
prints. :func:`register_replay` adds the verb to the ``arsc campaign`` group
(``workflows.cli.campaign`` calls it). The science modules load when the verb
runs, so ``arsc campaign --help`` stays light; the option defaults below are
the science's own (a test checks they agree).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from workflows.cli.options import bounded, console, split_list

if TYPE_CHECKING:  # the science (scipy, scikit-learn) loads when the verb runs
    from arsc.replay import Benchmark

#: arsc.replay.BASELINE: the strategy every other is compared with.
BASELINE = "random"
#: arsc.replay.DEFAULT_STRATEGIES.
DEFAULT_STRATEGIES: tuple[str, ...] = ("greedy", "ucb", "ei", "thompson")
#: arsc.select.DEFAULT_KAPPA, standard deviations.
DEFAULT_KAPPA = 2.0
#: arsc.select.DEFAULT_PRUNE_RECALL.
DEFAULT_PRUNE_RECALL = 0.95
#: arsc.surrogates.DEFAULT_SURROGATE and the names of arsc.surrogates.SURROGATES.
DEFAULT_SURROGATE = "hier"
SURROGATE_NAMES: tuple[str, ...] = ("gp", "forest", "arsc", "hier")

#: Most campaigns per strategy (``--seeds``): time grows linearly with it.
MAX_SEEDS = 1000
#: Most rows of the true top-N, of the initial sample and of a batch (table sizes).
MAX_ROWS = 100_000


def _spread(mean: float, std: float, digits: int) -> str:
    return f"{mean:.{digits}f}±{std:.{digits}f}"


def _table(bench: Benchmark) -> Table:
    from arsc.replay import FRACTIONS_PCT, budget_calls, paired

    s = bench.settings
    k_half, k_all = s.milestones
    title = (
        f"replay: {bench.target} ({bench.objective}), top {s.top} of {bench.n_rows} rows, "
        f"init {s.init}, batch {s.batch}, {bench.seeds} seeds, surrogate {bench.surrogate}"
    )
    table = Table(title=title)
    heads = [
        "strategy",
        f"calls to {k_half}",
        f"calls to {k_all}",
        *(f"found {p} % ({budget_calls(bench.n_rows, p)})" for p in FRACTIONS_PCT),
        f"vs {BASELINE}",
        "top kept, 1st prune",
        "pruned, 1st",
        "best pruned",
        "safe kappa",
    ]
    for col in heads:
        table.add_column(col, justify="left" if col == "strategy" else "right")
    for name, result in bench.results.items():
        summ = result.summary
        cells = [name]
        for key in (f"calls_to_{k_half}", f"calls_to_{k_all}"):
            cells.append(_spread(summ[key].mean, summ[key].std, 1))
        for p in FRACTIONS_PCT:
            m = summ[f"found_at_{p}pct"]
            cells.append(_spread(m.mean, m.std, 2))
        if name == BASELINE:
            cells += ["-", "-", "-", "-", "-"]
        else:
            cmp = paired(bench, name)
            pval = "-" if cmp.p_value is None else f"{cmp.p_value:.2g}"
            cells.append(f"{cmp.better}/{cmp.worse} ({pval})")
            kept, removed = summ["first_prune_top"], summ["first_prune_removed"]
            cells.append(_spread(kept.mean, kept.std, 2))
            cells.append(_spread(removed.mean, removed.std, 2))
            pruned = sum(t.best_margin >= s.prune_kappa for t in result.traces)
            cells.append(f"{pruned}/{len(result.traces)}")
            safe = max(t.best_margin for t in result.traces)
            cells.append(f"> {safe:.2f}" if math.isfinite(safe) else "any")
        table.add_row(*cells)
    return table


def _print(bench: Benchmark) -> None:
    out = console()
    out.print(_table(bench))
    key = f"calls_to_{bench.settings.top}"
    best = bench.best()
    ours = bench.results[best].summary[key].mean
    base = bench.results[BASELINE].summary[key].mean
    verdict = "fewer" if ours < base else "not fewer"
    out.print(
        f"best strategy: {best} finds the whole top-{bench.settings.top} in {ours:.1f} DFT calls "
        f"on average vs {base:.1f} for {BASELINE} ({verdict}; {base / ours:.2f}x)"
    )
    out.print(
        "calls to k: smallest DFT budget that finds k of the true top-N; found p % (calls): "
        f"fraction of the top-N within the first p % of the table; mean±std over seeds; vs "
        f"{BASELINE}: seeds with fewer/more calls to the whole top-N (paired Wilcoxon p); top "
        "kept, 1st prune: fraction of the true top-N that the first pruning after the initial "
        f"sample keeps at recall {bench.settings.prune_recall:g} (kappa "
        f"{bench.settings.prune_kappa:.2f}); pruned, 1st: fraction of the table it removes; best "
        "pruned: campaigns in which the pruning rule would have dropped the true best before it "
        "was computed; safe kappa: the pruning width that would have kept it in every campaign"
    )
    out.print(f"{bench.seconds:.1f} s")


def replay_cmd(
    table: Annotated[
        Path, typer.Argument(help="Table of precomputed results (arsc fit format, CSV).")
    ],
    target: Annotated[str, typer.Option("--target", "-t", help="Column with the DFT value.")],
    objective: Annotated[
        str, typer.Option("--objective", help="min, max or closest:VALUE (target units).")
    ] = "min",
    top: Annotated[
        int,
        typer.Option(
            "--top", callback=bounded(1, MAX_ROWS), help="N of the true top-N to find (>= 1)."
        ),
    ] = 10,
    init: Annotated[
        int,
        typer.Option(
            "--init", callback=bounded(2, MAX_ROWS), help="Random initial sample, DFT calls (>= 2)."
        ),
    ] = 20,
    batch: Annotated[
        int,
        typer.Option("--batch", callback=bounded(1, MAX_ROWS), help="DFT calls per round (>= 1)."),
    ] = 10,
    seeds: Annotated[
        int,
        typer.Option(
            "--seeds",
            callback=bounded(1, MAX_SEEDS),
            help=f"Campaigns per strategy (seeds 0..n-1), 1..{MAX_SEEDS}.",
        ),
    ] = 20,
    strategies: Annotated[
        list[str] | None,
        typer.Option(
            "--strategies",
            help=f"Strategies, comma-separated (default {','.join(DEFAULT_STRATEGIES)}); "
            f"{BASELINE} is always added.",
        ),
    ] = None,
    surrogate: Annotated[
        str,
        typer.Option("--surrogate", help=f"Surrogate model: {', '.join(SURROGATE_NAMES)}."),
    ] = DEFAULT_SURROGATE,
    kappa: Annotated[
        float,
        typer.Option(
            "--kappa", callback=bounded(0.0, 100.0), help="UCB weight, standard deviations, 0..100."
        ),
    ] = DEFAULT_KAPPA,
    prune_recall: Annotated[
        float,
        typer.Option(
            "--prune-recall",
            callback=bounded(0.5, 0.9999),
            help="Target recall of the pruning rule: fraction of truly better sites kept, "
            "0.5..0.9999.",
        ),
    ] = DEFAULT_PRUNE_RECALL,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            callback=bounded(1, 1024),
            help="Campaigns run at once in separate processes (default: the CPU cores; "
            "1: one process). The figures do not depend on it.",
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Replay campaigns on precomputed DFT: calls to find the top-N, per strategy vs random."""
    from arsc.replay import ReplaySettings, benchmark

    names = split_list(strategies, option="--strategies") or list(DEFAULT_STRATEGIES)
    settings = ReplaySettings(
        top=top, init=init, batch=batch, kappa=kappa, prune_recall=prune_recall
    )
    err = Console(stderr=True)
    with Progress(console=err, transient=True, disable=json_out or not err.is_terminal) as bar:
        task = bar.add_task("replay", total=seeds * len({*names, BASELINE}))

        def step(strategy: str, seed: int) -> None:
            bar.update(task, advance=1, description=f"{strategy} seed {seed}")

        bench = benchmark(
            table, target, objective, names, surrogate, settings, seeds, step, workers
        )
    if json_out:
        payload = bench.to_json()
        typer.echo(json.dumps(payload, allow_nan=False))
        return
    _print(bench)


def register_replay(campaign_app: typer.Typer) -> None:
    """Add ``replay`` to the ``arsc campaign`` group."""
    campaign_app.command("replay")(replay_cmd)
