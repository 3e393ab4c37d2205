"""Opening a campaign folder: :class:`Campaign`, :func:`start_campaign`, :func:`resume_campaign`.

A new folder gets the definition in effect (``campaign.yaml``), the
enumerated candidates (``candidates.csv``), the prior model if one fits the
objective (``models/prior.json``) and the first state; a folder that already
holds the same definition is reopened (the campaign continues), another
definition is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from rich.console import Console

from arsc import __version__
from arsc.errors import ArscInputError
from arsc.model import ArscModel, load_model, save_model
from arsc.space import enumerate_sites, make_site, space_table
from workflows.campaign.definition import CampaignDefinition
from workflows.campaign.engines import BatchEngine, dft_steps, flow_maker, make_engine
from workflows.campaign.scoring import load_prior
from workflows.campaign.state import (
    CampaignState,
    SpaceSummary,
    load_state,
    save_state,
    state_path,
)

#: Files of a campaign folder.
DEFINITION_FILE = "campaign.yaml"
CANDIDATES_FILE = "candidates.csv"
MODELS_DIR = "models"
PRIOR_FILE = f"{MODELS_DIR}/prior.json"


def _none_to_nan(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


@dataclass
class Campaign:
    """A campaign folder opened for work: state, candidates, engine, output."""

    folder: Path
    state: CampaignState
    candidates: pd.DataFrame
    engine: BatchEngine
    console: Console = field(default_factory=lambda: Console(stderr=True, highlight=False))
    show_progress: bool = True
    _models: dict[str, ArscModel] = field(default_factory=dict)

    @property
    def definition(self) -> CampaignDefinition:
        """Return the campaign definition."""
        return self.state.definition

    def save(self) -> None:
        """Write the state now (atomically)."""
        save_state(self.state, self.folder)

    def say(self, text: str) -> None:
        """Print a progress line (stderr)."""
        if self.show_progress:
            self.console.print(text)

    def model(self, rel: str | None) -> ArscModel | None:
        """Load a model file of the campaign folder (cached); None for None."""
        if rel is None:
            return None
        if rel not in self._models:
            self._models[rel] = load_model(self.folder / rel)
        return self._models[rel]

    def prior(self) -> ArscModel | None:
        """Return the campaign's prior model (None when no prior fitted the reaction)."""
        return self.model(PRIOR_FILE) if (self.folder / PRIOR_FILE).is_file() else None

    def seed(self, index: int, tag: int) -> int:
        """Return a seed for round ``index`` and purpose ``tag`` (deterministic)."""
        seq = np.random.SeedSequence([self.definition.acquisition.seed, index, tag])
        return int(seq.generate_state(1)[0])

    def plan(self) -> list[int]:
        """Return the DFT calculations each candidate costs, candidate order."""
        assert self.state.space is not None
        return self.state.space.calculations_per_site


# ---- setting up ----------------------------------------------------------------------


def _sites(definition: CampaignDefinition) -> list[str]:
    space = definition.space
    if space.sites:
        out: list[str] = []
        for sid in space.sites:
            parts = sid.split("_")
            pair = parts[0].split("-") if parts else []
            if len(parts) != 3 or len(pair) != 2:
                raise ArscInputError(f"malformed site id {sid!r} in space.sites")
            site = make_site(pair[0], pair[1], parts[1], parts[2], elements=space.elements)
            if site.id not in out:
                out.append(site.id)
        return out
    sites = enumerate_sites(space.metals, space.motifs, space.supports, space.elements)
    return [s.id for s in sites]


def _summary(engine: BatchEngine, definition: CampaignDefinition, sites: list[str]) -> SpaceSummary:
    per_site, gas = engine.plan(sites)
    steps = 1 if definition.dft.executor == "replay" else len(dft_steps(definition.dft))
    return SpaceSummary(
        sites=len(sites),
        structures=sum(per_site) // steps,
        calculations_per_site=per_site,
        gas_calculations=gas,
        exhaustive_calculations=sum(per_site) + gas,
        candidates_file=CANDIDATES_FILE,
    )


def _open(
    folder: Path, state: CampaignState, show_progress: bool, console: Console | None
) -> Campaign:
    candidates = pd.read_csv(folder / CANDIDATES_FILE)
    since = datetime.fromisoformat(state.created)
    engine = make_engine(folder, state.definition, since, show_progress)
    campaign = Campaign(folder, state, candidates, engine, show_progress=show_progress)
    if console is not None:
        campaign.console = console
    return campaign


def start_campaign(
    definition: CampaignDefinition,
    folder: str | Path,
    *,
    source: Path | None = None,
    show_progress: bool = True,
    console: Console | None = None,
) -> Campaign:
    """Create a campaign folder, or reopen it when it holds the same definition.

    Parameters
    ----------
    definition
        The campaign.
    folder
        Campaign folder (created).
    source
        The YAML file the definition came from (named in ``campaign.yaml``,
        which holds the definition in effect, overrides included).
    show_progress
        Print progress lines and bars on stderr.
    console
        Console for the progress output (default stderr).

    Raises
    ------
    ArscInputError
        The folder holds a campaign with another definition.
    """
    path = Path(folder)
    if state_path(path).is_file():
        state = load_state(path)
        if state.definition_sha256 != definition.sha256():
            raise ArscInputError(
                f"campaign folder {str(path)!r} holds campaign {state.definition.name!r} with "
                "another definition; resume it with `arsc campaign resume` or pick another folder"
            )
        return _open(path, state, show_progress, console)
    if definition.dft.executor != "replay":  # engines, extras and presets: fail before any work
        flow_maker(definition.dft, definition.objective.reaction).makers()
    path.mkdir(parents=True, exist_ok=True)
    head = f"# campaign definition in effect (read from {source})\n" if source else ""
    text = yaml.safe_dump(definition.model_dump(mode="json"), sort_keys=False)
    (path / DEFINITION_FILE).write_text(head + text)
    sites = _sites(definition)
    if not sites:
        raise ArscInputError("the campaign's space has no candidate site")
    table = space_table([make_site(*_split(s), elements=definition.space.elements) for s in sites])
    table.to_csv(path / CANDIDATES_FILE, index=False)
    prior, message = load_prior(definition.model.prior, definition.objective)
    if prior is not None:
        save_model(prior, path / PRIOR_FILE)
    state = CampaignState(
        arsc_version=__version__,
        definition=definition,
        definition_sha256=definition.sha256(),
    )
    campaign = _open(path, state, show_progress, console)
    state.space = _summary(campaign.engine, definition, sites)
    campaign.save()
    campaign.say(f"campaign {definition.name!r}: {len(sites)} candidates; {message}")
    return campaign


def _split(site_id: str) -> tuple[str, str, str, str]:
    pair, motif, support = site_id.split("_")
    m1, m2 = pair.split("-")
    return m1, m2, motif, support


def resume_campaign(
    folder: str | Path, *, show_progress: bool = True, console: Console | None = None
) -> Campaign:
    """Reopen a campaign folder from its state (see :func:`run_campaign` to continue)."""
    path = Path(folder)
    return _open(path, load_state(path), show_progress, console)
