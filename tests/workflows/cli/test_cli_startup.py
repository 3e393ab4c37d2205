"""The CLI answers at once: verbs load lazily, and the root help lists them all.

Start-up time itself is measured by ``scripts/bench_startup.py`` (a benchmark,
not a timing assert); here the tests check what makes it fast: ``arsc --help``
and a verb's ``--help`` import none of the heavy libraries (pandas, scipy,
scikit-learn, ASE, jobflow), and the static help lines of the root group are
the verbs' own docstrings.
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys

import pytest

from workflows.cli.main import VERBS, load_verb

HEAVY = ("pandas", "scipy", "sklearn", "ase", "jobflow", "pymatgen", "matplotlib")


def _imported_after(argv: list[str]) -> set[str]:
    code = (
        "import sys\n"
        "from workflows.cli.main import main\n"
        f"main({argv!r})\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return set(ast.literal_eval(out.stdout.strip().splitlines()[-1]))


def test_root_help_imports_no_heavy_library() -> None:
    """``arsc --help`` lists every verb without importing pandas, scipy, ASE, jobflow ..."""
    assert _imported_after(["--help"]) == set()


@pytest.mark.parametrize("verb", ["space", "build", "campaign", "ingest"])
def test_verb_help_imports_no_heavy_library(verb: str) -> None:
    """``arsc VERB --help`` imports only that verb's module, and that module stays light."""
    assert _imported_after([verb, "--help"]) == set()


@pytest.mark.parametrize("verb", list(VERBS))
def test_static_help_line_is_the_verb_docstring(verb: str) -> None:
    """The line ``arsc --help`` shows for a verb is the first line of its docstring."""
    command = load_verb(verb)
    assert command is not None
    doc = command.help or inspect.getdoc(command.callback) or ""
    assert VERBS[verb][1] == doc.strip().splitlines()[0]


def test_unknown_verb_is_none() -> None:
    """An unknown verb is not loaded (click then reports 'No such command' in one line)."""
    assert load_verb("nosuch") is None
