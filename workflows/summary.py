"""Summarise one site's calculations into a :class:`workflows.schemas.SiteDoc`.

Order of work, which matters:

1. every state's final document is classified (ok, failed, missing);
2. the settings-consistency check: the settings of every state's final
   static, and of every gas reference, must equal the bare site's (the
   rule :func:`arsc.ingest.consistency.compare_settings`, on the settings
   records and hashes of the documents); a state that fails it is flagged
   with the differing keys and left out of the free energies;
3. only then the free energies and activity (:func:`arsc.thermo.compute_activity`),
   with reference-molecule energies from the flow's own gas calculations and
   the Delta(ZPE - TS) corrections of a packaged references table.

No jobflow here: the flow's last job calls :func:`summarise_site`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from arsc.errors import ArscInputError
from arsc.ingest.consistency import NO_BARE, compare_settings
from arsc.ingest.table import BARE
from arsc.thermo import References, compute_activity, load_references
from arsc.thermo.activity import SiteActivity
from workflows.schemas import CalcDoc, ReactionActivity, SiteDoc, StateSummary

#: Steps of a state in the order they run, and the task of each.
STEPS: tuple[str, ...] = ("prerelax", "relax", "static")
STEP_TASKS = {"prerelax": "relax", "relax": "relax", "static": "static"}


@dataclass
class StateResult:
    """The documents of one state as the flow delivers them (None: the step produced nothing)."""

    adsorbate: str
    mode: str | None
    docs: dict[str, CalcDoc | None] = field(default_factory=dict)

    @classmethod
    def from_outputs(
        cls, adsorbate: str, mode: str | None, outputs: Mapping[str, Any]
    ) -> StateResult:
        """Validate the raw job outputs (dicts or CalcDocs) of one state.

        A step that did not run because the step before it failed passes
        that failed document on (see :func:`workflows.flows.continue_with`);
        it is recognised by its task and left out.
        """
        docs: dict[str, CalcDoc | None] = {}
        for step in STEPS:
            if step not in outputs:
                continue
            doc = _doc(outputs[step])
            if doc is not None and doc.task != STEP_TASKS[step]:
                continue
            docs[step] = doc
        return cls(adsorbate, mode, docs)

    @property
    def final(self) -> CalcDoc | None:
        """Return the final static's document (None if there is none)."""
        return self.docs.get("static")


def _doc(value: Any) -> CalcDoc | None:
    return None if value is None else CalcDoc.from_output(value)


def check_consistency(doc: CalcDoc, bare: CalcDoc | None) -> tuple[bool, str]:
    """Check ``doc`` against the bare site's final static (:func:`compare_settings`).

    Returns
    -------
    tuple
        (consistent, reason); the reason names the differing settings, or
        ``no bare-site run`` when the bare site has no finished static.
    """
    if bare is None or bare.status != "ok":
        return False, NO_BARE
    hashes = (doc.settings_hash, bare.settings_hash)
    return compare_settings(doc.engine, doc.settings, bare.engine, bare.settings, hashes)


def _failure(state: StateResult) -> tuple[str, str | None]:
    """Status and error of a state from its steps (the first failing step explains it)."""
    final = state.final
    if final is not None and final.status == "ok" and final.task == "static":
        return "ok", None
    for step in STEPS:
        if step not in state.docs:
            continue
        doc = state.docs[step]
        if doc is None:
            return "missing", f"{step} produced no document (it raised or did not run)"
        if doc.status == "failed":
            return "failed", f"{step} failed: {doc.error}"
    return "missing", "no final static"


def summarise_state(state: StateResult, bare: CalcDoc | None) -> StateSummary:
    """Summarise one state; consistency is judged against the bare site's final static."""
    status, error = _failure(state)
    final = state.final if status == "ok" else None
    consistent, reason = (False, error or "") if final is None else check_consistency(final, bare)
    present = [d for d in state.docs.values() if d is not None]
    return StateSummary(
        adsorbate=state.adsorbate,
        mode=state.mode,
        status=status,  # type: ignore[arg-type]
        error=error,
        energy=final.energy if final else None,
        free_energy=final.free_energy if final else None,
        total_magmom=final.total_magmom if final else None,
        fingerprints={s: d.fingerprint for s, d in state.docs.items() if d is not None},
        ionic_steps={s: d.convergence.ionic_steps for s, d in state.docs.items() if d is not None},
        settings_hash=final.settings_hash if final else None,
        consistent=consistent,
        reason=reason,
        anomalies=sorted({a for d in present for a in d.anomalies}),
        dband=dict(final.dband) if final else {},
    )


