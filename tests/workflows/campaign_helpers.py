"""Helpers of the campaign tests: a replay table and campaign files.

The replay table is synthetic and made here, deterministically: dG of *OH,
*O, *OOH for every qv-n6 site of a few metals, from the packaged prior model's
prediction shifted by -0.3 eV plus a fixed pseudo-random partner term (seed
1), so heteronuclear sites differ. It is a stand-in for precomputed DFT in
tests of the orchestration only (the replay backend is how a campaign is
benchmarked on published data).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from arsc.model import load_model, score
from arsc.space import enumerate_sites
from arsc.structures import space_table
from workflows.campaign.scoring import prior_path

METALS = ["Mn", "Fe", "Co", "Ni", "Cu", "Ru", "Rh", "Pd"]
INTERMEDIATES = ["OH", "O", "OOH"]


def replay_table(path: Path, metals: list[str] | None = None) -> Path:
    """Write the synthetic replay table (see the module docstring)."""
    table = space_table(enumerate_sites(metals or METALS, ["qv-n6"], ["graphene"]))
    model = load_model(prior_path("prior-sac-hoer"))
    pred = score(model, table, INTERMEDIATES)
    rng = np.random.default_rng(1)
    for j, z in enumerate(INTERMEDIATES):
        table[f"dG_{z}"] = pred.dg[:, j] - 0.3 + 0.25 * rng.standard_normal(len(table))
    table.to_csv(path, index=False)
    return path


def write_campaign(folder: Path, **sections: dict) -> Path:
    """Write a replay campaign YAML (sections override the defaults below) and its table."""
    folder.mkdir(parents=True, exist_ok=True)
    table = replay_table(folder / "replay.csv")
    data: dict = {
        "name": "replay-test",
        "space": {"metals": METALS, "motifs": ["qv-n6"]},
        "objective": {"reaction": "bifunctional"},
        "dft": {
            "executor": "replay",
            "modes": ["top1"],
            "replay": {"table": str(table), "seconds_per_calculation": 100.0},
        },
        "acquisition": {"strategy": "ucb", "batch": 2},
        "budget": {"dft_calculations": 24},
    }
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value}
    path = folder / "campaign.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def ranking(state_file: Path) -> list[tuple[str, str, float | None]]:
    """(site, source, score) of a finished campaign's ranking, from its state file."""
    import json

    state = json.loads(state_file.read_text())
    return [(r["site"], r["source"], r["score"]) for r in state["ranking"]]


__all__ = ["INTERMEDIATES", "METALS", "pd", "ranking", "replay_table", "write_campaign"]
