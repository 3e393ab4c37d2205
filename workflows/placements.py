"""The placement search: screen every start with the MLIP, send the k lowest distinct to DFT.

For each intermediate of a site, :class:`workflows.flows.DacAdsorptionFlow`
(``placements=k``) relaxes every start of :func:`arsc.placements.placements`
with the MLIP (one job per start, so each is cached by its fingerprint), then
:func:`select_placements` reads their end points and

1. drops the failed relaxations and those with an adsorbate anomaly
   (desorbed, dissociated, moved to another binding mode:
   :mod:`workflows.anomalies`; the codes are ``drop`` in
   ``arsc/data/protocols.yaml``), with the reason;
2. sorts the rest by MLIP energy and keeps the lowest ``k`` that are
   distinct (:func:`arsc.placements.local_distances` within the tolerance);
3. replaces itself by the DFT chains of the kept end points (relax, if the
   protocol has one, then the single point) and a collecting job, whose
   output -- one state per kept placement -- the site summary reads.

Its own output, a :class:`PlacementDoc` (job metadata ``arsc_doc:
placements``), records every end point and why it did or did not go to DFT.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from jobflow import Flow, Job, Maker, Response, job
from pydantic import BaseModel, Field

from arsc.placements import local_distances, same_structure
from workflows.chain import TOLERANT, continue_with
from workflows.schemas import CalcDoc

Status = Literal["selected", "duplicate", "surplus", "anomalous", "failed"]


class EndPoint(BaseModel):
    """One start after its MLIP relaxation, and what became of it."""

    placement: str = Field(description="Start label: mode, tilt (deg), rotation (deg), height (A)")
    mode: str = Field(description="Binding mode of the start")
    fingerprint: str | None = Field(default=None, description="Key of the MLIP relaxation (sha256)")
    energy: float | None = Field(default=None, description="MLIP energy of the end point, eV")
    status: Status = Field(
        description="selected: goes to DFT; duplicate: same structure as a lower one; surplus: "
        "distinct but not among the k lowest; anomalous / failed: dropped before DFT"
    )
    reason: str = Field(
        default="", description="Why not selected (anomaly flags, error, duplicate of)"
    )


class PlacementDoc(BaseModel):
    """The placement search of one intermediate on one site."""

    site_id: str = Field(description="ARSC site id")
    adsorbate: str = Field(description="Intermediate name")
    k: int = Field(description="Most end points that go to DFT, count")
    tolerance: float = Field(description="Distinct-structure tolerance, Angstrom")
    drop: list[str] = Field(description="Anomaly codes that drop an end point before DFT")
    end_points: list[EndPoint] = Field(description="Every start, lowest MLIP energy first")

    @property
    def selected(self) -> list[EndPoint]:
        """Return the end points that go to DFT."""
        return [e for e in self.end_points if e.status == "selected"]


def _doc(value: Any) -> CalcDoc | None:
    return None if value is None else CalcDoc.from_output(value)


def _screen(start: dict[str, Any], drop: Sequence[str]) -> tuple[EndPoint, CalcDoc | None]:
    doc = _doc(start["doc"])
    base = {"placement": start["placement"], "mode": start["mode"]}
    if doc is None:
        return EndPoint(**base, status="failed", reason="MLIP relaxation produced nothing"), None
    base.update(fingerprint=doc.fingerprint, energy=doc.energy)
    if doc.status != "ok" or doc.energy is None:
        why = doc.error or "no energy"
        return EndPoint(**base, status="failed", reason=f"MLIP relaxation failed: {why}"), None
    flags = [a for a in doc.anomalies if a.split(":")[0] in drop]
    if flags:
        return EndPoint(**base, status="anomalous", reason="; ".join(flags)), None
    return EndPoint(**base, status="selected"), doc


def screen_end_points(
    site_id: str,
    adsorbate: str,
    starts: Sequence[dict[str, Any]],
    k: int,
    tolerance: float,
    neighbours: int,
    drop: Sequence[str],
) -> tuple[PlacementDoc, list[CalcDoc]]:
    """Choose the end points that go to DFT (steps 1-2 of the module docstring).

    Parameters
    ----------
    site_id, adsorbate
        What was placed.
    starts
        Per start: ``placement`` (label), ``mode`` and ``doc`` (the MLIP
        relaxation's CalcDoc, as a dict, or None when the job raised).
    k
        Most end points kept.
    tolerance, neighbours
        Distinct-structure test (:func:`arsc.placements.same_structure`), Angstrom.
    drop
        Anomaly codes that drop an end point.

    Returns
    -------
    tuple
        The :class:`PlacementDoc` and the kept documents, lowest energy first.
    """
    screened = [_screen(s, drop) for s in starts]
    dropped = [e for e, d in screened if d is None]
    usable = sorted(
        ((e, d) for e, d in screened if d is not None),
        key=lambda item: (float(item[1].energy or 0.0), item[0].placement),
    )
    kept: list[tuple[EndPoint, CalcDoc, Any]] = []
    ranked: list[EndPoint] = []
    for point, doc in usable:
        key = local_distances(doc.final_atoms(), neighbours)
        twin = next((p for p, _, kk in kept if same_structure(key, kk, tolerance)), None)
        if twin is not None:
            point = point.model_copy(
                update={"status": "duplicate", "reason": f"same end point as {twin.placement}"}
            )
        elif len(kept) >= k:
            point = point.model_copy(
                update={"status": "surplus", "reason": f"not among the {k} lowest distinct"}
            )
        else:
            kept.append((point, doc, key))
        ranked.append(point)
    placement_doc = PlacementDoc(
        site_id=site_id,
        adsorbate=adsorbate,
        k=k,
        tolerance=tolerance,
        drop=list(drop),
        end_points=ranked + dropped,
    )
    return placement_doc, [d for _, d, _ in kept]


def dft_chain(
    doc: dict[str, Any],
    label: str,
    relax: Maker | None,
    static: Maker,
    screen_step: str,
    accept_capped: bool = False,
) -> tuple[list[Job | Flow], dict[str, Any]]:
    """Return the DFT jobs of one kept end point and its state's step outputs.

    ``doc`` (the MLIP relaxation's CalcDoc dict) is the state's ``screen_step``
    (``prerelax`` before a DFT relaxation, ``relax`` when the MLIP relaxation
    is the protocol's relaxation).
    """
    outputs: dict[str, Any] = {screen_step: doc}
    jobs: list[Job | Flow] = []
    last: Job | Flow
    if relax is not None:
        first = relax.make(doc)
        first.name = f"{label} relax"
        first.update_metadata({"step": "relax", "role": "dft"}, dynamic=False)
        last = continue_with(
            first.output, static, name=f"{label} static", accept_capped=accept_capped
        )
        outputs["relax"] = first.output
        jobs.append(first)
    else:
        last = static.make(doc)
    last.name = f"{label} static"
    last.update_metadata({"step": "static", "role": "dft"}, dynamic=False)
    outputs["static"] = last.output
    return [*jobs, last], outputs


@job(config=TOLERANT)
def collect_states(states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the states of the kept placements (the outputs of their steps resolved)."""
    return states


@job(config=TOLERANT)
def select_placements(
    site_id: str,
    adsorbate: str,
    starts: list[dict[str, Any]],
    k: int,
    grid: dict[str, Any],
    relax: Maker | None,
    static: Maker,
    screen_step: str,
    accept_capped: bool = False,
) -> Response:
    """Choose the k lowest distinct end points and replace this job by their DFT chains.

    ``grid`` holds ``tolerance``, ``neighbours`` and ``drop``. The output is
    the :class:`PlacementDoc`; the replacement's output (what references to
    this job resolve to) is the list of states, one per kept placement:
    ``adsorbate``, ``mode``, ``placement`` and ``outputs`` (step -> CalcDoc).
    """
    doc, kept = screen_end_points(
        site_id, adsorbate, starts, k, grid["tolerance"], grid["neighbours"], grid["drop"]
    )
    jobs: list[Job | Flow] = []
    states = []
    for point, calc in zip(doc.selected, kept, strict=True):
        label = f"{site_id} {adsorbate} {point.placement}"
        chain, outputs = dft_chain(
            calc.model_dump(), label, relax, static, screen_step, accept_capped
        )
        jobs.extend(chain)
        states.append(
            {
                "adsorbate": adsorbate,
                "mode": point.mode,
                "placement": point.placement,
                "outputs": outputs,
            }
        )
    collector = collect_states(states)
    collector.name = f"{site_id} {adsorbate} placements"
    return Response(output=doc, replace=Flow([*jobs, collector], output=collector.output))


def best_placements(states: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep, per (adsorbate, mode), the state whose final single point is lowest in energy.

    States without a finished single point count only when the (adsorbate,
    mode) has no finished one; order of first appearance is kept.
    """
    best: dict[tuple[str, str | None], dict[str, Any]] = {}
    for state in states:
        key = (state["adsorbate"], state["mode"])
        if key not in best or _energy(state) < _energy(best[key]):
            best[key] = state
    return list(best.values())


def _energy(state: dict[str, Any]) -> float:
    doc = _doc(state["outputs"].get("static"))
    if doc is None or doc.status != "ok" or doc.task != "static" or doc.energy is None:
        return float("inf")
    return float(doc.energy)
