"""A starting Hessian for the DFT optimiser from an MLIP.

A quasi-Newton optimiser (ASE's BFGS) starts from a guess of the Hessian,
``alpha * I`` with ``alpha = 70 eV/A^2`` by default, and learns the real one
from the forces of its steps: on a 48-atom DAC model most of its DFT steps
are spent learning the curvature, not travelling. An MLIP gives the whole
curvature for the price of 6N + 1 force calls (seconds for CHGNet on 48
atoms, against a minute per DFT force call), so the first DFT step is
already a Newton step. The MLIP's minimum may sit elsewhere (CHGNet puts the
Fe-Co pair of the qv-n6 site 0.37 A further apart than PBE,
docs/engines.md); its curvature is still a far better guess than
``alpha * I``, and BFGS corrects it from the DFT forces.

The finite-difference Hessian comes from :class:`ase.vibrations.Vibrations`
(central differences, symmetrised); its eigenvalues are made positive and
no smaller than :data:`MIN_CURVATURE`, so that the three translations (zero
curvature in a periodic cell) and any negative mode (a start away from the
MLIP's minimum) give bounded steps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.vibrations import Vibrations

#: Smallest curvature kept in the starting Hessian, eV/A^2.
MIN_CURVATURE = 1.0
#: Finite-difference displacement, Angstrom (ASE's default).
DELTA = 0.01


def regularise(hessian: np.ndarray, min_curvature: float = MIN_CURVATURE) -> np.ndarray:
    """Return the symmetric Hessian with eigenvalues ``max(|w|, min_curvature)``.

    Parameters
    ----------
    hessian
        Square matrix, eV/A^2.
    min_curvature
        Floor of the eigenvalues, eV/A^2.
    """
    sym = 0.5 * (hessian + hessian.T)
    omega, vectors = np.linalg.eigh(sym)
    omega = np.maximum(np.abs(omega), min_curvature)
    return np.asarray((vectors * omega) @ vectors.T)


def finite_difference_hessian(
    atoms: Atoms, calc: Calculator, folder: Path, delta: float = DELTA
) -> np.ndarray:
    """Return the 3N x 3N Hessian (eV/A^2) of ``atoms`` with ``calc``; ``atoms`` is not modified.

    The displaced force calls are cached under ``folder`` (a re-run after a
    kill reuses them). Atoms under ``FixAtoms`` keep their rows (the
    optimiser never moves them).
    """
    folder.mkdir(parents=True, exist_ok=True)
    work = atoms.copy()
    work.calc = calc
    work.set_constraint()
    vib = Vibrations(work, delta=delta, nfree=2, name=str(folder / "vib"))
    vib.run()
    return np.asarray(vib.get_vibrations().get_hessian_2d())


def mlip_hessian(
    atoms: Atoms,
    model: str,
    folder: Path,
    min_curvature: float = MIN_CURVATURE,
    weights_file: str | None = None,
) -> np.ndarray:
    """Return the regularised MLIP Hessian (eV/A^2) of ``atoms`` at its current geometry.

    Parameters
    ----------
    atoms
        Structure; not modified.
    model
        MLIP model name (``workflows/data/mlip_models.yaml``); needs the
        ``arsc-dac[mlip]`` extra.
    folder
        Cache folder for the displaced force calls.
    min_curvature
        Floor of the eigenvalues, eV/A^2.
    weights_file
        Fine-tuned weights of the model (:mod:`workflows.engines.finetune`).
    """
    from workflows.engines.mlip import load_calculator, torch_threads

    with torch_threads(1):
        calc = load_calculator(model, weights_file)
        hessian = finite_difference_hessian(atoms, calc, folder)
    return regularise(hessian, min_curvature)


def quadratic_relaxation_energy(
    forces: np.ndarray, hessian: np.ndarray, free: np.ndarray | None = None
) -> float:
    """Return the energy change of a Newton step, ``-1/2 f^T H^-1 f`` (eV; <= 0 for H > 0).

    On a quadratic surface with Hessian ``H`` this is exactly the energy
    released by relaxing from a point with forces ``f`` to the minimum; on a
    real one it is the second-order estimate of the relaxation energy.

    Parameters
    ----------
    forces
        Forces at the point, (N, 3), eV/Angstrom.
    hessian
        Hessian at the point, (3N, 3N), eV/Angstrom^2; should be positive
        definite (:func:`regularise`).
    free
        Mask of the atoms that may move, (N,); default all. Fixed atoms'
        rows and columns are left out.
    """
    mask = np.ones(len(forces), dtype=bool) if free is None else np.asarray(free, dtype=bool)
    rows = np.repeat(mask, 3)
    f = np.asarray(forces, dtype=float).reshape(-1)[rows]
    h = np.asarray(hessian, dtype=float)[np.ix_(rows, rows)]
    return float(-0.5 * f @ np.linalg.solve(h, f))
