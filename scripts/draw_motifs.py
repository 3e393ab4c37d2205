"""Draw a top view of every motif (Fe on M1, Co on M2) into docs/motifs/.

Usage: python scripts/draw_motifs.py [OUTDIR]
Writes one PNG per motif and overview.png with all of them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from ase.data import atomic_numbers, covalent_radii
from ase.data.colors import jmol_colors
from matplotlib.patches import Circle

from arsc.space import make_site, motifs
from arsc.structures import TAG_M1, TAG_M2, build

HALF_WIDTH = 6.5  # Angstrom shown around the pocket centre


def _tile(atoms):
    """Atoms of the 3 x 3 in-plane tiling around the cell (positions, symbols, tags)."""
    pos, sym, tag = [], [], []
    for i in (-1, 0, 1):
        for j in (-1, 0, 1):
            shift = i * atoms.cell[0] + j * atoms.cell[1]
            pos.append(atoms.positions + shift)
            sym += atoms.get_chemical_symbols()
            tag += list(atoms.get_tags())
    return np.vstack(pos), sym, np.array(tag)


def draw(ax, motif: str) -> None:
    """Draw one motif on an axis."""
    mot = motifs()[motif]
    atoms = build(make_site("Fe", "Co", motif, mot.supports[0]))
    pos, sym, tag = _tile(atoms)
    metals = atoms.positions[np.isin(atoms.get_tags(), [TAG_M1, TAG_M2])]
    centre = metals.mean(axis=0)
    keep = np.all(np.abs(pos[:, :2] - centre[:2]) < HALF_WIDTH + 1.0, axis=1)
    pos, sym, tag = pos[keep], [s for s, k in zip(sym, keep, strict=True) if k], tag[keep]
    d = np.linalg.norm(pos[:, None, :2] - pos[None, :, :2], axis=2)
    radii = np.array([covalent_radii[atomic_numbers[s]] for s in sym])
    for i, j in np.argwhere(np.triu(d < 1.15 * (radii[:, None] + radii[None, :]), 1)):
        ax.plot(*zip(pos[i, :2], pos[j, :2], strict=True), color="0.6", lw=1.2, zorder=1)
    for p, s, t in zip(pos, sym, tag, strict=True):
        r = 0.45 if t in (TAG_M1, TAG_M2) else 0.28
        ax.add_patch(
            Circle(
                p[:2], r, facecolor=jmol_colors[atomic_numbers[s]], edgecolor="k", lw=0.6, zorder=2
            )
        )
        if t in (TAG_M1, TAG_M2):
            ax.annotate(f"M{t}", p[:2], ha="center", va="center", fontsize=7, zorder=3)
    ax.set_xlim(centre[0] - HALF_WIDTH, centre[0] + HALF_WIDTH)
    ax.set_ylim(centre[1] - HALF_WIDTH, centre[1] + HALF_WIDTH)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    sym_tag = "symmetric" if mot.symmetric else "asymmetric"
    ax.set_title(f"{motif} ({mot.supports[0]}, {sym_tag})", fontsize=9)


def legend(fig) -> None:
    """Element colour legend."""
    handles = [
        Circle((0, 0), 1, facecolor=jmol_colors[atomic_numbers[s]], edgecolor="k", label=s)
        for s in ("C", "N", "O", "S", "B", "Fe", "Co")
    ]
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=len(handles),
        frameon=False,
        handler_map={Circle: matplotlib.legend_handler.HandlerPatch()},
    )


def main(outdir: Path) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    names = list(motifs())
    for name in names:
        fig, ax = plt.subplots(figsize=(3.2, 3.4))
        draw(ax, name)
        fig.tight_layout()
        fig.savefig(outdir / f"{name}.png", dpi=110)
        plt.close(fig)
    cols = 3
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 3.1 * rows + 0.4))
    for ax, name in zip(axes.ravel(), names, strict=False):
        draw(ax, name)
    for ax in axes.ravel()[len(names) :]:
        ax.axis("off")
    legend(fig)
    fig.suptitle("ARSC-DAC motifs: top views (Fe on M1, Co on M2)", fontsize=11)
    fig.tight_layout(rect=(0, 0.04, 1, 0.97))
    fig.savefig(outdir / "overview.png", dpi=100)
    plt.close(fig)
    print(f"wrote {len(names) + 1} pictures to {outdir}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/motifs"))
