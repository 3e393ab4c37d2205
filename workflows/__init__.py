"""ARSC-DAC orchestration: jobflow Makers and Flows, stores, engines, campaigns and the CLI.

Built on :mod:`arsc`; ``arsc`` never imports from here. The names a notebook
needs are importable from here and loaded on first use, so the command line
(which imports this package) stays fast.

Examples
--------
>>> from workflows import DacAdsorptionFlow
>>> flow = DacAdsorptionFlow(engine="mlip", prerelax=False, modes=["top1"]).make(
...     ["Fe-Co_qv-n6_graphene"]
... )
>>> len(flow.jobs) > 0
True
"""

from __future__ import annotations

from arsc import __version__
from arsc.lazy import lazy_exports

#: Public name -> module that defines it (loaded on first attribute access).
API: dict[str, str] = {
    "DacAdsorptionFlow": "workflows.flows",
    "RunRequest": "workflows.executors.local",
    "run_local": "workflows.executors.local",
    "make_store": "workflows.store",
    "get_settings": "workflows.settings",
    "CampaignDefinition": "workflows.campaign",
    "read_definition": "workflows.campaign",
    "load_state": "workflows.campaign",
    "start_campaign": "workflows.campaign.setup",
    "run_campaign": "workflows.campaign.loop",
}

__all__ = ["API", "__version__", *API]


__getattr__, __dir__ = lazy_exports(__name__, API, ["API", "__version__"])
