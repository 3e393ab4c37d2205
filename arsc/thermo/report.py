"""From an energies table to a per-site activity table and a summary.

Examples
--------
>>> import pandas as pd
>>> from arsc.thermo import compute_activity, load_references
>>> energies = {"bare": -300.0, "OH": -310.385, "O": -305.4, "OOH": -314.785}  # eV
>>> table = pd.DataFrame({"site": "s", "adsorbate": list(energies), "e0": list(energies.values())})
>>> report = compute_activity(table, "orr", load_references("vasp-pbe"))
>>> site = report.results[0]
>>> {k: round(v, 2) for k, v in site.dg.items()}
{'OOH': 3.9, 'O': 2.1, 'OH': 0.8}
>>> round(site.overpotential, 2), site.limiting_step
(0.43, '*OH + H2O -> 2 H2O')
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field

from arsc.errors import ArscInputError
from arsc.thermo.activity import SiteActivity, evaluate_site
from arsc.thermo.che import adsorption_free_energies
from arsc.thermo.energies import select_energies, validate_energies
from arsc.thermo.network import ReactionNetwork, load_network
from arsc.thermo.references import CHE_TEMPERATURE, References


class ActivityReport(BaseModel):
    """Activity of one reaction over every site of an energies table."""

    reaction: str = Field(description="Reaction name from reactions.yaml.")
    references: str = Field(description="Name of the references table used.")
    energy: str = Field(description="Energy column used: e0 (sigma -> 0) or f.")
    include_inconsistent: bool = Field(description="Whether inconsistent rows were used.")
    uncorrected: list[str] = Field(
        description="Intermediates the reaction needs that the references give no "
        "correction for (computed with 0 eV; only with allow_uncorrected)."
    )
    results: list[SiteActivity] = Field(description="One entry per site, sites sorted.")

    def table(self) -> pd.DataFrame:
        """One row per site.

        Columns: ``site, reaction, overpotential (V), U_L (V vs RHE), U_eq
        (V vs RHE), limiting_step, consistent, reason``, then per kind
        ``product, mechanism, complete`` (networks) or ``eta_<part>,
        U_L_<part>`` (sums), one ``dG_<X>`` (eV) and ``mode_<X>`` per
        intermediate, ``<competition>`` and ``<competition>_dG_<label>`` (eV)
        per selectivity competition, and ``steps`` (text).
        """
        return pd.DataFrame([_row(r) for r in self.results])

    def summary(self, top: int = 5) -> dict[str, Any]:
        """Summarise: counts, NaN causes and the best sites, as plain JSON-ready data."""
        done = [r for r in self.results if not math.isnan(r.overpotential)]
        causes = Counter(c for r in self.results if math.isnan(r.overpotential) for c in r.causes)
        best = sorted(done, key=lambda r: (r.overpotential, r.site))[:top]
        products = Counter(r.product for r in self.results if r.product)
        out: dict[str, Any] = {
            "reaction": self.reaction,
            "references": self.references,
            "energy": self.energy,
            "include_inconsistent": self.include_inconsistent,
            "sites": len(self.results),
            "computed": len(done),
            "nan": len(self.results) - len(done),
            "nan_causes": dict(sorted(causes.items(), key=lambda kv: (-kv[1], kv[0]))),
            "inconsistent_sites": sum(not r.consistent for r in self.results),
            "uncorrected": self.uncorrected,
            "uncorrected_sites": sum(bool(r.uncorrected) for r in self.results),
            "best": [
                {
                    "site": r.site,
                    "overpotential": r.overpotential,
                    "U_L": r.limiting_potential,
                    "limiting_step": r.limiting_step,
                    **({"product": r.product} if r.product else {}),
                }
                for r in best
            ],
        }
        if products:
            out["products"] = dict(sorted(products.items()))
        return out


def _row(r: SiteActivity) -> dict[str, Any]:
    row: dict[str, Any] = {
        "site": r.site,
        "reaction": r.reaction,
        "overpotential": r.overpotential,
        "U_L": r.limiting_potential,
        "U_eq": r.equilibrium_potential,
        "limiting_step": r.limiting_step,
        "consistent": r.consistent,
        "reason": r.reason,
    }
    if r.product or r.mechanism or not r.complete:
        row.update(product=r.product, mechanism=r.mechanism, complete=r.complete)
    for part, vals in r.parts.items():
        row[f"eta_{part}"] = vals["overpotential"]
        row[f"U_L_{part}"] = vals["limiting_potential"]
    row.update({f"dG_{k}": v for k, v in r.dg.items()})
    row.update({f"mode_{k}": r.modes.get(k, "") for k in r.dg})
    for cname, winner in r.selectivity.items():
        row[cname] = winner
        row.update({f"{cname}_dG_{k}": v for k, v in r.selectivity_dg[cname].items()})
    row["uncorrected"] = ", ".join(r.uncorrected)
    row["steps"] = "; ".join(f"{s.name}: {s.dg:+.3f} eV" for s in r.steps)
    return row


def compute_activity(
    table: pd.DataFrame,
    reaction: str,
    references: References,
    energy: str = "e0",
    include_inconsistent: bool = False,
    network: ReactionNetwork | None = None,
    source: str = "energies table",
    allow_uncorrected: bool = False,
) -> ActivityReport:
    """Free energies and activity of one reaction for every site of an energies table.

    Parameters
    ----------
    table
        Energies table, one row per calculation (columns ``site, adsorbate,
        e0, f, mode, consistent, reason``; others ignored).
    reaction
        Reaction name in ``reactions.yaml``.
    references
        Molecule energies and corrections at the slabs' DFT level.
    energy
        ``e0`` (default) or ``f``.
    include_inconsistent
        Use rows with ``consistent == False`` too (they stay flagged).
    network
        Reaction networks (default: the packaged ones).
    source
        Where the table came from, for messages.
    allow_uncorrected
        Compute intermediates the references give no free-energy correction
        for with 0 eV; every such dG is listed in the ``uncorrected`` column of
        its site and in the summary. False: such a table is refused.

    Returns
    -------
    ActivityReport
        One :class:`SiteActivity` per site.

    Raises
    ------
    ArscInputError
        Bad table, unknown reaction, references lacking a needed molecule, a
        needed correction (unless ``allow_uncorrected``) or at another
        temperature than the reactions (298.15 K).
    """
    net = network or load_network()
    key = reaction.strip().lower()
    net.get(key)  # unknown reaction -> ArscInputError before any work
    needed = net.reaction_intermediates(key)
    clean = validate_energies(table, energy, source)
    selection = select_energies(clean, energy, include_inconsistent)
    free = adsorption_free_energies(selection, references, needed, net)  # molecules first
    missing = check_corrections(references, needed, key, allow_uncorrected)
    results = [_mark(evaluate_site(net, key, fe), missing) for fe in free.values()]
    return ActivityReport(
        reaction=key,
        references=references.name,
        energy=energy,
        include_inconsistent=include_inconsistent,
        uncorrected=missing,
        results=results,
    )


def check_corrections(
    references: References, needed: Sequence[str], reaction: str, allow_uncorrected: bool
) -> list[str]:
    """Return the needed intermediates without a correction (empty unless allowed).

    Raises
    ------
    ArscInputError
        If the table is at another temperature than the reactions, or lacks a
        correction and ``allow_uncorrected`` is False (one line naming the
        intermediates and the table).
    """
    if abs(references.temperature - CHE_TEMPERATURE) > 0.01:
        raise ArscInputError(
            f"references {references.name!r} are at {references.temperature} K, the reaction "
            f"free energies (reactions.yaml) at {CHE_TEMPERATURE} K; give corrections at "
            f"{CHE_TEMPERATURE} K"
        )
    missing = references.missing_corrections(needed)
    if missing and not allow_uncorrected:
        names = ", ".join(f"*{x}" for x in missing)
        raise ArscInputError(
            f"references {references.name!r} have no free-energy correction for {names}, "
            f"needed by {reaction}; add corrections.<X> (eV, Delta(ZPE - TS)) with a source, "
            "or allow uncorrected values (--allow-uncorrected)"
        )
    return missing


def _mark(result: SiteActivity, missing: Sequence[str]) -> SiteActivity:
    """List the intermediates of the site whose dG was computed without a correction."""
    used = [x for x in missing if x in result.dg and math.isfinite(result.dg[x])]
    return result.model_copy(update={"uncorrected": used}) if used else result
