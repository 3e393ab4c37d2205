"""Transfer what is known about related sites to a target site: geometry and free energies.

Geometry: correct an MLIP geometry with what DFT did to sibling sites
(geometric delta-learning, :func:`sibling_corrected_positions`, below).
Free energies: a model that saw single atoms only scores a dual-atom pair
from its two metals' single-atom values (:func:`score_pairs`,
:func:`partner_mixed`, at the end of the module).

**Geometry.** Sites that share a support and a coordination motif and differ only in their
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
import pandas as pd
from ase.geometry import find_mic
from numpy.typing import ArrayLike

from arsc.errors import ArscInputError
from arsc.model import ArscModel
from arsc.model.predict import Scores, score, score_lowest, swapped
from arsc.model.table import coord_columns


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


# ---- free energies: single-atom knowledge transferred to a dual-atom pair --------------------

#: Range of the partner weight w of :func:`partner_mixed` when no dual-atom data fixes it
#: (uniform on it: mean 1/4, std 1/sqrt(48)). A modelling assumption, not a measured value:
#: w = 0 is the single-atom limit (the partner ignored), w = 1/2 the plain average of the two
#: metals' single-atom values, the most a partner can weigh while the adsorbate stays on the
#: binding metal (beyond 1/2 the partner would be the binding metal: the other binding mode,
#: which :func:`score_pairs` scores as well).
PARTNER_WEIGHT_RANGE: tuple[float, float] = (0.0, 0.5)


def partner_mixed(
    own: ArrayLike,
    own_std: ArrayLike,
    partner: ArrayLike,
    partner_std: ArrayLike,
    weight: tuple[float, float] = PARTNER_WEIGHT_RANGE,
) -> tuple[np.ndarray, np.ndarray]:
    """Return dG on metal x of an x-y pair from the two metals' single-atom dG, with its std.

    The ARSC synergy term (docs/model.md, S term) mixes the two metals'
    descriptors geometrically, phi = phi_xx^(1-w) phi_yy^w with w =
    gamma / (1 + gamma); through the reactant term at beta = 0 (dG = a + b ln
    phi) that is a linear mixing of the two single-atom free energies:

    ``dG(x | y) = (1 - w) dG_SAC(x) + w dG_SAC(y)``.

    Without dual-atom data w is not known; it is taken uniform on ``weight``
    (:data:`PARTNER_WEIGHT_RANGE`), so the mean uses its midpoint w0 and the
    std has two parts in quadrature:

    - the single-atom predictions' own error, mixed as (1 - w0) s_x + w0 s_y
      (errors taken fully correlated: one prior extrapolating both metals to
      the same pocket errs alike, and this is the larger, cautious choice);
    - the unknown weight: |dG_SAC(y) - dG_SAC(x)| (w_hi - w_lo) / sqrt(12).

    A homonuclear pair (x = y) keeps its single-atom value and std.

    Parameters
    ----------
    own, own_std
        Single-atom dG of the binding metal x (with its own first shell) and
        its predictive std, eV.
    partner, partner_std
        The same for the partner metal y, eV.
    weight
        (low, high) of the partner weight w, dimensionless, 0 <= low <= high <= 1.

    Returns
    -------
    tuple of numpy.ndarray
        Mean and std of dG(x | y), eV (broadcast shape of the inputs).

    Raises
    ------
    ArscInputError
        A weight range outside 0 <= low <= high <= 1.
    """
    lo, hi = weight
    if not 0.0 <= lo <= hi <= 1.0:
        raise ArscInputError(f"partner weight range {weight!r}: need 0 <= low <= high <= 1")
    x, y = np.asarray(own, dtype=float), np.asarray(partner, dtype=float)
    sx, sy = np.asarray(own_std, dtype=float), np.asarray(partner_std, dtype=float)
    w0 = 0.5 * (lo + hi)
    mean = (1.0 - w0) * x + w0 * y
    spread = np.abs(y - x) * (hi - lo) / np.sqrt(12.0)
    return mean, np.hypot((1.0 - w0) * sx + w0 * sy, spread)


def single_atom_only(model: ArscModel) -> bool:
    """Whether the model saw no dual-atom row, so it knows no partner effect.

    True when every training row of every intermediate has the partner equal
    to the binding metal with the same first shell (hierarchical fits), or the
    synergy and pair parameters (gamma, p) were left unfitted (the power-law
    variants fit them only when some row is heteronuclear).
    """
    for fit in model.intermediates.values():
        if fit.hier is not None:
            h = fit.hier
            if h.i1 != h.i2 or h.env1 != h.env2:
                return False
        elif {"gamma", "p"} & set(fit.fitted):
            return False
    return True


def _single_atom_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Return metal 1 of each row as a single-atom site (partner = metal 1, metal 1's shell)."""
    out = table.copy()
    out["metal2"] = table["metal1"].to_numpy()
    for first, second in coord_columns(table).values():
        if second is not None:
            out[second] = table[first].to_numpy()
    return out


def score_pairs(
    model: ArscModel, table: pd.DataFrame, intermediates: Sequence[str] | None = None
) -> tuple[Scores, np.ndarray]:
    """Score dual-atom sites with either metal binding and keep the lower dG per intermediate.

    A model fitted on dual-atom rows scores the sites as they are
    (:func:`arsc.model.predict.score_lowest`). A model that saw single atoms
    only (:func:`single_atom_only`, e.g. the packaged ``prior-sac-hoer``)
    knows nothing of the partner and would give every x-y pair the value of
    x-x; here each metal is scored as a single atom with its own first shell
    and the two are mixed by :func:`partner_mixed` (phi mixed geometrically,
    phi_x^(1-w0) phi_y^w0, as the ARSC synergy term does).

    Returns
    -------
    tuple
        The scores of the lower-dG mode per row and intermediate, and which metal binds
        there (1 or 2), shape (rows, intermediates).
    """
    if not single_atom_only(model):
        return score_lowest(model, table, intermediates)
    one = score(model, _single_atom_rows(table), intermediates)
    two = score(model, _single_atom_rows(swapped(table)), intermediates)
    w0 = 0.5 * sum(PARTNER_WEIGHT_RANGE)
    m1, s1 = partner_mixed(one.dg, one.std, two.dg, two.std)
    m2, s2 = partner_mixed(two.dg, two.std, one.dg, one.std)
    second = m2 < m1
    with np.errstate(invalid="ignore", divide="ignore"):
        phi1 = one.phi ** (1.0 - w0) * two.phi**w0
        phi2 = two.phi ** (1.0 - w0) * one.phi**w0
    ens1 = (1.0 - w0) * one.std_ensemble + w0 * two.std_ensemble
    ens2 = (1.0 - w0) * two.std_ensemble + w0 * one.std_ensemble
    scores = Scores(
        one.intermediates,
        np.where(second, m2, m1),
        np.where(second, s2, s1),
        np.where(second, phi2, phi1),
        np.where(second, ens2, ens1),
    )
    return scores, np.where(second, 2, 1)
