"""DFT engines behind one registry: each engine module registers its Makers.

>>> from workflows.engines import engine_names
>>> sorted(engine_names())  # doctest: +SKIP
['gpaw', 'mlip', 'vasp']
"""

from workflows.engines.base import Engine, engine_names, get_engine, register_engine

__all__ = ["Engine", "engine_names", "get_engine", "register_engine"]
