"""Write the synthetic VASP DOS files of this folder (see PROVENANCE.md).

Run from the repository root: ``.venv/bin/python tests/data/dband/make_synthetic.py``.
The output is deterministic; ``tests/arsc/test_dband.py`` checks that the
committed files equal what this script writes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from scipy.special import ndtr

HERE = Path(__file__).parent
ENERGIES = np.round(np.arange(-12.0, 6.0 + 1e-9, 0.2), 10)  # eV, absolute, 91 points
FERMI = -1.6  # eV, absolute (on a grid point)
ELEMENTS = ("Fe", "N")
ORBITALS = ("s", "py", "pz", "px", "dxy", "dyz", "dz2", "dxz", "x2-y2")
D_SHARE = (0.18, 0.22, 0.20, 0.20, 0.20)  # how each d component is split over the 5 d orbitals

#: Gaussian components (weight in states, centre in eV absolute, sigma in eV) per atom, spin, shell.
COMPONENTS: dict[int, dict[int, dict[str, tuple[float, float, float]]]] = {
    0: {  # Fe: exchange-split d band
        0: {"s": (0.4, -5.0, 3.0), "p": (0.3, -4.0, 3.0), "d": (4.6, -3.5, 1.0)},
        1: {"s": (0.4, -5.0, 3.0), "p": (0.3, -4.0, 3.0), "d": (2.4, -2.0, 1.2)},
    },
    1: {  # N: a little d weight, deep
        0: {"s": (1.0, -8.0, 1.5), "p": (1.5, -6.0, 2.0), "d": (0.2, -7.0, 0.8)},
        1: {"s": (1.0, -8.0, 1.5), "p": (1.5, -6.0, 2.0), "d": (0.2, -7.0, 0.8)},
    },
}


def gauss(weight: float, centre: float, sigma: float) -> np.ndarray:
    """Normalised Gaussian times ``weight``, states/eV, on :data:`ENERGIES`."""
    return (
        weight
        * np.exp(-0.5 * ((ENERGIES - centre) / sigma) ** 2)
        / (sigma * math.sqrt(2 * math.pi))
    )


def orbital_columns(atom: int, spin: int) -> list[np.ndarray]:
    """The 9 lm-resolved PDOS columns (s, py, pz, px, 5 d) of one atom and spin."""
    comp = COMPONENTS[atom][spin]
    s = gauss(*comp["s"])
    p = gauss(*comp["p"]) / 3.0
    d = gauss(*comp["d"])
    return [s, p, p, p, *(share * d for share in D_SHARE)]


def fortran_e(x: float, digits: int = 4, width: int = 12) -> str:
    """Format like Fortran ``E12.4`` (``0.1234E+01``), as VASP writes its DOSCAR."""
    if x == 0.0:
        return f"{'0.' + '0' * digits + 'E+00':>{width}}"
    exp = math.floor(math.log10(abs(x))) + 1
    mant = round(abs(x) / 10.0**exp, digits)
    if mant >= 1.0:
        mant, exp = mant / 10.0, exp + 1
    sign = "-" if x < 0 else ""
    return f"{sign}0.{round(mant * 10**digits):0{digits}d}E{exp:+03d}".rjust(width)


def totals() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Total DOS per spin (sum of all projections) and its running integral."""
    dos = [sum(sum(orbital_columns(a, s)) for a in COMPONENTS) for s in (0, 1)]
    step = ENERGIES[1] - ENERGIES[0]
    integ = [np.concatenate(([0.0], np.cumsum(0.5 * (d[1:] + d[:-1]) * step))) for d in dos]
    return dos, integ


def doscar() -> str:
    """A collinear DOSCAR (ISPIN = 2, LORBIT = 11) in VASP 5/6 layout."""
    n = len(ENERGIES)
    block_head = f"{ENERGIES[-1]:15.8f}{ENERGIES[0]:15.8f}{n:8d}{FERMI:15.8f}{1.0:15.8f}"
    lines = [
        f"{len(ELEMENTS):4d}{len(ELEMENTS):4d}   1   0",
        "  0.1168401E+02  0.2460000E-09  0.2460000E-09  0.1500000E-08  0.5000000E-15",
        "  1.000000000000000E-004",
        "  CAR ",
        " synthetic Gaussian d bands (arsc tests)",
        block_head,
    ]
    dos, integ = totals()
    for i, e in enumerate(ENERGIES):
        vals = (dos[0][i], dos[1][i], integ[0][i], integ[1][i])
        lines.append(f"{e:11.3f}" + "".join(fortran_e(v) for v in vals))
    for atom in COMPONENTS:
        lines.append(block_head)
        up, down = orbital_columns(atom, 0), orbital_columns(atom, 1)
        for i, e in enumerate(ENERGIES):
            pairs = [v for u, d in zip(up, down, strict=True) for v in (u[i], d[i])]
            lines.append(f"{e:11.3f}" + "".join(fortran_e(v) for v in pairs))
    return "\n".join(lines) + "\n"


def _rows(columns: list[np.ndarray], indent: str) -> list[str]:
    return [
        f"{indent}<r> " + " ".join(f"{c[i]:10.4f}" for c in columns) + " </r>"
        for i in range(len(ENERGIES))
    ]


