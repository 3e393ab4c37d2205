"""The job store: where every job's output document lives, keyed by job uuid.

:func:`make_store` builds a jobflow ``JobStore`` from the settings' ``store``
entry, a discriminated union chosen by ``type`` (a registry, one builder per
type):

* ``embedded`` (default): one sqlite file in the project folder
  (``<project>/store.sqlite``), two tables -- ``jobs`` (the documents) and
  ``data`` (bulky arrays). No server; persistent across processes; a process
  killed at any point keeps every committed document. Backed by
  :class:`workflows.sqlite_store.SqliteStore` (measured against maggma's
  MontyStore and JSONStore in ``docs/workflows.md``).
* ``mongodb``: maggma ``MongoStore`` collections on a MongoDB server (the
  production option; several machines can share it).

Both have the additional store named ``data`` (atomate2's convention): a job
declares the output fields that go there (``@job(data="dos")``: DOS arrays,
trajectories); the job document keeps a reference, and queries with
``load=True`` (as :func:`workflows.cache.find_calc` does) put them back.
"""

from __future__ import annotations

from collections.abc import Callable

from jobflow import JobStore
from maggma.core import Store
from maggma.stores import MongoStore

from workflows.settings import (
    ArscSettings,
    EmbeddedStoreSettings,
    MongoStoreSettings,
    get_settings,
)
from workflows.sqlite_store import SqliteStore

#: Name of the additional store for bulky data (atomate2's convention).
DATA_STORE = "data"
#: Table (collection) names of the embedded store.
EMBEDDED_DOCS, EMBEDDED_DATA = "jobs", "data"

StoreBuilder = Callable[[ArscSettings], JobStore]


def _job_store(docs: Store, data: Store) -> JobStore:
    return JobStore(docs, additional_stores={DATA_STORE: data})


def _embedded(settings: ArscSettings) -> JobStore:
    path = str(settings.store_path())
    return _job_store(SqliteStore(path, EMBEDDED_DOCS), SqliteStore(path, EMBEDDED_DATA))


def _mongo_kwargs(cfg: MongoStoreSettings) -> dict[str, object]:
    if cfg.uri:
        return {"database": cfg.database, "uri": cfg.uri}
    return {
        "database": cfg.database,
        "host": cfg.host,
        "port": cfg.port,
        "username": cfg.username,
        "password": cfg.password.get_secret_value(),
    }


def _mongodb(settings: ArscSettings) -> JobStore:
    cfg = settings.store
    assert isinstance(cfg, MongoStoreSettings)
    kwargs = _mongo_kwargs(cfg)
    return _job_store(
        MongoStore(collection_name=cfg.collection, **kwargs),  # type: ignore[arg-type]
        MongoStore(collection_name=cfg.data_collection, **kwargs),  # type: ignore[arg-type]
    )


#: Store type (settings ``store.type``) -> builder.
STORE_BUILDERS: dict[str, StoreBuilder] = {
    "embedded": _embedded,
    "mongodb": _mongodb,
}


def make_store(settings: ArscSettings | None = None) -> JobStore:
    """Build the job store the settings choose (not connected).

    Parameters
    ----------
    settings
        Default :func:`workflows.settings.get_settings`.

    Returns
    -------
    jobflow.JobStore
        Documents store plus the additional store ``data``.

    Examples
    --------
    >>> import tempfile
    >>> from workflows.settings import ArscSettings
    >>> store = make_store(ArscSettings(project=tempfile.mkdtemp()))
    >>> sorted(store.additional_stores)
    ['data']
    """
    settings = settings if settings is not None else get_settings()
    return STORE_BUILDERS[settings.store.type](settings)


def is_embedded(settings: ArscSettings) -> bool:
    """Whether the settings choose the embedded (file) store."""
    return isinstance(settings.store, EmbeddedStoreSettings)
