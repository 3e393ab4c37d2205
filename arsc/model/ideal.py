"""Ideal adsorption free energies dG_opt(z) per reaction, from ``ideal_dg.yaml``.

Examples
--------
>>> from arsc.model.ideal import ideal_dg
>>> ideal_dg("OOH")
3.69
>>> ideal_dg("COOH", "CO2RR-CH4")
-0.17
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

import yaml

from arsc.errors import ArscInputError, unknown


@cache
def _data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(files("arsc.data").joinpath("ideal_dg.yaml").read_text())
    return data


def reactions() -> dict[str, dict[str, Any]]:
    """Return the reaction table: U0 (V vs RHE), source and ``{z: {n_e, dG_opt}}``."""
    return dict(_data()["reactions"])


def default_reaction(intermediate: str) -> str | None:
    """Reaction whose dG_opt defines phi_opt of ``intermediate`` by default (None if none)."""
    out = _data()["default_reaction"].get(intermediate)
    return None if out is None else str(out)


def ideal_dg(intermediate: str, reaction: str | None = None) -> float | None:
    """Ideal adsorption free energy of an intermediate, eV.

    Parameters
    ----------
    intermediate
        Adsorbate name without the star ("OH", "COOH").
    reaction
        Reaction name from ``ideal_dg.yaml`` ("ORR", "CO2RR-CH4", ...);
        default: the intermediate's default reaction.

    Returns
    -------
    float or None
        dG_opt in eV, or None when no reaction defines it for this intermediate.

    Raises
    ------
    ArscInputError
        If ``reaction`` is not in the table, or the reaction has no such intermediate.
    """
    table = reactions()
    if reaction is None:
        reaction = default_reaction(intermediate)
        if reaction is None:
            return None
    if reaction not in table:
        raise unknown("reaction", reaction, table)
    entry = table[reaction]["intermediates"].get(intermediate)
    if entry is None:
        raise ArscInputError(
            f"reaction {reaction!r} has no intermediate {intermediate!r}; allowed: "
            + ", ".join(table[reaction]["intermediates"])
        )
    return float(entry["dG_opt"])
