"""Graphene-like supports: primitive cells of the pristine sheets.

A support is one registry entry: a name, parameters from
``arsc/data/supports.yaml`` (each with its source) and a builder that returns
the primitive cell as :class:`ase.Atoms` lying in the plane z = 0. Pockets
(:mod:`arsc.space`) are carved into supercells of these cells.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

import numpy as np
import yaml
from ase import Atoms
from ase.build import graphene, make_supercell
from ase.geometry import find_mic

from arsc.errors import unknown

Builder = Callable[[dict[str, Any]], Atoms]
_BUILDERS: dict[str, Builder] = {}


def register_support(name: str) -> Callable[[Builder], Builder]:
    """Register a primitive-cell builder under ``name`` (decorator)."""

    def wrap(func: Builder) -> Builder:
        _BUILDERS[name] = func
        return func

    return wrap


@dataclass(frozen=True)
class Support:
    """A graphene-like support.

    Attributes
    ----------
    name
        Registry key, e.g. ``"graphene"``.
    description
        One line for humans.
    source
        Where the lattice parameter comes from.
    params
        The support's entry of ``supports.yaml``.
    """

    name: str
    description: str
    source: str
    params: dict[str, Any]

    def primitive(self) -> Atoms:
        """Return a fresh copy of the primitive cell (atoms at z = 0, cell c = 1 A)."""
        return _primitive(self.name).copy()


@cache
def _params() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = yaml.safe_load(
        files("arsc.data").joinpath("supports.yaml").read_text()
    )
    return data


@cache
def _primitive(name: str) -> Atoms:
    atoms = _BUILDERS[name](_params()[name])
    atoms.positions[:, 2] = 0.0
    atoms.cell[2] = [0.0, 0.0, 1.0]
    atoms.pbc = (True, True, False)
    return atoms


def supports() -> dict[str, Support]:
    """Return the support registry, keyed by name."""
    out = {}
    for name, params in _params().items():
        if name not in _BUILDERS:  # pragma: no cover - data/code mismatch is a bug
            raise RuntimeError(f"support {name!r} in supports.yaml has no builder")
        out[name] = Support(name, params["description"].strip(), params["source"], params)
    return out


def get_support(name: str) -> Support:
    """Look a support up by name; raises ArscInputError naming the allowed ones."""
    registry = supports()
    if name not in registry:
        raise unknown("support", name, registry)
    return registry[name]


@register_support("graphene")
def _graphene(params: dict[str, Any]) -> Atoms:
    """Two-atom graphene cell, a1 = (a, 0), a2 = (-a/2, a sqrt(3)/2), basis (0,0), (2/3,1/3)."""
    return graphene(formula="C2", a=params["lattice_constant"], vacuum=None)


@register_support("c2n")
def _c2n(params: dict[str, Any]) -> Atoms:
    """C2N-h2D from graphene: remove one hexagon per 2*sqrt(3) cell, rim atoms -> N.

    The hole is centred on the origin; the cell is scaled to the C2N lattice
    constant. The result is an initial geometry to be relaxed, not a relaxed one.
    """
    cc = 2.46 / np.sqrt(3.0)  # C-C bond of the graphene template, Angstrom
    sheet = make_supercell(
        graphene(formula="C2", a=2.46, vacuum=None), [[4, 2, 0], [-2, 2, 0], [0, 0, 1]]
    )
    # A hexagon centre of the template sits at (0, cc): put it on the origin.
    sheet.positions -= [0.0, cc, 0.0]
    sheet.wrap()
    _, r = find_mic(sheet.positions, sheet.cell, pbc=(True, True, False))
    hole = r < 1.5 * cc  # the six atoms of the removed ring, at r = cc
    rim = (r > 1.5 * cc) & (r < 2.5 * cc)  # their six outer neighbours, at r = 2 cc
    symbols = np.array(sheet.get_chemical_symbols())
    symbols[rim] = "N"
    sheet.set_chemical_symbols(list(symbols))
    del sheet[np.flatnonzero(hole)]
    scale = params["lattice_constant"] / np.linalg.norm(sheet.cell[0])
    sheet.set_cell(sheet.cell * [scale, scale, 1.0], scale_atoms=True)
    return sheet
