"""Checks of a campaign definition that its schema cannot make, before any side effect.

The pydantic schema (:mod:`workflows.campaign.definition`) checks every key
and number of the file alone. Here the names it holds are checked against
the package's tables and the files they point to, and the sections against
each other:

``space``
    metals in the element table, motifs and supports known, every listed
    motif fitting at least one listed support, explicit site ids valid, and
    at least one candidate;
``objective``
    reaction, intermediate, competition and product known for the reaction,
    goal readable;
``model``
    the prior a packaged name or a readable model file, variant known,
    formula valid;
``dft``
    binding modes known, the corrections references table a packaged name or
    a readable file, the engine's preset usable (local and FireWorks), the
    LaunchPad and queue files readable (FireWorks), the replay table
    readable with a site column and a numeric ``dG_<X>`` column for every
    intermediate of the objective (replay);
``acquisition``
    strategy known.

:func:`check_definition` raises one :class:`~arsc.errors.ArscInputError`
listing every problem (``key: problem; key: problem``);
:func:`workflows.campaign.setup.start_campaign` calls it before it creates
the campaign folder, so a bad file leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from arsc.errors import ArscInputError
from arsc.yamlio import shown
from workflows.campaign.definition import CampaignDefinition

#: A check: the problems it finds, each ``key: problem``.
Check = Callable[[CampaignDefinition], list[str]]


def _catch(key: str, fn: Callable[..., object], *args: Any) -> list[str]:
    """Run ``fn(*args)``; its ArscInputError becomes one ``key: message`` problem."""
    try:
        fn(*args)
    except ArscInputError as exc:
        return [f"{key}: {' '.join(str(exc).split())}"]
    return []


def space_problems(definition: CampaignDefinition) -> list[str]:
    """Check metals, motifs, supports, site ids, motif-support fit, a non-empty space."""
    from arsc.elements import check_metals
    from arsc.space import Site, enumerate_sites, get_motif, motifs
    from arsc.supports import get_support, supports

    sp = definition.space
    out: list[str] = []
    for m in sp.metals or []:
        out += _catch("space.metals", check_metals, [m], sp.elements)
    names: list[str] = []
    for name in sp.motifs or []:
        names += _catch("space.motifs", get_motif, name)
    for name in sp.supports or []:
        names += _catch("space.supports", get_support, name)
    out += names
    for sid in sp.sites or []:
        out += _catch("space.sites", Site.from_id, sid, sp.elements)
    if names or sp.sites:
        return out
    given = list(sp.supports or supports())
    for name in sp.motifs or []:
        fits = get_motif(name).supports
        if not set(fits) & set(given):
            out.append(
                f"space.motifs: motif {name!r} fits none of the supports {', '.join(given)}; "
                f"it fits: {', '.join(fits)}"
            )
    if not out and not enumerate_sites(sp.metals, sp.motifs, sp.supports, sp.elements):
        shown_motifs = ", ".join(sp.motifs or motifs())
        out.append(
            f"space: no candidate site (motifs {shown_motifs} on supports {', '.join(given)})"
        )
    return out


def objective_problems(definition: CampaignDefinition) -> list[str]:
    """Check the reaction, intermediate, competition, product and goal of the objective."""
    from arsc.select import Objective
    from arsc.thermo import load_network
    from arsc.thermo.network import NetworkReaction, iter_nodes
    from arsc.thermo.quantities import QUANTITIES, quantity_intermediates

    spec = definition.objective
    out = _catch("objective.goal", lambda: Objective.parse(spec.goal))
    net = load_network()
    reaction = _catch("objective.reaction", lambda: net.get(spec.reaction))
    if reaction:
        return out + reaction
    needs = QUANTITIES[spec.quantity].needs  # the field a failing check is about
    key = f"objective.{needs or 'reaction'}"
    out += _catch(key, lambda: quantity_intermediates(spec))
    if spec.product is not None:
        rx = net.get(spec.reaction)
        products = (
            sorted({str(n.product) for n in iter_nodes(rx.next) if n.product})
            if isinstance(rx, NetworkReaction)
            else []
        )
        if spec.product not in products:
            allowed = ", ".join(products) or f"none (reaction {spec.reaction!r} has no branches)"
            out.append(
                f"objective.product: unknown product {spec.product!r} of reaction "
                f"{spec.reaction!r}; allowed: {allowed}"
            )
    return out


def model_problems(definition: CampaignDefinition) -> list[str]:
    """Check the prior model, the variant and the formula of a full refit."""
    from arsc.features import formula_variables
    from arsc.model import load_model
    from arsc.model.terms import get_variant
    from workflows.campaign.scoring import prior_path

    spec = definition.model
    out: list[str] = []
    if spec.prior is not None:
        prior = spec.prior
        out += _catch("model.prior", lambda: load_model(prior_path(prior)))
    out += _catch("model.variant", lambda: get_variant(spec.variant))
    if spec.formula is not None:
        formula = spec.formula
        out += _catch("model.formula", lambda: formula_variables(formula))
    return out


def dft_problems(definition: CampaignDefinition) -> list[str]:
    """Check modes, corrections, engine presets, FireWorks files and the replay table."""
    from arsc.space import MODES
    from arsc.thermo.references import load_references

    dft = definition.dft
    out: list[str] = []
    for mode in dft.modes or []:
        if mode not in MODES:
            out.append(f"dft.modes: unknown binding mode {mode!r}; allowed: {', '.join(MODES)}")
    if dft.modes is not None and not dft.modes:
        out.append(f"dft.modes: empty; give binding modes ({', '.join(MODES)}) or leave it out")
    out += _catch("dft.corrections", lambda: load_references(dft.corrections))
    if dft.executor == "replay":
        return out + replay_problems(definition)
    out += _catch("dft", lambda: _makers(definition))
    if dft.executor == "fireworks":
        out += fireworks_problems(definition)
    return out


def _makers(definition: CampaignDefinition) -> None:
    """Build the flow's makers: unknown presets and missing engine extras fail here."""
    from workflows.campaign.backends import flow_maker

    flow_maker(definition.dft, definition.objective.reaction).makers()


