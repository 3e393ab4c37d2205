"""A small maggma Store on Python's sqlite3: one JSON document per row, indexed key columns.

Why it exists: the embedded job store must persist across processes, survive
``kill -9`` and keep the per-job overhead of ``run_locally`` low as the
project grows. maggma's ``JSONStore`` rewrites the whole file on every update
(quadratic; a kill during the write truncates the file) and ``MontyStore`` on
montydb's sqlite engine has no indexes, so every ``uuid`` or
``output.fingerprint`` lookup scans and decodes every document
(``docs/workflows.md`` has the measurements).

Layout: a table per collection with the document as JSON text (NaN and
infinities kept, as MongoDB would) and one column per *indexed* field,
filled from the document on every write and indexed by sqlite.

Query support, honestly:

* **Filters**: anything ``mongomock_ng``'s filter understands (the engine
  maggma's MemoryStore uses), evaluated in Python on candidate documents.
  Equality or ``$in`` on an indexed field (:data:`DEFAULT_INDEXED`, plus
  :meth:`SqliteStore.ensure_index`) first narrows the candidates through the
  sqlite index; every other filter scans the collection.
* **Sort**: by sqlite when every sort key is indexed (null < numbers <
  strings; non-scalar values first among the strings), else in Python with
  MongoDB's type order (null < numbers < strings < objects < arrays <
  booleans). Ties keep insertion order. Skip and limit are exact.
* **Projection**: inclusion of (dotted) fields only.
* **Not supported**: aggregation pipelines, text search, exclusion
  projections, unique indexes (``unique`` is ignored), update operators
  (updates replace whole documents matched on ``key``).

Writes are one sqlite transaction per :meth:`SqliteStore.update` call, in WAL
mode: a process killed at any point leaves every committed document intact.
Several processes may share the file (sqlite locks; a writer waits up to
``timeout`` seconds).

Examples
--------
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "db.sqlite"
>>> store = SqliteStore(str(path), "docs", key="uuid")
>>> store.connect()
>>> store.update([{"uuid": "a", "output": {"fingerprint": "f1", "status": "ok"}}])
>>> store.query_one({"output.fingerprint": "f1"}, properties=["uuid"])
{'uuid': 'a'}
>>> store.close()
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from itertools import groupby as _groupby
from pathlib import Path
from typing import Any

from maggma.core import Sort, Store, StoreError
from mongomock_ng.filtering import filter_applies
from monty.json import jsanitize
from pydash import get, has, set_

#: Fields indexed in every collection (jobflow's keys and the fingerprint cache's key).
DEFAULT_INDEXED: tuple[str, ...] = (
    "uuid",
    "blob_uuid",
    "output.fingerprint",
    "job_uuid",
    "index",
)

_FIELD = re.compile(
    r"^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*(\.[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*)*$"
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Column value of an indexed field that holds no indexable scalar (bool, list, object).
_OTHER = "\x00other"
_MISSING = object()


def _column(field: str) -> str:
    """Return the column of an indexed field (``a.b`` -> ``k__a__b``)."""
    if not _FIELD.match(field):
        raise ValueError(f"cannot index field {field!r}: use letters, digits, single _ and dots")
    return "k__" + field.replace(".", "__")


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _key_value(doc: dict[str, Any], field: str) -> Any:
    """Column value of ``field`` for ``doc``: the scalar, None when absent or null, else _OTHER."""
    value = get(doc, field, _MISSING)
    if value is _MISSING or value is None:
        return None
    return value if _scalar(value) else _OTHER


def _project(doc: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in fields:
        if has(doc, field):
            set_(out, field, get(doc, field))
    return out


def _type_rank(value: Any) -> tuple[int, Any]:
    """MongoDB's cross-type sort order, for sorting in Python."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (5, value)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    if isinstance(value, dict):
        return (3, json.dumps(value, sort_keys=True))
    return (4, json.dumps(value, sort_keys=True, default=str))


