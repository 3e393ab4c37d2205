"""Free-energy step diagrams of computed sites: the code lives in :mod:`arsc.thermo.diagram`.

Re-exported here for the report (:mod:`workflows.report.figures`).
"""

from arsc.thermo.diagram import (
    U_EQUILIBRIUM,
    U_LIMITING,
    U_ZERO,
    Diagram,
    diagrams,
    levels_at,
    short_label,
    site_diagrams,
    subscripts,
)

__all__ = [
    "U_EQUILIBRIUM",
    "U_LIMITING",
    "U_ZERO",
    "Diagram",
    "diagrams",
    "levels_at",
    "short_label",
    "site_diagrams",
    "subscripts",
]
