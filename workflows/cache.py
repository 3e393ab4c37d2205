"""Never compute a finished calculation twice.

Every engine job wraps its work in :func:`cached_calc`: before computing, it
looks the calculation's fingerprint up in the job store that runs it; a
finished document found there is returned as is. Because the key is the
fingerprint, not the job's uuid, this holds across processes, re-runs,
resumed campaigns and duplicated submissions.

Jobs that use it must expose the store: ``@job(config=JobConfig(expose_store=True))``
(see :data:`EXPOSE_STORE`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobflow import CURRENT_JOB, JobConfig

from workflows.schemas import CalcDoc

#: Job configuration every engine job uses so that it can see its store.
EXPOSE_STORE = JobConfig(expose_store=True)


def _current_store() -> Any | None:
    return getattr(CURRENT_JOB, "store", None)


def find_calc(fingerprint: str, store: Any | None = None) -> CalcDoc | None:
    """Return the finished document of a fingerprint from a job store, if any.

    Parameters
    ----------
    fingerprint
        Key from :func:`workflows.fingerprint.calc_fingerprint`.
    store
        A jobflow JobStore; default the store of the running job.
    """
    store = store if store is not None else _current_store()
    if store is None:
        return None
    doc = store.query_one(
        {"output.fingerprint": fingerprint, "output.status": "ok"}, properties=["output"], load=True
    )
    if not doc:
        return None
    return CalcDoc.model_validate(doc["output"])


def cached_calc(fingerprint: str, compute: Callable[[], CalcDoc]) -> CalcDoc:
    """Return the finished document for ``fingerprint``, computing it only if absent.

    Parameters
    ----------
    fingerprint
        Key of the calculation.
    compute
        Runs the calculation and returns its document (with this fingerprint).
    """
    found = find_calc(fingerprint)
    if found is not None:
        return found
    doc = compute()
    if doc.fingerprint != fingerprint:  # pragma: no cover - programming error
        raise RuntimeError("compute() returned a document with another fingerprint")
    return doc
