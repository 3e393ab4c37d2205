"""Generate ``reference/arsc.md`` and ``reference/workflows.md`` from the packages' ``API`` dicts.

Run by the mkdocs-gen-files plugin at build time (mkdocs.yml). The public
names of a package top are loaded lazily (``arsc.API``, ``workflows.API``:
name -> defining module), which a static reader cannot follow, so each name
is documented from the module that defines it (``::: arsc.space.Site``),
under the import a user writes (``from arsc import Site``). A name added to
an ``API`` dict appears here without editing any page; one whose docstring
mkdocstrings cannot render fails the strict build.
Run it by hand to print the pages: ``.venv/bin/python docs/gen_api.py``.
"""

from __future__ import annotations

import importlib
import sys

PACKAGES: dict[str, str] = {
    "arsc": (
        "The science package: candidate space, structures, the ARSC model, ingestion of DFT "
        "results, free energies and validation. It imports no workflow engine."
    ),
    "workflows": (
        "Orchestration on top of `arsc`: the jobflow adsorption flow, the local executor, the "
        "job store, settings and screening campaigns."
    ),
}


def defined_in(package: str, name: str) -> str:
    """Return the module whose object ``package.name`` is (not a re-exporting package).

    ``arsc.API`` says ``predict`` comes from ``arsc.model``, which re-exports
    it from its submodule ``arsc.model.predict``; a static reader would take
    ``arsc.model.predict`` for the submodule, so the page names the function's
    own module.
    """
    module = importlib.import_module(package).API[name]
    obj = getattr(importlib.import_module(module), name)
    return str(getattr(obj, "__module__", None) or module)


def render(package: str) -> str:
    """Return the API page of one package top as markdown (mkdocstrings directives)."""
    api = {name: defined_in(package, name) for name in importlib.import_module(package).API}
    lines = [
        f"# Python API: `{package}`",
        "",
        PACKAGES[package],
        "",
        f"Every name below is importable from the package top (`from {package} import NAME`) "
        "and is loaded on first use, so the import stays fast. The package docstring's "
        "example (run by the test suite) comes first.",
        "",
        "| name | defined in |",
        "| --- | --- |",
        *(f"| [`{name}`](#{module}.{name}) | `{module}` |" for name, module in api.items()),
        "",
        f"::: {package}",
        "    options:",
        "      members: false",
        "      show_root_heading: false",
        "",
    ]
    for name, module in api.items():
        lines += [f"::: {module}.{name}", "    options:", "      heading_level: 2", ""]
    return "\n".join(lines)


def write_pages() -> None:
    """Write one page per package into the site being built (mkdocs-gen-files)."""
    import mkdocs_gen_files

    for package in PACKAGES:
        page = f"reference/{package}.md"
        with mkdocs_gen_files.open(page, "w") as handle:
            handle.write(render(package))
        mkdocs_gen_files.set_edit_path(page, "gen_api.py")


if __name__ == "<run_path>":  # mkdocs-gen-files runs this file with runpy.run_path
    write_pages()
elif __name__ == "__main__":  # by hand: print the pages
    sys.stdout.write("\n".join(render(package) for package in PACKAGES))
