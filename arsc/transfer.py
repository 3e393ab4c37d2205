"""Correct an MLIP geometry with what DFT did to sibling sites (geometric delta-learning).

Sites that share a support and a coordination motif and differ only in their
metals (Fe-Co beside Fe-Fe and Co-Co) are built atom for atom alike
(:mod:`arsc.structures`), so their relaxations can be compared position by
position. A universal potential's error on such a site is largely shared by
its siblings (CHGNet opens every Fe/Co pair in an N6 pocket to about 2.55 A
where PBE has 2.20-2.27 A). Once the siblings have been relaxed with DFT and
with the MLIP, the mean of their DFT-minus-MLIP displacements is that shared
error, and adding it to the target's MLIP geometry removes most of it:

``x_start = x_MLIP(target) + mean over siblings s of (x_DFT(s) - x_MLIP(s))``.
The displacements keep their rigid part: an MLIP relaxation that moves the
whole sheet (CHGNet lowers it by about 0.07 A along z here) is moved back to
where DFT keeps the siblings, which matters on a real-space grid (GPAW's
egg-box effect, docs/engines.md).
Displacements use the minimum-image convention of the cell. Measured on Fe-Co
qv-n6 with GPAW ``standard`` (docs/engines.md): the start moved from 0.058 A
RMS off the DFT minimum (packaged CHGNet) to 0.011 A.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase.geometry import find_mic
from numpy.typing import ArrayLike

from arsc.errors import ArscInputError


def _displacement(name: str, dft: ArrayLike, mlip: ArrayLike, cell: np.ndarray) -> np.ndarray:
    dft_xyz = np.asarray(dft, dtype=float)
    mlip_xyz = np.asarray(mlip, dtype=float)
    if dft_xyz.shape != mlip_xyz.shape:
        raise ArscInputError(
            f"sibling {name}: DFT positions {dft_xyz.shape} and MLIP positions "
            f"{mlip_xyz.shape} differ in shape"
        )
    shift, _ = find_mic(dft_xyz - mlip_xyz, cell, pbc=[True, True, False])
    return shift


def sibling_corrected_positions(
    mlip: ArrayLike,
    siblings: Sequence[tuple[str, ArrayLike, ArrayLike]],
    cell: ArrayLike,
) -> np.ndarray:
    """Return the target's MLIP positions plus the siblings' mean DFT-minus-MLIP displacement.

    Parameters
    ----------
    mlip
        Cartesian positions of the target site relaxed with the MLIP, shape
        (n_atoms, 3), Angstrom.
    siblings
        ``(name, dft_positions, mlip_positions)`` per sibling site: the same
        atoms in the same order as the target (same support and motif), relaxed
        with DFT and with the same MLIP from the same built structure, Angstrom.
    cell
        The (shared) cell, 3x3 Angstrom; periodic in x and y.

    Returns
    -------
    numpy.ndarray
        Corrected Cartesian positions, shape (n_atoms, 3), Angstrom.

    Raises
    ------
    ArscInputError
        If there is no sibling or a sibling's positions do not match the target's shape.
    """
    target = np.asarray(mlip, dtype=float)
    if not siblings:
        raise ArscInputError("sibling correction: no sibling site given")
    box = np.asarray(cell, dtype=float)
    shifts = []
    for name, dft, model in siblings:
        shift = _displacement(name, dft, model, box)
        if shift.shape != target.shape:
            raise ArscInputError(
                f"sibling {name}: {shift.shape[0]} atoms where the target has {target.shape[0]}; "
                "siblings must share the target's support and motif"
            )
        shifts.append(shift)
    return target + np.mean(shifts, axis=0)
