"""Opening a campaign folder: :class:`Campaign`, :func:`start_campaign`, :func:`resume_campaign`.

A new folder gets the definition in effect (``campaign.yaml``), the
enumerated candidates (``candidates.csv``), the prior model if one fits the
objective (``models/prior.json``) and the first state; a folder that already
holds the same definition is reopened (the campaign continues), another
definition is refused.

Before anything is written the definition is checked whole
(:func:`workflows.campaign.checks.check_definition`), the budget must buy at
least one site (:func:`check_budget`) and the folder must be writable and
hold no file of these names that a campaign did not write: a bad campaign
file leaves nothing behind and overwrites nothing. Every file is written
atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from rich.console import Console

from arsc import __version__
from arsc.errors import ArscInputError
from arsc.model import ArscModel, load_model, save_model
from arsc.outputs import (
    OutputKind,
    atomic_path,
    check_output_folder,
    csv_with,
    json_with,
    write_text_atomic,
)
from arsc.space import enumerate_sites, make_site
from arsc.structures import space_table
from workflows.campaign.backends import BatchBackend, dft_steps, make_backend
from workflows.campaign.checks import check_definition
from workflows.campaign.definition import CampaignDefinition
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
#: First line of the ``campaign.yaml`` a campaign writes (how it is recognised).
DEFINITION_HEAD = "# campaign definition in effect"


def _is_definition(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(len(DEFINITION_HEAD)).decode("utf-8", "replace") == DEFINITION_HEAD
    except OSError:
        return False


#: Files a new campaign writes, and how a campaign's own copy is recognised.
FOLDER_FILES: dict[str, OutputKind] = {
    DEFINITION_FILE: OutputKind("campaign definition", _is_definition),
    CANDIDATES_FILE: csv_with("id", "metal1", "metal2", "motif", "support", name="candidates"),
    PRIOR_FILE: json_with("schema_version", name="model file"),
}


def _none_to_nan(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


@dataclass
class Campaign:
    """A campaign folder opened for work: state, candidates, batch backend, output."""

    folder: Path
    state: CampaignState
    candidates: pd.DataFrame
    backend: BatchBackend
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


def _summary(
    definition: CampaignDefinition, sites: list[str], per_site: list[int], gas: int
) -> SpaceSummary:
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
    backend = make_backend(folder, state.definition, since, show_progress)
    campaign = Campaign(folder, state, candidates, backend, show_progress=show_progress)
    if console is not None:
        campaign.console = console
    return campaign


def check_budget(definition: CampaignDefinition, per_site: list[int], gas: int) -> None:
    """Refuse a budget that cannot buy a single site (with the gas references).

    Parameters
    ----------
    definition
        The campaign.
    per_site
        DFT calculations each candidate costs, gas references excluded.
    gas
        DFT calculations of the gas references (once per campaign).

    Raises
    ------
    ArscInputError
        One line naming the budget and what the cheapest site needs.
    """
    budget = definition.budget.dft_calculations
    cheapest = min(per_site)
    need = cheapest + gas
    if budget >= need:
        return
    parts = f"{cheapest} for its states" + (f" + {gas} for the gas references" if gas else "")
    raise ArscInputError(
        f"a budget of {budget} DFT calculations cannot buy a single site: one site needs "
        f"{need} ({parts}); give a budget (--budget, budget.dft_calculations) of at least {need}"
    )


def check_folder(path: Path, source: Path | None, option: str = "--dir") -> None:
    """Check a new campaign folder: writable, not a file, no foreign file to replace.

    Raises
    ------
    ArscInputError
        One line naming the folder (and the option that named it) and the problem.
    """
    check_output_folder(path, [source] if source is not None else [], option=option)
    shown = f"{option} {str(path)!r}"
    for name, kind in FOLDER_FILES.items():
        target = path / name
        if source is not None and target.resolve() == Path(source).resolve():
            raise ArscInputError(
                f"{shown} holds the campaign file {str(source)!r} itself as {name}, which a new "
                "campaign writes: choose another folder"
            )
        if target.is_dir() or (target.exists() and not kind.recognise(target)):
            raise ArscInputError(
                f"{shown} holds {name}, which is not a {kind.name} a campaign wrote (and no "
                f"state.json): choose another (new or empty) folder"
            )


def start_campaign(
    definition: CampaignDefinition,
    folder: str | Path,
    *,
    source: Path | None = None,
    show_progress: bool = True,
    console: Console | None = None,
    option: str = "--dir",
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
    option
        The command-line option that named the folder, for messages.

    Raises
    ------
    ArscInputError
        The folder holds a campaign with another definition; the definition
        has problems (all of them in one line); the budget cannot buy a site;
        the folder cannot be written or holds files a campaign did not write.
        Nothing is written then.
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
    # everything is checked before the first file is written
    check_definition(definition, source)
    sites = _sites(definition)
    if not sites:
        raise ArscInputError(f"campaign {definition.name!r}: the space has no candidate site")
    per_site, gas = make_backend(path, definition, datetime.now(UTC), False).plan(sites)
    check_budget(definition, per_site, gas)
    check_folder(path, source, option)
    prior, message = load_prior(definition.model.prior, definition.objective)
    table = space_table([make_site(*_split(s), elements=definition.space.elements) for s in sites])
    read_from = f" (read from {source})" if source else ""
    text = yaml.safe_dump(definition.model_dump(mode="json"), sort_keys=False)
    write_text_atomic(path / DEFINITION_FILE, f"{DEFINITION_HEAD}{read_from}\n{text}")
    with atomic_path(path / CANDIDATES_FILE) as tmp:
        table.to_csv(tmp, index=False)
    if prior is not None:
        save_model(prior, path / PRIOR_FILE)
    state = CampaignState(
        arsc_version=__version__,
        definition=definition,
        definition_sha256=definition.sha256(),
    )
    campaign = _open(path, state, show_progress, console)
    state.space = _summary(definition, sites, per_site, gas)
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
