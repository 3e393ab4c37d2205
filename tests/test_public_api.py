"""The public Python API: names importable from the package tops, documented, with examples.

``import arsc`` and ``import workflows`` stay light (names load on first use),
every listed name resolves and has a docstring, and the examples in the
docstrings of the API's entry modules run (doctest).
"""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys

import pytest

import arsc
import workflows

PACKAGES = {"arsc": arsc, "workflows": workflows}
#: Modules whose docstring examples are part of the documented API.
DOCTESTED = (
    "arsc",
    "workflows",
    "arsc.lazy",
    "arsc.outputs",
    "arsc.yamlio",
    "arsc.structures",
    "arsc.io",
)


@pytest.mark.parametrize("package", list(PACKAGES))
def test_every_public_name_resolves_with_a_docstring(package: str) -> None:
    """Each name of ``API`` is importable from the top, documented, and is what it says.

    The object is a class or function defined in the listed module or one of
    its submodules, never a module (a name equal to a subpackage's would
    resolve to the subpackage once that is imported).
    """
    module = PACKAGES[package]
    for name, where in module.API.items():
        importlib.import_module(where)  # import the listed module first, as a user may have
        obj = getattr(module, name)
        assert callable(obj), f"{package}.{name} is {type(obj).__name__}, not a class or function"
        assert f"{obj.__module__}.".startswith(f"{where}."), (name, obj.__module__, where)
        assert (obj.__doc__ or "").strip(), f"{package}.{name} has no docstring"
        assert name in dir(module)
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        module.nosuch  # noqa: B018


@pytest.mark.parametrize("package", list(PACKAGES))
def test_importing_the_package_loads_no_heavy_library(package: str) -> None:
    """``import arsc`` / ``import workflows`` import neither pandas nor ASE nor jobflow."""
    code = (
        f"import sys, {package}\n"
        "print(sorted(m for m in ('pandas', 'ase', 'jobflow', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", DOCTESTED)
def test_docstring_examples_run(name: str) -> None:
    """The examples in the docstrings of the API's entry modules run as written."""
    result = doctest.testmod(
        importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0 and result.failed == 0, result
