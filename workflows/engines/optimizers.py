"""ASE optimisers by name, for the relaxations of the in-process engines."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from ase import Atoms
from ase.optimize import BFGS, FIRE
from ase.optimize.optimize import Optimizer
from ase.optimize.precon import Exp, PreconLBFGS

from arsc.errors import unknown


class PreconLBFGSExp(PreconLBFGS):
    """ASE's preconditioned LBFGS with the Exp preconditioner (Packwood et al. 2016).

    The preconditioner is built from the bond network (``A = 3``, ASE's
    default), so soft and stiff modes get steps of the right size from the
    first step; each step may take more than one force call (the Armijo line
    search, and the estimate of the preconditioner's energy scale).
    """

    def __init__(self, atoms: Atoms, **kwargs: Any) -> None:
        super().__init__(atoms, precon=Exp(A=3), use_armijo=True, **kwargs)

    def step(self, forces: np.ndarray | None = None) -> None:
        """One step; a flat sheet's "Cell length L[2] == 0" note from the mu estimate is dropped.

        ASE estimates the preconditioner's energy scale from a sine
        displacement along each direction the atoms span and warns when they
        span none (all atoms in one plane: a bare 2-D site); that direction
        is then left out, which is right for a flat sheet.
        """
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Cell length L\[\d\] == 0")
            super().step(forces)


#: ASE optimisers by name.
OPTIMIZERS: dict[str, type[Optimizer]] = {
    "BFGS": BFGS,
    "FIRE": FIRE,
    "PreconLBFGS": PreconLBFGSExp,
}


def get_optimizer(name: str) -> type[Optimizer]:
    """Return an ASE optimiser class by name; raises ArscInputError naming the allowed ones."""
    if name not in OPTIMIZERS:
        raise unknown("optimizer", name, OPTIMIZERS)
    return OPTIMIZERS[name]
