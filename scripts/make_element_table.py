"""Regenerate arsc/data/elements_*.csv from their primary sources.

Run by hand (``python scripts/make_element_table.py``) when a source changes.
The default table is read from pymatgen's periodic-table data and ASE; the
authors' table is the ``element`` sheet of the PFESS demo workbook
(../shared/data/pfess-demo/train-test.xlsx, Apache-2.0).
"""

from __future__ import annotations

import re
import sys
import warnings
from pathlib import Path

import pandas as pd
from ase.data import atomic_masses, covalent_radii
from pymatgen.core import Element

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "arsc" / "data"
# 3d, 4d and 5d transition metals (group 3 of period 6 is Lu, IUPAC 2021).
METALS = [
    "Sc",
    "Ti",
    "V",
    "Cr",
    "Mn",
    "Fe",
    "Co",
    "Ni",
    "Cu",
    "Zn",
    "Y",
    "Zr",
    "Nb",
    "Mo",
    "Tc",
    "Ru",
    "Rh",
    "Pd",
    "Ag",
    "Cd",
    "Lu",
    "Hf",
    "Ta",
    "W",
    "Re",
    "Os",
    "Ir",
    "Pt",
    "Au",
    "Hg",
]
# Metals outside the d block that published SAC/DAC sets use. Pm is radioactive.
OTHER_METALS = [
    "Mg",
    "Ca",
    "Sr",
    "Ba",
    "Al",
    "Ga",
    "In",
    "Tl",
    "Ge",
    "Sn",
    "Pb",
    "Sb",
    "Bi",
    "Pr",
    "Nd",
    "Sm",
    "Eu",
    "Gd",
    "Tb",
    "Dy",
    "Er",
    "Tm",
    "Yb",
    "La",
    "Ce",
    "Ho",
]
# Clementi et al. (1967) give no calculated radius for these lanthanides (pymatgen has
# none); R is put on the calculated scale from Slater's empirical radius (J. Chem. Phys.
# 41, 3199 (1964); pymatgen Element.atomic_radius) times the median ratio calculated /
# empirical over the lanthanides that have both (Pr, Nd, Sm-Dy, Er-Lu: 1.286).
RADIUS_FROM_EMPIRICAL = ("La", "Ce", "Ho")
LANTHANIDES_WITH_BOTH = ("Pr", "Nd", "Sm", "Eu", "Gd", "Tb", "Dy", "Er", "Tm", "Yb", "Lu")


def d_electrons(el: Element) -> int:
    """Return the d-electron count of the ground-state configuration."""
    match = re.search(r"\dd(\d+)", el.electronic_structure)
    return int(match.group(1)) if match else 0


def calculated_over_empirical() -> float:
    """Median ratio of Clementi's calculated to Slater's empirical radius over lanthanides."""
    ratios = [
        float(Element(s).atomic_radius_calculated) / float(Element(s).atomic_radius)
        for s in LANTHANIDES_WITH_BOTH
    ]
    return float(pd.Series(ratios).median())


def radius(el: Element, ratio: float) -> float:
    """Return the calculated radius, or the empirical one on its scale (RADIUS_FROM_EMPIRICAL)."""
    if el.symbol in RADIUS_FROM_EMPIRICAL:
        return round(float(el.atomic_radius) * ratio, 2)
    return float(el.atomic_radius_calculated)


def default_table() -> pd.DataFrame:
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ratio = calculated_over_empirical()
        for sym in METALS + OTHER_METALS:
            el = Element(sym)
            rows.append(
                {
                    "symbol": sym,
                    "Z": el.Z,
                    "n": el.group,
                    "S": el.row,
                    "d": d_electrons(el),
                    "IE": round(float(el.ionization_energies[0]), 4),
                    "X": float(el.X),
                    "R": radius(el, ratio),
                    "r_cov": float(covalent_radii[el.Z]),
                    "mass": round(float(atomic_masses[el.Z]), 4),
                }
            )
    return pd.DataFrame(rows)


def authors_table(xlsx: Path) -> pd.DataFrame:
    sheet = pd.read_excel(xlsx, sheet_name="element")
    sheet = sheet.rename(columns={sheet.columns[0]: "symbol"})
    return sheet[["symbol", "n", "S", "d", "IE", "X", "R"]]


def main() -> None:
    default_table().to_csv(DATA / "elements_default.csv", index=False)
    xlsx = ROOT.parent / "shared" / "data" / "pfess-demo" / "train-test.xlsx"
    if len(sys.argv) > 1:
        xlsx = Path(sys.argv[1])
    authors_table(xlsx).to_csv(DATA / "elements_authors.csv", index=False)


if __name__ == "__main__":
    main()
