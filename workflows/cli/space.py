"""Verbs about the candidate space: ``arsc space``, ``arsc build``, ``arsc elements``.

The science modules (pandas, ASE) are imported inside the verbs, so that
``arsc space --help`` answers at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from arsc.errors import ArscInputError
from arsc.io import csv_header, format_for, write_structure
from arsc.limits import MIN_IMAGE_DISTANCE, MIN_IMAGE_RANGE
from arsc.outputs import STRUCTURE, OutputKind, check_output, write_text_atomic
from workflows.cli.options import (
    ElementsOpt,
    ElementTable,
    ForceOpt,
    ListOpt,
    bounded,
    console,
    split_list,
)

#: Columns of the site table ``arsc space -o`` writes, besides ``coord_*``.
SITE_COLUMNS: tuple[str, ...] = (
    "id",
    "metal1",
    "metal2",
    "motif",
    "support",
    "symmetric",
    "pocket",
)


def _is_site_table(path: Path) -> bool:
    """Tell a CSV with exactly the site table's columns (not, e.g., predictions made from one)."""
    header = csv_header(path)
    extra = [c for c in header if c not in SITE_COLUMNS and not c.startswith("coord_")]
    return set(SITE_COLUMNS) <= set(header) and not extra


#: What ``arsc space -o`` writes; only such a file is replaced without ``--force``.
SITE_TABLE = OutputKind("site table (CSV) from `arsc space`", _is_site_table)


def space(
    metals: Annotated[
        ListOpt,
        typer.Option("--metals", "-m", help="Metals, comma-separated (default: the authors' 20)."),
    ] = None,
    motifs: Annotated[ListOpt, typer.Option("--motifs", help="Motifs (default: all).")] = None,
    supports: Annotated[
        ListOpt, typer.Option("--supports", help="Supports (default: all).")
    ] = None,
    intermediates: Annotated[
        ListOpt, typer.Option("--intermediates", "-i", help="Intermediates counted (default: all).")
    ] = None,
    elements: ElementsOpt = ElementTable.default,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the site table (CSV).")
    ] = None,
    force: ForceOpt = False,
) -> None:
    """Enumerate the candidate sites and count structures and DFT calculations."""
    from arsc.space import count_space, enumerate_sites
    from arsc.structures import space_table

    if output is not None:
        check_output(output, [], option="-o", kind=SITE_TABLE, force=force)
    sites = enumerate_sites(
        split_list(metals, "--metals"),
        split_list(motifs, "--motifs"),
        split_list(supports, "--supports"),
        elements.value,
    )
    counts = count_space(sites, split_list(intermediates, "--intermediates"))
    table = Table(title="Candidate space")
    for col in ("motif", "support", "symmetric", "sites (pairs)", "structures"):
        table.add_column(col, justify="left" if col in ("motif", "support") else "right")
    for rec in counts.per_motif.to_dict("records"):
        table.add_row(
            str(rec["motif"]),
            str(rec["support"]),
            "yes" if rec["symmetric"] else "no",
            str(rec["sites"]),
            str(rec["structures"]),
        )
    out = console()
    out.print(table)
    out.print(f"sites: {counts.sites}")
    out.print(f"site-intermediate-mode structures (bare sites included): {counts.structures}")
    out.print(
        f"DFT calculations for an exhaustive screen (one relaxation per structure "
        f"+ gas references): {counts.dft_calculations}"
    )
    if output is not None:
        write_text_atomic(output, space_table(sites).to_csv(index=False))
        out.print(f"wrote {len(sites)} sites to {output}")


def build_cmd(
    site_id: Annotated[
        str | None,
        typer.Argument(help="Site id, e.g. Fe-Co_qv-n6_graphene (or give --space)."),
    ] = None,
    adsorbate: Annotated[
        str | None, typer.Option("--adsorbate", "-a", help="Intermediate, e.g. OH.")
    ] = None,
    mode: Annotated[str, typer.Option("--mode", help="top1, top2, bridge or side-on.")] = "top1",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Output file; format by suffix (.extxyz, .traj, .db, POSCAR, .cif).",
        ),
    ] = None,
    space_file: Annotated[
        Path | None,
        typer.Option(
            "--space",
            help="Site table (`arsc space -o`): build every state of every site into one "
            "-o file (.db, .traj or .extxyz).",
        ),
    ] = None,
    intermediates: Annotated[
        ListOpt,
        typer.Option(
            "--intermediates", "-i", help="With --space: intermediates built (default: OH,O,OOH)."
        ),
    ] = None,
    min_image: Annotated[
        float,
        typer.Option(
            "--min-image",
            callback=bounded(*MIN_IMAGE_RANGE, unit="Angstrom"),
            help="Smallest metal-image distance, Angstrom "
            f"({MIN_IMAGE_RANGE[0]:g}-{MIN_IMAGE_RANGE[1]:g}).",
        ),
    ] = MIN_IMAGE_DISTANCE,
    elements: ElementsOpt = ElementTable.default,
    force: ForceOpt = False,
) -> None:
    """Build the bare site or an adsorbed state and write it to a file.

    With ``--space TABLE -o structures.db`` every site of the table is built
    with its bare state and every intermediate in every binding mode, in one
    file; an ASE database row carries the site, metals, motif, support,
    adsorbate and mode as keys (``ase db structures.db metal1=Fe,adsorbate=OH``).
    """
    if space_file is not None:
        if site_id is not None or adsorbate is not None:
            raise ArscInputError("give either SITE_ID (with -a/--mode) or --space, not both")
        _build_space(
            space_file, split_list(intermediates, "--intermediates"), output, force, min_image
        )
        return
    if site_id is None:
        raise ArscInputError("give a SITE_ID (e.g. Fe-Co_qv-n6_graphene) or --space TABLE")
    from arsc.space import Site
    from arsc.structures import build

    site = Site.from_id(site_id, elements.value)
    if output is None:
        stem = site.id if adsorbate is None else f"{site.id}_{adsorbate}_{mode}"
        output = Path(f"{stem}.extxyz")
    check_output(output, [], option="-o", kind=STRUCTURE, force=force)
    format_for(output)
    atoms = build(site, adsorbate, mode, min_image=min_image)
    write_structure(atoms, output)
    what = "bare site" if adsorbate is None else f"{adsorbate} ({mode})"
    console().print(
        f"{site.id} {what}: {atoms.get_chemical_formula()}, {len(atoms)} atoms, "
        f"cell {' x '.join(f'{x:.2f}' for x in atoms.cell.lengths())} A -> {output}"
    )


