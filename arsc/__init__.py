"""ARSC-DAC science core: element data, candidate space, structures and the ARSC model.

This package imports no workflow engine; :mod:`workflows` builds on it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("arsc-dac")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]
