"""ARSC-DAC orchestration: jobflow Makers and Flows, stores, engines, campaigns and the CLI.

Built on :mod:`arsc`; ``arsc`` never imports from here.
"""

from arsc import __version__

__all__ = ["__version__"]
