"""The import graph of the two packages stays layered and acyclic.

Read from the source with :mod:`ast` (nothing is imported), every import
statement counts, also those inside functions:

- ``arsc`` never imports ``workflows`` (the science runs without a workflow engine);
- no import cycle between modules of ``arsc`` and ``workflows``;
- no module imports a private module (a name starting with ``_``) of another
  package: ``workflows.cli`` may not import ``workflows.engines._x``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("arsc", "workflows")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(p): p
        for pkg in PACKAGES
        for p in sorted((ROOT / pkg).rglob("*.py"))
        if "data" not in p.relative_to(ROOT).parts[1:2]
    }


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The longest known module that ``name`` (a module or module.attribute) names."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        for name in names:
            target = _resolve(name, known)
            if target and target != module and target.split(".")[0] in PACKAGES:
                found.add(target)
    return found


@pytest.fixture(scope="module")
def graph() -> nx.DiGraph:
    """Module -> imported module, over both packages."""
    known = _modules()
    g = nx.DiGraph()
    for module, path in known.items():
        g.add_node(module)
        for target in _imports(module, path, known):
            # importing a package's __init__ that is the importer's own parent is not an edge
            if not module.startswith(f"{target}."):
                g.add_edge(module, target)
    return g


def test_arsc_never_imports_workflows(graph: nx.DiGraph) -> None:
    """The science package is importable without the workflow package."""
    upward = [(a, b) for a, b in graph.edges if a.startswith("arsc") and b.startswith("workflows")]
    assert not upward, upward


def test_no_import_cycles(graph: nx.DiGraph) -> None:
    """No chain of imports (module level or inside functions) returns to where it started."""
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, sorted(cycles, key=len)[:5]


def test_no_private_module_of_another_package(graph: nx.DiGraph) -> None:
    """``_name`` modules are imported only from inside their own package."""
    bad = []
    for a, b in graph.edges:
        parts = b.split(".")
        private = [i for i, p in enumerate(parts) if p.startswith("_")]
        if private and not a.startswith(".".join(parts[: private[0]]) + "."):
            bad.append((a, b))
    assert not bad, bad