#: Intermediates ``arsc build --space`` builds by default (ORR/OER).
SPACE_INTERMEDIATES: tuple[str, ...] = ("OH", "O", "OOH")


def _build_space(
    table: Path, intermediates: list[str] | None, output: Path | None, force: bool, min_image: float
) -> None:
    """Build every state of every site of a site table into one structure file."""
    from rich.progress import Progress

    from arsc.io import MULTI_FRAME, input_file, write_structures
    from arsc.space import Site
    from arsc.structures import build, site_states

    if output is None:
        raise ArscInputError("--space needs -o FILE (.db, .traj or .extxyz)")
    check_output(output, [table], option="-o", kind=STRUCTURE, force=force)
    if format_for(output) not in MULTI_FRAME:
        raise ArscInputError(f"-o {str(output)!r} holds one structure; use .db, .traj or .extxyz")
    ids = _site_ids(input_file(table, "site table"))
    sites = [Site.from_id(i) for i in ids]
    wanted = list(intermediates or SPACE_INTERMEDIATES)
    jobs = [(site, ads, mode) for site in sites for ads, mode in site_states(site, wanted)]
    frames = []
    with Progress(console=console(), transient=True) as bar:
        task = bar.add_task("building", total=len(jobs))
        for site, ads, mode in jobs:
            frames.append(build(site, ads, mode or "top1", min_image=min_image))
            bar.advance(task)
    n = write_structures(frames, output)
    console().print(f"{len(sites)} sites, {n} structures ({', '.join(wanted)}) -> {output}")


def _site_ids(table: Path) -> list[str]:
    """Site ids of a site table: its ``id`` (``arsc space -o``) or ``site`` column."""
    import pandas as pd

    try:
        frame = pd.read_csv(table, dtype=str)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ArscInputError(f"site table {str(table)!r} is not a readable CSV ({exc})") from None
    column = next((c for c in ("id", "site") if c in frame.columns), None)
    if column is None or frame.empty:
        raise ArscInputError(
            f"site table {str(table)!r} needs an 'id' (arsc space -o) or 'site' column "
            "and at least one row"
        )
    ids = frame[column].dropna().str.strip().tolist()
    if len(ids) < len(frame):
        raise ArscInputError(f"site table {str(table)!r}: column {column!r} has empty cells")
    return list(dict.fromkeys(ids))


def elements_cmd(
    elements: ElementsOpt = ElementTable.default,
    diff: Annotated[
        bool, typer.Option("--diff", help="Show where the authors' and default tables differ.")
    ] = False,
) -> None:
    """Print an element property table and the source of each column."""
    from arsc.elements import PRIMARY_PROPERTIES, compare_tables, load_elements, table_metadata

    out = console()
    if diff:
        d = compare_tables("authors", "default")
        table = Table(title="authors vs default element tables")
        for col in d.columns:
            table.add_column(str(col))
        for rec in d.to_dict("records"):
            table.add_row(*(f"{v:g}" if isinstance(v, float) else str(v) for v in rec.values()))
        out.print(table)
        out.print(f"{len(d)} values differ")
        return
    data = load_elements(elements.value)
    meta = table_metadata()
    table = Table(title=f"element table {elements.value!r}")
    table.add_column("metal")
    for col in data.columns:
        table.add_column(col, justify="right")
    for sym, rec in zip(data.index, data.to_dict("records"), strict=True):
        table.add_row(str(sym), *(f"{v:g}" for v in rec.values()))
    out.print(table)
    sources = meta["tables"][elements.value]["sources"]
    for col in PRIMARY_PROPERTIES:
        out.print(f"{col}: {meta['units'][col]}; source: {' '.join(str(sources[col]).split())}")


def register(app: typer.Typer) -> None:
    """Add this module's verbs to the app."""
    app.command("space")(space)
    app.command("build")(build_cmd)
    app.command("elements")(elements_cmd)
