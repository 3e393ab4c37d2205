"""Write a small synthetic VASP output folder (``outputs/``) for the vasprun.xml reader.

No real vasprun.xml is available here, so this folder is made up: two atoms
(Fe, N) in a 10 A box, a two-step relaxation (ISPIN 2, LORBIT 11) with known
energies and forces, and a Gaussian d band on Fe centred at -2.0 eV relative
to the Fermi level. Run from the repository root:
``.venv/bin/python tests/data/vasp/synthetic_vasprun/make_synthetic.py``;
``tests/workflows/engines/test_engine_vasp.py`` checks that the committed files equal
what this script writes.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent / "outputs"
ENERGIES = np.round(np.arange(-10.0, 5.0 + 1e-9, 0.1), 10)  # eV, absolute
FERMI = 1.0  # eV, absolute
D_CENTRE, D_SIGMA = -1.0, 1.0  # eV absolute (-2.0 relative to FERMI), eV
ORBITALS = ("s", "py", "pz", "px", "dxy", "dyz", "dz2", "dxz", "x2-y2")
#: Per ionic step: e_fr_energy, e_0_energy (eV), forces (eV/A), SCF steps, Fe x (A).
STEPS = (
    (-10.01, -10.0, ((0.30, 0.0, 0.0), (-0.30, 0.0, 0.0)), 5, 0.0),
    (-10.51, -10.5, ((0.01, 0.0, 0.0), (-0.01, 0.0, 0.0)), 3, 0.1),
)
INCAR = "ISPIN = 2\nLORBIT = 11\nNSW = 10\nIBRION = 2\nNELM = 60\nSIGMA = 0.1\nENCUT = 400\n"
OSZICAR = "   2 F= -.10510000E+02 E0= -.10500000E+02  d E =-.500000E+00  mag=     2.0000\n"


def gauss(weight: float) -> np.ndarray:
    """Normalised Gaussian d band times ``weight``, states/eV."""
    z = (ENERGIES - D_CENTRE) / D_SIGMA
    return weight * np.exp(-0.5 * z**2) / (D_SIGMA * math.sqrt(2 * math.pi))


def _rows(columns: list[np.ndarray]) -> list[str]:
    return [
        "<r> " + " ".join(f"{c[i]:10.4f}" for c in columns) + " </r>" for i in range(len(ENERGIES))
    ]


def _structure(name: str | None, fe_x: float) -> list[str]:
    head = f'<structure name="{name}">' if name else "<structure>"
    return [
        head,
        '<crystal><varray name="basis">',
        "<v> 10.0 0.0 0.0 </v>",
        "<v> 0.0 10.0 0.0 </v>",
        "<v> 0.0 0.0 10.0 </v>",
        "</varray></crystal>",
        '<varray name="positions">',
        f"<v> {fe_x / 10.0:.6f} 0.0 0.0 </v>",
        "<v> 0.2 0.0 0.0 </v>",
        "</varray>",
        "</structure>",
    ]


def _energy(e_fr: float, e_0: float) -> str:
    return (
        f'<energy><i name="e_fr_energy"> {e_fr:.8f} </i>'
        f'<i name="e_wo_entrp"> {e_0:.8f} </i><i name="e_0_energy"> {e_0:.8f} </i></energy>'
    )


def _dos() -> list[str]:
    zero = np.zeros_like(ENERGIES)
    fe_d = [gauss(share * w) for w in (3.0, 2.0) for share in (0.2,) * 5]
    out = [
        "<dos>",
        f'<i name="efermi"> {FERMI:.8f} </i>',
        '<total><array><dimension dim="1">gridpoints</dimension>'
        '<dimension dim="2">spin</dimension>',
        "<field>energy</field><field>total</field><field>integrated</field><set>",
    ]
    for spin, weight in ((1, 3.0), (2, 2.0)):
        out += [f'<set comment="spin {spin}">', *_rows([ENERGIES, gauss(weight), zero]), "</set>"]
    out += [
        "</set></array></total>",
        '<partial><array><dimension dim="1">gridpoints</dimension>'
        '<dimension dim="2">spin</dimension><dimension dim="3">ion</dimension>',
        "<field>energy</field>" + "".join(f"<field>{o}</field>" for o in ORBITALS) + "<set>",
    ]
    for ion in (1, 2):
        out += [f'<set comment="ion {ion}">']
        for spin in (1, 2):
            d = fe_d[5 * (spin - 1) : 5 * spin] if ion == 1 else [zero] * 5
            out += [f'<set comment="spin {spin}">', *_rows([ENERGIES, *[zero] * 4, *d]), "</set>"]
        out += ["</set>"]
    return [*out, "</set></array></partial>", "</dos>"]


def vasprun() -> str:
    """The vasprun.xml text."""
    out = [
        '<?xml version="1.0" encoding="ISO-8859-1"?>',
        "<modeling>",
        '<generator><i name="program" type="string">vasp </i>'
        '<i name="version" type="string">6.4.2 </i></generator>',
        '<incar><i type="int" name="ISPIN"> 2</i><i type="int" name="LORBIT"> 11</i>'
        '<i type="int" name="NSW"> 10</i><i type="int" name="IBRION"> 2</i></incar>',
        '<parameters><separator name="electronic"><i type="int" name="ISPIN"> 2</i>'
        '<i type="int" name="NELM"> 60</i></separator><separator name="ionic">'
        '<i type="int" name="IBRION"> 2</i><i type="int" name="NSW"> 10</i>'
        "</separator></parameters>",
        "<atominfo><atoms>2</atoms><types>2</types>",
        '<array name="atoms"><dimension dim="1">ion</dimension>'
        '<field type="string">element</field><field type="int">atomtype</field><set>',
        "<rc><c>Fe</c><c>1</c></rc>",
        "<rc><c>N </c><c>2</c></rc>",
        "</set></array>",
        '<array name="atomtypes"><dimension dim="1">type</dimension>'
        '<field type="int">atomspertype</field><field type="string">element</field>'
        '<field>mass</field><field>valence</field><field type="string">pseudopotential</field>'
        "<set>",
        "<rc><c>1</c><c>Fe</c><c>55.847</c><c>8.0</c><c> PAW_PBE Fe 06Sep2000</c></rc>",
        "<rc><c>1</c><c>N </c><c>14.001</c><c>5.0</c><c> PAW_PBE N 08Apr2002</c></rc>",
        "</set></array></atominfo>",
        *_structure("initialpos", 0.0),
    ]
    for k, (e_fr, e_0, forces, nscf, fe_x) in enumerate(STEPS):
        out += ["<calculation>"]
        out += [
            f"<scstep>{_energy(e_fr + 0.1 * (nscf - i), e_0 + 0.1 * (nscf - i))}</scstep>"
            for i in range(1, nscf)
        ]
        out += [f"<scstep>{_energy(e_fr, e_0)}</scstep>"]
        out += _structure(None, fe_x)
        out += [
            '<varray name="forces">',
            *(f"<v> {f[0]} {f[1]} {f[2]} </v>" for f in forces),
            "</varray>",
        ]
        out += ['<varray name="stress">', *("<v> 0.0 0.0 0.0 </v>" for _ in range(3)), "</varray>"]
        out += [_energy(e_fr, e_0)]
        if k == len(STEPS) - 1:
            out += _dos()
        out += ["</calculation>"]
    out += _structure("finalpos", STEPS[-1][4])
    return "\n".join([*out, "</modeling>"]) + "\n"


def files() -> dict[str, str]:
    """File name -> content of every file this script writes."""
    return {"vasprun.xml": vasprun(), "INCAR": INCAR, "OSZICAR": OSZICAR}


if __name__ == "__main__":
    HERE.mkdir(exist_ok=True)
    for name, text in files().items():
        (HERE / name).write_text(text)
        print(f"wrote {HERE / name} ({len(text)} bytes)")
