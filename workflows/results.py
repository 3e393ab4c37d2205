"""What a job store holds: one row per calculation and one summary per site.

A calculation is keyed by its fingerprint; a re-run or resumed flow stores
another job document with the same fingerprint (the cached result), so rows
are deduplicated: a successful document wins over failed ones, and among
equals the earliest (the computation itself).
"""

from __future__ import annotations

from typing import Any

from jobflow import JobStore

from workflows.protocols import protocol_success_rate
from workflows.schemas import SiteDoc

#: Order of the task column within a state.
_TASK_ORDER = {"relax": 0, "static": 1}
_FIELDS = ("fingerprint", "site_id", "adsorbate", "mode", "engine", "task", "status", "energy")


def _calc_row(doc: dict[str, Any]) -> dict[str, Any]:
    out = doc["output"]
    gas = out.get("mode") == "gas"
    return {
        "site": "gas" if gas else (out.get("site_id") or ""),
        "adsorbate": out.get("adsorbate", "bare"),
        "mode": "" if gas else (out.get("mode") or ""),
        "engine": out.get("engine", ""),
        "task": out.get("task", ""),
        "status": out.get("status", ""),
        "energy": out.get("energy"),
        "fingerprint": str(out.get("fingerprint", ""))[:12],
        "error": out.get("error") or "",
        "completed_at": doc.get("completed_at", ""),
    }


def calculations(store: JobStore) -> list[dict[str, Any]]:
    """Return one row per calculation fingerprint in the store.

    Returns
    -------
    list of dict
        ``site`` ('gas' for reference molecules), ``adsorbate``, ``mode``,
        ``engine``, ``task``, ``status``, ``energy`` (E0, eV), ``fingerprint``
        (first 12 hex digits), ``error``, ``completed_at``; sorted by site,
        bare first, adsorbate, mode, engine, task.
    """
    props = [f"output.{f}" for f in (*_FIELDS, "error")] + ["completed_at"]
    best: dict[str, dict[str, Any]] = {}
    for doc in store.query({"output.fingerprint": {"$exists": True}}, properties=props):
        row = _calc_row(doc)
        key = str(doc["output"]["fingerprint"])
        old = best.get(key)
        rank = (row["status"] != "ok", row["completed_at"])
        if old is None or rank < (old["status"] != "ok", old["completed_at"]):
            best[key] = row
    return sorted(
        best.values(),
        key=lambda r: (
            r["site"] == "gas",
            r["site"],
            r["adsorbate"] != "bare",
            r["adsorbate"],
            r["mode"],
            r["engine"],
            _TASK_ORDER.get(r["task"], 9),
        ),
    )


def site_docs(store: JobStore) -> list[SiteDoc]:
    """Return the latest SiteDoc of every site in the store, sorted by site id."""
    latest: dict[str, tuple[str, dict[str, Any]]] = {}
    for doc in store.query({"metadata.arsc_doc": "site"}, properties=["output", "completed_at"]):
        out = doc.get("output")
        if not isinstance(out, dict) or "site_id" not in out:
            continue
        stamp = str(doc.get("completed_at", ""))
        if out["site_id"] not in latest or stamp > latest[out["site_id"]][0]:
            latest[out["site_id"]] = (stamp, out)
    fields = SiteDoc.model_fields
    return [
        SiteDoc.model_validate({k: v for k, v in latest[s][1].items() if k in fields})
        for s in sorted(latest)
    ]


def site_row(doc: SiteDoc) -> dict[str, Any]:
    """Flatten a SiteDoc into a summary (JSON-ready; None for unknown numbers).

    Keys: ``site``, ``engine``, ``protocol`` (None for documents written before
    protocols were recorded) and its measured ``protocol_success_rate``
    (fraction; None: not measured), ``consistent``, ``states_ok``, ``states``, ``problems``,
    ``dg`` (eV), ``activity`` (reaction -> overpotential V, U_L V vs RHE,
    limiting step), ``dband_centre`` (metal -> full-band spin-summed centre,
    eV vs E_F).
    """
    return {
        "site": doc.site_id,
        "engine": doc.engine,
        "protocol": doc.protocol,
        "protocol_success_rate": (
            protocol_success_rate(doc.protocol) if doc.protocol is not None else None
        ),
        "consistent": doc.consistent,
        "states_ok": sum(s.status == "ok" for s in doc.states),
        "states": len(doc.states),
        "problems": list(doc.problems),
        "dg": dict(doc.dg),
        "activity": {
            r: {
                "overpotential": a.overpotential,
                "limiting_potential": a.limiting_potential,
                "limiting_step": a.limiting_step,
            }
            for r, a in doc.activity.items()
        },
        "dband_centre": {m: d.full.centre for m, d in doc.dband.items()},
    }