class SqliteStore(Store):
    """A maggma Store backed by one table of an sqlite file (see the module docstring).

    Parameters
    ----------
    path
        sqlite file; it and its folder are created on :meth:`connect`.
    collection_name
        Table name (letters, digits, underscore).
    indexed
        Dotted fields to index in addition to :data:`DEFAULT_INDEXED`.
    timeout
        Seconds a writer waits for another process's lock.
    **kwargs
        Passed to :class:`maggma.core.Store` (``key``, ``last_updated_field``...).
    """

    def __init__(
        self,
        path: str,
        collection_name: str,
        indexed: list[str] | None = None,
        timeout: float = 60.0,
        **kwargs: Any,
    ) -> None:
        if not _NAME.match(collection_name):
            raise ValueError(f"invalid collection name {collection_name!r}")
        self.path = str(path)
        self.collection_name = collection_name
        self.indexed = list(indexed or [])
        self.timeout = timeout
        self.kwargs = kwargs
        self._conn: sqlite3.Connection | None = None
        self._fields: list[str] = []
        super().__init__(**kwargs)

    # -- connection ---------------------------------------------------------------
    @property
    def name(self) -> str:
        """``sqlite://<path>/<collection>``."""
        return f"sqlite://{self.path}/{self.collection_name}"

    @property
    def _collection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("Must connect the SqliteStore before using it")
        return self._conn

    def connect(self, force_reset: bool = False) -> None:
        """Open (and create) the file and table; idempotent unless ``force_reset``."""
        if self._conn is not None and not force_reset:
            return
        self.close()
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {self.collection_name} "
            "(id INTEGER PRIMARY KEY AUTOINCREMENT, doc TEXT NOT NULL)"
        )
        self._conn = conn
        self._refresh_fields()
        for field in (*DEFAULT_INDEXED, *self.indexed):
            self.ensure_index(field)

    def _refresh_fields(self) -> None:
        """Read the indexed fields from the table (another process may have added one)."""
        info = self._collection.execute(f"PRAGMA table_info({self.collection_name})")
        columns = [row[1] for row in info]
        found = [c[3:].replace("__", ".") for c in columns if c.startswith("k__")]
        rank = {f: i for i, f in enumerate((*DEFAULT_INDEXED, *self.indexed))}
        self._fields = sorted(found, key=lambda f: rank.get(f, len(rank)))

    def close(self) -> None:
        """Close the connection (committed data is already on disk)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def ensure_index(self, key: str, unique: bool | None = False) -> bool:
        """Index a dotted field (filled for existing documents); ``unique`` is ignored."""
        if key in self._fields:
            return True
        col, table = _column(key), self.collection_name
        conn = self._collection
        conn.execute("BEGIN IMMEDIATE")
        try:
            existing = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            if col not in existing:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {col}")
                rows = conn.execute(f"SELECT id, doc FROM {table}").fetchall()
                conn.executemany(
                    f"UPDATE {table} SET {col} = ? WHERE id = ?",
                    [(_key_value(json.loads(text), key), rowid) for rowid, text in rows],
                )
            conn.execute(f"CREATE INDEX IF NOT EXISTS ix_{table}_{col} ON {table} ({col})")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._refresh_fields()
        return True

    # -- reading ------------------------------------------------------------------
    def _where(self, criteria: dict[str, Any] | None) -> tuple[str, list[Any]]:
        """Build SQL narrowing ``criteria`` to candidates through one index (a superset).

        One field is used: the first of :attr:`_fields` (most selective first:
        :data:`DEFAULT_INDEXED` order) that the criteria test for equality or
        ``$in`` of scalars; sqlite's planner, without statistics, could pick a
        poor index among several.
        """
        crit = criteria or {}
        for field in self._fields:
            value = crit.get(field, _MISSING)
            if _scalar(value):
                values = [value]
            elif isinstance(value, dict) and set(value) == {"$in"}:
                values = list(value["$in"])
                if not all(_scalar(v) for v in values):
                    continue
            else:
                continue
            marks = ", ".join("?" * (len(values) + 1))
            return f" WHERE {_column(field)} IN ({marks})", [*values, _OTHER]
        return "", []

    def _rows(
        self,
        criteria: dict[str, Any] | None,
        sort: dict[str, Sort | int] | None = None,
        skip: int = 0,
        limit: int = 0,
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        where, params = self._where(criteria)
        keys = [(k, -1 if Sort(v).value == -1 else 1) for k, v in (sort or {}).items()]
        in_sql = all(k in self._fields for k, _ in keys)
        order = [f"{_column(k)} {'DESC' if d == -1 else 'ASC'}" for k, d in keys] if in_sql else []
        sql = f"SELECT id, doc FROM {self.collection_name}{where} ORDER BY "
        sql += ", ".join([*order, "id ASC"])
        found = (
            (rowid, json.loads(text))
            for rowid, text in self._collection.execute(sql, params).fetchall()
        )
        matching: Iterator[tuple[int, dict[str, Any]]] = (
            item for item in found if not criteria or filter_applies(criteria, item[1])
        )
        if not in_sql:
            ordered = list(matching)
            for k, d in reversed(keys):
                ordered.sort(key=lambda item, k=k: _type_rank(get(item[1], k)), reverse=d == -1)  # type: ignore[misc]
            matching = iter(ordered)
        for n, item in enumerate(matching):
            if n < skip:
                continue
            if limit and n >= skip + limit:
                return
            yield item

    def query(
        self,
        criteria: dict[str, Any] | None = None,
        properties: dict[str, Any] | list[str] | None = None,
        sort: dict[str, Sort | int] | None = None,
        skip: int = 0,
        limit: int = 0,
    ) -> Iterator[dict[str, Any]]:
        """Yield documents matching ``criteria`` (see the module docstring for support)."""
        if isinstance(properties, dict) and not all(properties.values()):
            raise ValueError("SqliteStore supports inclusion projections only")
        fields = list(properties) if properties else None
        for _, doc in self._rows(criteria, sort, skip, limit):
            yield _project(doc, fields) if fields else doc

    def count(self, criteria: dict[str, Any] | None = None, hint: Any = None) -> int:
        """Count the documents matching ``criteria``."""
        if not criteria:
            sql = f"SELECT COUNT(*) FROM {self.collection_name}"
            return int(self._collection.execute(sql).fetchone()[0])
        return sum(1 for _ in self._rows(criteria))

    def groupby(
        self,
        keys: list[str] | str,
        criteria: dict[str, Any] | None = None,
        properties: dict[str, Any] | list[str] | None = None,
        sort: dict[str, Sort | int] | None = None,
        skip: int = 0,
        limit: int = 0,
    ) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """Group matching documents by the values of ``keys`` (in Python)."""
        keys = keys if isinstance(keys, list) else [keys]
        props = list(properties or [])
        docs = [
            d
            for d in self.query(criteria, keys + props if props else None, sort, skip, limit)
            if all(has(d, k) for k in keys)
        ]

        def grouping(doc: dict[str, Any]) -> tuple[Any, ...]:
            return tuple(_type_rank(get(doc, k)) for k in keys)

        for _, group in _groupby(sorted(docs, key=grouping), key=grouping):
            members = list(group)
            head: dict[str, Any] = {}
            for k in keys:
                set_(head, k, get(members[0], k))
            yield head, members

    # -- writing ------------------------------------------------------------------
    def update(
        self, docs: list[dict[str, Any]] | dict[str, Any], key: list[str] | str | None = None
    ) -> None:
        """Insert or replace documents, matched on ``key`` (default the store's key)."""
        docs = docs if isinstance(docs, list) else [docs]
        keys = key or self.key
        keys = keys if isinstance(keys, list) else [keys]
        conn = self._collection
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._refresh_fields()  # under the write lock: every index column gets filled
            cols = [_column(f) for f in self._fields]
            insert = (
                f"INSERT INTO {self.collection_name} (doc, {', '.join(cols)}) "
                f"VALUES ({', '.join('?' * (len(cols) + 1))})"
            )
            for raw in docs:
                doc = jsanitize(raw, strict=True, allow_bson=False, recursive_msonable=True)
                doc.pop("_id", None)
                self._delete({k: get(doc, k) for k in keys})
                values = [_key_value(doc, f) for f in self._fields]
                conn.execute(insert, [json.dumps(doc), *values])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _delete(self, criteria: dict[str, Any]) -> None:
        ids = [rowid for rowid, _ in self._rows(criteria)]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            self._collection.execute(
                f"DELETE FROM {self.collection_name} WHERE id IN ({marks})", chunk
            )

    def remove_docs(self, criteria: dict[str, Any]) -> None:
        """Delete the documents matching ``criteria``."""
        conn = self._collection
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._delete(criteria)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- identity -----------------------------------------------------------------
    def __hash__(self) -> int:
        return hash((self.path, self.collection_name))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SqliteStore):
            return False
        return (self.path, self.collection_name) == (other.path, other.collection_name)
