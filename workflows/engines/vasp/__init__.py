"""VASP engine: atomate2 Makers with the DAC input set, run under custodian.

Modules: :mod:`.sets` (the input set generators), :mod:`.jobs` (the Makers,
whose jobs return a :class:`workflows.schemas.CalcDoc`), :mod:`.parse` (a VASP
folder -> CalcDoc through :func:`arsc.ingest.vasp.read_vasp_run`, and the
settings record). The input set is data:
``workflows/data/vasp_dac.yaml``. See ``docs/vasp.md``.

Examples
--------
>>> from workflows.engines import get_engine
>>> maker = get_engine("vasp").relax("standard")
>>> type(maker).__name__, maker.input_set_generator.preset
('VaspRelaxMaker', 'standard')
"""

from __future__ import annotations

from workflows.engines.base import Engine, register_engine
from workflows.engines.vasp.jobs import VaspRelaxMaker, VaspStaticMaker
from workflows.engines.vasp.parse import calc_doc_from_vasp_dir
from workflows.engines.vasp.sets import (
    DacRelaxSetGenerator,
    DacSetGenerator,
    DacStaticSetGenerator,
    preset_names,
)

__all__ = [
    "DacRelaxSetGenerator",
    "DacSetGenerator",
    "DacStaticSetGenerator",
    "VaspRelaxMaker",
    "VaspStaticMaker",
    "calc_doc_from_vasp_dir",
    "relax_maker",
    "static_maker",
]


def relax_maker(preset: str) -> VaspRelaxMaker:
    """Return the relaxation Maker of a preset (``standard``, ``fast``, ``accurate``)."""
    return VaspRelaxMaker(input_set_generator=DacRelaxSetGenerator(preset=preset))


def static_maker(preset: str) -> VaspStaticMaker:
    """Return the single-point Maker of a preset (``standard``, ``fast``, ``accurate``)."""
    return VaspStaticMaker(input_set_generator=DacStaticSetGenerator(preset=preset))


register_engine(
    Engine(
        name="vasp",
        description="VASP through atomate2 and custodian with the DAC input set",
        relax=relax_maker,
        static=static_maker,
        presets=preset_names(),
    )
)
