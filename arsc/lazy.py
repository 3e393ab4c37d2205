"""Package attributes loaded on first use (PEP 562), so a package import stays light.

Examples
--------
>>> getattr_, dir_ = lazy_exports("demo", {"sqrt": "math"}, ["__version__"])
>>> getattr_("sqrt")(9.0)
3.0
>>> dir_()
['__version__', 'sqrt']
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any


def lazy_exports(
    package: str, api: dict[str, str], extra: Iterable[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return a module ``__getattr__`` and ``__dir__`` for names loaded from their modules.

    Parameters
    ----------
    package
        The package's name, for the AttributeError of an unknown name.
    api
        Public name -> module that defines it.
    extra
        Other public names of the package (listed by ``__dir__``).
    """

    def getattr_(name: str) -> Any:
        if name not in api:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(api[name]), name)

    def dir_() -> list[str]:
        return sorted({*api, *extra})

    return getattr_, dir_