def vasprun() -> str:
    """A minimal vasprun.xml with the same DOS, enough for pymatgen's ``Vasprun``."""
    dos, integ = totals()
    out = [
        '<?xml version="1.0" encoding="ISO-8859-1"?>',
        "<modeling>",
        ' <generator><i name="program" type="string">vasp </i>'
        '<i name="version" type="string">6.4.2  </i></generator>',
        ' <incar><i type="int" name="ISPIN">     2</i>'
        '<i type="int" name="LORBIT">    11</i></incar>',
        ' <parameters><separator name="electronic">'
        '<i type="int" name="ISPIN">     2</i><i type="int" name="NELM">    60</i></separator>'
        '<separator name="ionic"><i type="int" name="IBRION">    -1</i>'
        '<i type="int" name="NSW">     0</i></separator></parameters>',
        " <atominfo>",
        f"  <atoms>{len(ELEMENTS)}</atoms><types>{len(ELEMENTS)}</types>",
        '  <array name="atoms"><dimension dim="1">ion</dimension>'
        '<field type="string">element</field><field type="int">atomtype</field><set>',
        *(f"   <rc><c>{el}</c><c>{i + 1}</c></rc>" for i, el in enumerate(ELEMENTS)),
        "  </set></array>",
        '  <array name="atomtypes"><dimension dim="1">type</dimension>'
        '<field type="int">atomspertype</field><field type="string">element</field>'
        "<field>mass</field><field>valence</field>"
        '<field type="string">pseudopotential</field><set>',
        "   <rc><c>1</c><c>Fe</c><c>55.847</c><c>8.0</c><c>  PAW_PBE Fe 06Sep2000</c></rc>",
        "   <rc><c>1</c><c>N </c><c>14.001</c><c>5.0</c><c>  PAW_PBE N 08Apr2002</c></rc>",
        "  </set></array>",
        " </atominfo>",
    ]
    structure = [
        '  <crystal><varray name="basis">',
        "    <v>  10.0 0.0 0.0 </v>",
        "    <v>  0.0 10.0 0.0 </v>",
        "    <v>  0.0 0.0 10.0 </v>",
        "  </varray></crystal>",
        '  <varray name="positions">',
        "   <v> 0.0 0.0 0.0 </v>",
        "   <v> 0.19 0.0 0.0 </v>",
        "  </varray>",
        " </structure>",
    ]
    out += [' <structure name="initialpos">', *structure]
    out += [
        " <calculation>",
        "  <dos>",
        f'   <i name="efermi">{FERMI:16.8f} </i>',
        "   <total><array>",
        '    <dimension dim="1">gridpoints</dimension><dimension dim="2">spin</dimension>',
        "    <field>energy</field><field>total</field><field>integrated</field>",
        "    <set>",
    ]
    for s in (0, 1):
        out += [f'     <set comment="spin {s + 1}">']
        out += _rows([ENERGIES, dos[s], integ[s]], "      ")
        out += ["     </set>"]
    out += ["    </set>", "   </array></total>", "   <partial><array>"]
    out += [
        '    <dimension dim="1">gridpoints</dimension><dimension dim="2">spin</dimension>'
        '<dimension dim="3">ion</dimension>',
        "    <field>energy</field>" + "".join(f"<field>{o:>6}</field>" for o in ORBITALS),
        "    <set>",
    ]
    for atom in COMPONENTS:
        out += [f'     <set comment="ion {atom + 1}">']
        for s in (0, 1):
            out += [f'      <set comment="spin {s + 1}">']
            out += _rows([ENERGIES, *orbital_columns(atom, s)], "       ")
            out += ["      </set>"]
        out += ["     </set>"]
    out += ["    </set>", "   </array></partial>", "  </dos>", " </calculation>"]
    out += [' <structure name="finalpos">', *structure, "</modeling>"]
    return "\n".join(out) + "\n"


def mixture(parts: list[tuple[float, float, float]]) -> dict[str, float]:
    """Exact moments of a sum of Gaussians (weight, centre, sigma), centre relative to FERMI."""
    w = np.array([p[0] for p in parts])
    mu = np.array([p[1] for p in parts]) - FERMI
    sig = np.array([p[2] for p in parts])
    total = w.sum()
    centre = float((w * mu).sum() / total)
    dlt = mu - centre
    m2 = float((w * (sig**2 + dlt**2)).sum() / total)
    m3 = float((w * (3 * sig**2 * dlt + dlt**3)).sum() / total)
    m4 = float((w * (3 * sig**4 + 6 * sig**2 * dlt**2 + dlt**4)).sum() / total)
    filling = float((w * ndtr(-mu / sig)).sum() / total)
    return {
        "filling": filling,
        "centre": centre,
        "width": m2**0.5,
        "skewness": m3 / m2**1.5,
        "kurtosis": m4 / m2**2,
    }


def expected() -> dict[str, object]:
    """Exact (continuous) d-band moments for two atom selections, full band."""
    out: dict[str, object] = {
        "fermi_eV": FERMI,
        "note": "exact moments of the Gaussian d components; energies in eV relative to E_F",
    }
    for atoms in ((0,), (0, 1)):
        key = ",".join(str(a) for a in atoms)
        per_spin = [[COMPONENTS[a][s]["d"] for a in atoms] for s in (0, 1)]
        out[key] = {
            "full": mixture(per_spin[0] + per_spin[1]),
            "spin": [mixture(p) for p in per_spin],
        }
    return out


def files() -> dict[str, str]:
    """File name -> content of every file this script writes."""
    return {
        "DOSCAR": doscar(),
        "vasprun.xml": vasprun(),
        "expected.json": json.dumps(expected(), indent=2) + "\n",
    }


if __name__ == "__main__":
    for name, text in files().items():
        (HERE / name).write_text(text)
        print(f"wrote {HERE / name} ({len(text)} bytes)")
