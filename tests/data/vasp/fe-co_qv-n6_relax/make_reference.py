"""Write the reference VASP inputs of one DAC relaxation into ``inputs/``.

Run from the repository root only when the DAC input set changes on purpose:
``.venv/bin/python tests/data/vasp/fe-co_qv-n6_relax/make_reference.py``,
then review every changed line of ``inputs/`` (``git diff``) before committing.
``tests/workflows/engines/test_engine_vasp.py`` compares freshly generated inputs with
these files.
"""

from __future__ import annotations

from pathlib import Path

from arsc.space import make_site
from arsc.structures import build
from workflows.engines.vasp.sets import DacRelaxSetGenerator, to_structure

HERE = Path(__file__).parent


def main() -> None:
    """Write INCAR, KPOINTS, POSCAR and POTCAR.spec of the Fe-Co qv-n6 relax."""
    atoms = build(make_site("Fe", "Co", "qv-n6"), min_image=9.5)
    vis = DacRelaxSetGenerator().get_input_set(to_structure(atoms), potcar_spec=True)
    vis.write_input(str(HERE / "inputs"))


if __name__ == "__main__":
    main()
