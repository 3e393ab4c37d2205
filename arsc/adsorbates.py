"""Adsorbates (reaction intermediates): names, initial geometries, gas references.

Geometries are data in ``arsc/data/adsorbates.yaml``; see that file for the
conventions and sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

import numpy as np
from ase import Atoms

from arsc.errors import unknown


@dataclass(frozen=True)
class Adsorbate:
    """An adsorbate with its initial geometry.

    Attributes
    ----------
    name
        Registry key and chemical formula as written in the literature ("OOH").
    symbols
        Element of each atom, binding atom first.
    positions
        Angstrom, binding atom at the origin, z away from the surface.
    side_on_positions
        Flat geometry for the side-on mode (Angstrom), or None if the
        adsorbate has no side-on mode.
    magmoms
        Initial magnetic moments of the atoms, Bohr magneton.
    gas_references
        Gas-phase molecules its CHE free energy refers to.
    """

    name: str
    symbols: tuple[str, ...]
    positions: tuple[tuple[float, float, float], ...]
    side_on_positions: tuple[tuple[float, float, float], ...] | None
    magmoms: tuple[float, ...]
    gas_references: tuple[str, ...]

    @property
    def side_on(self) -> bool:
        """Whether the adsorbate can bind side-on (flat over both metals)."""
        return self.side_on_positions is not None

    @property
    def binding_element(self) -> str:
        """Element of the atom bound to the surface."""
        return self.symbols[0]

    def atoms(self, side_on: bool = False) -> Atoms:
        """Return the adsorbate as ASE Atoms in its local frame."""
        pos = self.side_on_positions if side_on else self.positions
        if pos is None:
            raise ValueError(f"adsorbate {self.name} has no side-on geometry")
        return Atoms(self.symbols, positions=np.array(pos), magmoms=self.magmoms)


def _coords(rows: list[list[Any]]) -> tuple[tuple[float, float, float], ...]:
    return tuple((float(r[1]), float(r[2]), float(r[3])) for r in rows)


@cache
def _registry() -> dict[str, Adsorbate]:
    import yaml

    data = yaml.safe_load(files("arsc.data").joinpath("adsorbates.yaml").read_text())
    refs = data["gas_references"]
    out = {}
    for name, entry in data["adsorbates"].items():
        symbols = tuple(str(r[0]) for r in entry["atoms"])
        gas = sorted({mol for el in set(symbols) for mol in refs[el]})
        side = entry.get("side_on")
        out[name] = Adsorbate(
            name=name,
            symbols=symbols,
            positions=_coords(entry["atoms"]),
            side_on_positions=_coords(side) if side else None,
            magmoms=tuple(float(m) for m in entry.get("magmom", [0.0] * len(symbols))),
            gas_references=tuple(gas),
        )
    return out


def adsorbates() -> dict[str, Adsorbate]:
    """Return the adsorbate registry, keyed by name."""
    return dict(_registry())


def get_adsorbate(name: str) -> Adsorbate:
    """Look an adsorbate up by name; raises ArscInputError naming the allowed ones."""
    registry = _registry()
    if name not in registry:
        raise unknown("intermediate", name, registry)
    return registry[name]