def fireworks_problems(definition: CampaignDefinition) -> list[str]:
    """Check the LaunchPad file, the queue settings, and that the protocol needs no tuning."""
    from workflows.campaign.backends import refuse_tuned_on_fireworks
    from workflows.executors.queue import load_queue_settings

    spec = definition.dft.fireworks
    out: list[str] = []
    if not Path(spec.launchpad).is_file():
        out.append(f"dft.fireworks.launchpad: file {spec.launchpad!r} does not exist")
    out += _catch("dft.fireworks.qadapter", lambda: load_queue_settings(spec.qadapter))
    out += _catch("dft.protocol", lambda: refuse_tuned_on_fireworks(definition))
    return out


def replay_problems(definition: CampaignDefinition) -> list[str]:
    """Check the replay table: a readable CSV, site ids, a numeric dG of every intermediate."""
    from arsc.thermo.quantities import quantity_intermediates

    spec = definition.dft.replay
    if spec is None:
        return ["dft.replay: executor replay needs dft.replay.table"]
    key, path = "dft.replay.table", Path(spec.table)
    if not path.is_file():
        return [f"{key}: file {spec.table!r} does not exist"]
    where = f"{key}: {spec.table!r}"
    try:
        data = pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return [f"{where} is not a readable CSV file: {' '.join(str(exc).split())}"]
    col = "id" if "id" in data.columns else "site"
    if col not in data.columns:
        return [f"{where} needs a column 'id' or 'site' (the site ids)"]
    if data.empty:
        return [f"{where} has no rows"]
    out: list[str] = []
    for row, sid in enumerate(data[col]):
        bad = _catch(f"{where} row {row + 2}", _site_id, sid, definition)
        if bad:
            out += bad
            break  # the first bad id says enough
    try:
        names = quantity_intermediates(definition.objective)
    except ArscInputError:
        return out  # the objective's own problem is reported by objective_problems
    missing = [f"dG_{z}" for z in names if f"dG_{z}" not in data.columns]
    if missing:
        out.append(
            f"{where} lacks column {', '.join(missing)}; the objective needs "
            f"{', '.join(f'dG_{z}' for z in names)} (eV)"
        )
    for name in (c for c in data.columns if str(c).startswith("dG_")):
        values = pd.to_numeric(data[name], errors="coerce")
        text = data[name].notna() & values.isna()
        if text.any():
            row = int(text.to_numpy().nonzero()[0][0])
            out.append(
                f"{where} column {name!r} row {row + 2}: {shown(data[name].iloc[row])} is not a "
                "number (eV; leave the cell empty for no value)"
            )
    return out


def _site_id(value: object, definition: CampaignDefinition) -> None:
    from arsc.space import Site

    Site.from_id(str(value), definition.space.elements)


def acquisition_problems(definition: CampaignDefinition) -> list[str]:
    """Check the acquisition strategy."""
    from arsc.select import get_strategy

    return _catch("acquisition.strategy", lambda: get_strategy(definition.acquisition.strategy))


#: Every check, in the order of the file's sections.
CHECKS: tuple[Check, ...] = (
    space_problems,
    objective_problems,
    model_problems,
    dft_problems,
    acquisition_problems,
)


def definition_problems(definition: CampaignDefinition) -> list[str]:
    """Every problem of a definition that its schema cannot see, ``key: problem`` each."""
    out: list[str] = []
    for check in CHECKS:
        out += check(definition)
    return list(dict.fromkeys(out))


def check_definition(definition: CampaignDefinition, source: str | Path | None = None) -> None:
    """Raise one ArscInputError listing every problem of a definition (none: return).

    Parameters
    ----------
    definition
        The campaign definition (already valid against its schema).
    source
        The campaign file, named in the message (None: the campaign's name).

    Raises
    ------
    ArscInputError
        ``campaign file 'c.yaml': key: problem; key: problem``.
    """
    problems = definition_problems(definition)
    if problems:
        head = (
            f"campaign file {str(source)!r}"
            if source is not None
            else f"campaign {definition.name!r}"
        )
        raise ArscInputError(f"{head}: {'; '.join(problems)}")
