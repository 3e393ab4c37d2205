"""ARSC-DAC science core: element data, candidate space, structures and the ARSC model.

This package imports no workflow engine; :mod:`workflows` builds on it. The
names a notebook needs are importable from here; each is loaded on first use,
so ``import arsc`` stays instant.

Examples
--------
>>> from arsc import Site, build, enumerate_sites
>>> sites = enumerate_sites(["Fe", "Co"], ["qv-n6"], ["graphene"])
>>> [s.id for s in sites]
['Fe-Fe_qv-n6_graphene', 'Fe-Co_qv-n6_graphene', 'Co-Co_qv-n6_graphene']
>>> atoms = build(Site.from_id("Fe-Co_qv-n6_graphene"), "OH", "top1")
>>> atoms.info["adsorbate"], len(atoms)
('OH', 72)
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from arsc.lazy import lazy_exports

try:
    __version__ = version("arsc-dac")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

#: Public name -> module that defines it (loaded on first attribute access).
API: dict[str, str] = {
    # candidate space and structures
    "Site": "arsc.space",
    "enumerate_sites": "arsc.space",
    "count_space": "arsc.space",
    "binding_modes": "arsc.space",
    "build": "arsc.structures",
    "site_states": "arsc.structures",
    "space_table": "arsc.structures",
    "write_structures": "arsc.io",
    "load_elements": "arsc.elements",
    # the ARSC model
    "fit_model": "arsc.model",
    "load_model": "arsc.model",
    "save_model": "arsc.model",
    "predict": "arsc.model",
    "score": "arsc.model",
    # DFT results and free energies
    "ingest_runs": "arsc.ingest",
    "read_energies": "arsc.thermo",
    "load_references": "arsc.thermo",
    "compute_activity": "arsc.thermo",
    # validation and selection
    "match": "arsc.validate",
    "evaluate": "arsc.validate",
    "parity_plot": "arsc.validate",
    "kappa_for_recall": "arsc.select",
}

__all__ = ["API", "__version__", *API]


__getattr__, __dir__ = lazy_exports(__name__, API, ["API", "__version__"])
