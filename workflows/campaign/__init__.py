"""Screening campaigns: enumerate, score with ARSC, prune, pick a batch, run DFT, learn, repeat.

Modules
-------
:mod:`workflows.campaign.definition`
    the campaign YAML file (pydantic schema, every field documented);
:mod:`workflows.campaign.state`
    the persisted state (``state.json``), written after every step;
:mod:`workflows.campaign.loop`
    the steps of a round, each idempotent, and :func:`run_campaign`;
:mod:`workflows.campaign.backends`
    the batch backends, how a batch gets its DFT: local, FireWorks + SLURM,
    or replay from a table (``replay_backend.py``; ``batch.py``: the interface).

See ``docs/campaign.md``.
"""

from workflows.campaign.definition import CampaignDefinition, read_definition
from workflows.campaign.state import CampaignState, load_state, save_state

__all__ = ["CampaignDefinition", "CampaignState", "load_state", "read_definition", "save_state"]
