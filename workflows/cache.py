"""Never compute a finished calculation twice.

Every engine job wraps its work in :func:`cached_calc`: before computing, it
looks the calculation's fingerprint up in the job store that runs it; a
finished document found there is returned as is. Because the key is the
fingerprint, not the job's uuid, this holds across processes, re-runs,
resumed campaigns and duplicated submissions.

Failed calculations (``status == "failed"``: the engine's recovery ladder
was exhausted) are finished too: by default their document is returned again
-- reported, not recomputed -- so a resumed run does not spend hours
repeating a failure. Inside :func:`retrying_failed` (``arsc run --resume
--retry-failed``) a fingerprint whose only documents are failed ones is
computed again. A job killed before it stored anything left no document and
is simply computed on the next run.

Documents whose bulky fields live in the additional ``data`` store (the DOS)
are returned whole (the lookup loads them).

Jobs that use it must expose the store: ``@job(config=JobConfig(expose_store=True))``
(see :data:`EXPOSE_STORE`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from jobflow import CURRENT_JOB, JobConfig

from workflows.schemas import CalcDoc

LOG = logging.getLogger(__name__)

#: Job configuration every engine job uses so that it can see its store.
EXPOSE_STORE = JobConfig(expose_store=True)

#: How long a process that waited for another one's claim polls for its document, s.
WAIT_SECONDS = 30.0

_RETRY_FAILED: ContextVar[bool] = ContextVar("arsc_retry_failed", default=False)


@contextmanager
def retrying_failed(enabled: bool = True) -> Iterator[None]:
    """Within this block, :func:`cached_calc` recomputes fingerprints that only failed before.

    Examples
    --------
    >>> with retrying_failed():
    ...     retry_failed_enabled()
    True
    >>> retry_failed_enabled()
    False
    """
    token = _RETRY_FAILED.set(enabled)
    try:
        yield
    finally:
        _RETRY_FAILED.reset(token)


def retry_failed_enabled() -> bool:
    """Whether failed calculations are being recomputed (see :func:`retrying_failed`)."""
    return _RETRY_FAILED.get()


def _current_store() -> Any | None:
    return getattr(CURRENT_JOB, "store", None)


def _lookup(store: Any, fingerprint: str, status: str) -> CalcDoc | None:
    doc = store.query_one(
        {"output.fingerprint": fingerprint, "output.status": status},
        properties=["output", "completed_at"],
        sort={"completed_at": -1},
        load=True,
    )
    return CalcDoc.from_output(doc["output"]) if doc else None


def find_calc(
    fingerprint: str, store: Any | None = None, *, include_failed: bool = False
) -> CalcDoc | None:
    """Return the finished document of a fingerprint from a job store, if any.

    Parameters
    ----------
    fingerprint
        Key from :func:`workflows.fingerprint.calc_fingerprint`.
    store
        A jobflow JobStore; default the store of the running job.
    include_failed
        When no successful document exists, return the latest failed one.

    Returns
    -------
    CalcDoc or None
        A successful document if there is one, else (with ``include_failed``)
        the most recent failed one, else None. Bulky fields are loaded from
        the data store.
    """
    store = store if store is not None else _current_store()
    if store is None:
        return None
    found = _lookup(store, fingerprint, "ok")
    if found is None and include_failed:
        found = _lookup(store, fingerprint, "failed")
    return found


def wait_for_calc(
    fingerprint: str, seconds: float = WAIT_SECONDS, interval: float = 0.5
) -> CalcDoc | None:
    """Poll the running job's store for a fingerprint another process has just finished.

    Used after waiting for another process's claim on the calculation's
    folder (:mod:`workflows.engines.claim`): its job stores the document
    moments after it releases the folder. Returns None when none arrives
    within ``seconds`` (that process died or failed to store; the caller
    computes) or when there is no store.
    """
    deadline = time.monotonic() + seconds
    while True:
        found = find_calc(fingerprint, include_failed=not retry_failed_enabled())
        if found is not None or _current_store() is None or time.monotonic() >= deadline:
            return found
        time.sleep(interval)


def cached_calc(fingerprint: str, compute: Callable[[], CalcDoc]) -> CalcDoc:
    """Return the finished document for ``fingerprint``, computing it only if absent.

    A successful document is always reused; a failed one is reused (reported)
    unless inside :func:`retrying_failed`.

    Parameters
    ----------
    fingerprint
        Key of the calculation.
    compute
        Runs the calculation and returns its document (with this fingerprint).
    """
    found = find_calc(fingerprint, include_failed=not retry_failed_enabled())
    if found is not None:
        if found.status == "failed":
            LOG.warning(
                "calculation %s failed before (%s); reported, not retried (use --retry-failed)",
                fingerprint[:12],
                found.error,
            )
        return found
    doc = compute()
    if doc.fingerprint != fingerprint:  # pragma: no cover - programming error
        raise RuntimeError("compute() returned a document with another fingerprint")
    return doc