def _finite(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _activity(result: SiteActivity) -> ReactionActivity:
    return ReactionActivity(
        reaction=result.reaction,
        overpotential=_finite(result.overpotential),
        limiting_potential=_finite(result.limiting_potential),
        equilibrium_potential=_finite(result.equilibrium_potential),
        limiting_step=result.limiting_step,
        dg={k: _finite(v) for k, v in result.dg.items()},
        modes=dict(result.modes),
        product=result.product,
        mechanism=result.mechanism,
        selectivity=dict(result.selectivity),
        consistent=result.consistent,
        reason=result.reason,
    )


def energies_table(site_id: str, states: Sequence[StateSummary]) -> pd.DataFrame:
    """Build the energies table of :mod:`arsc.thermo` for one site (NaN energy when not ok)."""
    rows = [
        {
            "site": site_id,
            "adsorbate": s.adsorbate,
            "mode": s.mode or "",
            "e0": s.energy if s.energy is not None else math.nan,
            "f": s.free_energy if s.free_energy is not None else math.nan,
            "consistent": s.consistent,
            "reason": s.reason,
        }
        for s in states
    ]
    return pd.DataFrame(
        rows, columns=["site", "adsorbate", "mode", "e0", "f", "consistent", "reason"]
    )


def _references(
    gas: Mapping[str, CalcDoc | None], bare: CalcDoc | None, corrections: str
) -> tuple[References, dict[str, float | None], list[str], bool]:
    """Build the references from the gas documents; also their energies, problems, consistency."""
    table = load_references(corrections)
    energies: dict[str, float | None] = {}
    usable: dict[str, float] = {}
    problems: list[str] = []
    consistent = True
    for mol, doc in sorted(gas.items()):
        if doc is None or doc.status != "ok" or doc.energy is None:
            why = "no document" if doc is None else (doc.error or "no energy")
            problems.append(f"gas {mol}: {why}")
            energies[mol] = None
            continue
        energies[mol] = doc.energy
        ok, reason = check_consistency(doc, bare)
        if ok:
            usable[mol] = doc.energy
        else:
            consistent = False
            problems.append(f"gas {mol}: inconsistent with the bare site ({reason})")
    refs = References(
        name=f"flow gas energies + {table.name} corrections",
        source=f"gas energies computed in this flow; corrections: {table.source}",
        energies=usable,
        temperature=table.temperature,
        gas_corrections=dict(table.gas_corrections),
        corrections=dict(table.corrections),
        sources=dict(table.sources),
        convention=dict(table.convention),
    )
    return refs, energies, problems, consistent


def _evaluate(
    table: pd.DataFrame, reaction: str, refs: References, site_id: str
) -> ReactionActivity:
    try:
        report = compute_activity(table, reaction, refs, source=f"site {site_id}")
    except ArscInputError as exc:
        return ReactionActivity.model_validate(
            {"reaction": reaction, "consistent": False, "reason": str(exc)}
        )
    return _activity(report.results[0])


def summarise_site(
    site_id: str,
    engine: str,
    reactions: Sequence[str],
    states: Sequence[StateResult],
    gas: Mapping[str, Any],
    corrections: str = "vasp-pbe",
    protocol: str | None = None,
) -> SiteDoc:
    """Build the SiteDoc of one site (consistency check first, then thermodynamics).

    Parameters
    ----------
    site_id
        The site.
    engine
        Engine of the final statics.
    reactions
        Reactions to evaluate (names in ``reactions.yaml``).
    states
        Every state, the bare site among them.
    gas
        Molecule -> final static document of its gas reference (or None).
    corrections
        Name (or file) of the references table whose Delta(ZPE - TS) corrections are used.
    protocol
        Name of the protocol that produced the states (recorded in the document).
    """
    bare_state = next((s for s in states if s.adsorbate == BARE), None)
    bare = bare_state.final if bare_state is not None else None
    bare = bare if bare is not None and bare.status == "ok" else None
    summaries = [summarise_state(s, bare) for s in states]
    problems = [
        f"{s.adsorbate}{' ' + s.mode if s.mode else ''}: {s.reason or s.error}"
        for s in summaries
        if not (s.status == "ok" and s.consistent)
    ]
    gas_docs = {m: _doc(d) for m, d in gas.items()}
    refs, gas_energies, gas_problems, gas_consistent = _references(gas_docs, bare, corrections)
    problems += gas_problems
    consistent = gas_consistent and all(s.consistent for s in summaries if s.status == "ok")
    table = energies_table(site_id, summaries)
    activity = {r: _evaluate(table, r, refs, site_id) for r in reactions}
    dg: dict[str, float | None] = {}
    for act in activity.values():
        dg.update(act.dg)
    return SiteDoc(
        site_id=site_id,
        engine=engine,
        protocol=protocol,
        reactions=list(reactions),
        references=refs.name,
        settings_hash=bare.settings_hash if bare else None,
        consistent=consistent,
        problems=problems,
        states=summaries,
        gas=gas_energies,
        dg=dg,
        activity=activity,
        dband=dict(bare.dband) if bare else {},
    )
