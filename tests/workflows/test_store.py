"""The embedded job store (SqliteStore) and make_store: queries, persistence, data store."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import pytest
from jobflow import JobStore, job, run_locally
from maggma.stores import MongoStore

from workflows.settings import ArscSettings, MongoStoreSettings
from workflows.sqlite_store import SqliteStore
from workflows.store import DATA_STORE, make_store


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(str(tmp_path / "db.sqlite"), "docs", key="uuid")
    s.connect()
    yield s
    s.close()


DOCS = [
    {"uuid": "a", "index": 1, "output": {"fingerprint": "f1", "status": "ok", "e": -1.0}},
    {"uuid": "b", "index": 1, "output": {"fingerprint": "f2", "status": "failed", "e": None}},
    {"uuid": "b", "index": 2, "output": {"fingerprint": "f2", "status": "ok", "e": -3.0}},
    {"uuid": "c", "index": 1, "output": {"fingerprint": "f3", "status": "ok", "e": -2.0}},
]


def _fill(store) -> None:
    store.update(DOCS, key=["uuid", "index"])


def test_indexed_equality_and_in_queries(store) -> None:
    _fill(store)
    assert [d["uuid"] for d in store.query({"output.fingerprint": "f2"})] == ["b", "b"]
    got = store.query({"uuid": {"$in": ["a", "c"]}}, properties=["uuid"])
    assert sorted(d["uuid"] for d in got) == ["a", "c"]
    assert store.count({"output.fingerprint": "f2", "output.status": "ok"}) == 1
    assert store.count() == 4


def test_operators_on_unindexed_fields_are_evaluated_like_mongodb(store) -> None:
    _fill(store)
    assert store.count({"output.e": {"$lt": -1.5}}) == 2
    assert store.count({"output.e": None}) == 1
    assert store.count({"$or": [{"uuid": "a"}, {"output.e": -2.0}]}) == 2
    assert store.count({"output.missing": {"$exists": True}}) == 0


def test_upsert_on_key_replaces_the_document(store) -> None:
    _fill(store)
    store.update({"uuid": "a", "index": 1, "output": {"fingerprint": "f9"}}, key=["uuid", "index"])
    assert store.count() == 4
    assert store.query_one({"uuid": "a"})["output"] == {"fingerprint": "f9"}


def test_sort_skip_limit_and_projection(store) -> None:
    _fill(store)
    rows = list(store.query({"uuid": "b"}, properties=["index"], sort={"index": -1}))
    assert rows == [{"index": 2}, {"index": 1}]
    by_energy = [d["uuid"] for d in store.query({"output.status": "ok"}, sort={"output.e": 1})]
    assert by_energy == ["b", "c", "a"]  # unindexed sort key, sorted in Python
    assert [d["uuid"] for d in store.query(sort={"uuid": 1}, skip=1, limit=2)] == ["b", "b"]
    assert store.query_one({"uuid": "c"}, properties=["output.fingerprint"]) == {
        "output": {"fingerprint": "f3"}
    }
    with pytest.raises(ValueError, match="inclusion"):
        list(store.query(properties={"uuid": 0}))


def test_distinct_groupby_and_remove(store) -> None:
    _fill(store)
    assert sorted(store.distinct("output.fingerprint")) == ["f1", "f2", "f3"]
    groups = {k["uuid"]: len(v) for k, v in store.groupby("uuid")}
    assert groups == {"a": 1, "b": 2, "c": 1}
    store.remove_docs({"output.status": "failed"})
    assert store.count() == 3


def test_nan_and_infinity_survive_a_round_trip(store) -> None:
    store.update({"uuid": "n", "output": {"x": float("nan"), "y": float("inf")}})
    out = store.query_one({"uuid": "n"})["output"]
    assert math.isnan(out["x"])
    assert out["y"] == float("inf")


def test_indexed_field_holding_a_list_still_matches_element_wise(store) -> None:
    store.ensure_index("tags")
    store.update([{"uuid": "x", "tags": ["a", "b"]}, {"uuid": "y", "tags": "a"}])
    assert sorted(d["uuid"] for d in store.query({"tags": "a"})) == ["x", "y"]


def test_ensure_index_on_existing_documents_backfills(store) -> None:
    _fill(store)
    store.ensure_index("output.status")
    assert store.count({"output.status": "failed"}) == 1
    store.close()
    store.connect()  # the column is found again on reconnect
    assert "output.status" in store._fields
    assert store.count({"output.status": "ok"}) == 3


def test_invalid_names_are_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="collection"):
        SqliteStore(str(tmp_path / "x.sqlite"), "bad name")
    s = SqliteStore(str(tmp_path / "x.sqlite"), "ok")
    s.connect()
    with pytest.raises(ValueError, match="cannot index"):
        s.ensure_index("a;drop")


def _python(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return out.stdout.strip()


def test_documents_persist_across_processes(tmp_path) -> None:
    path = tmp_path / "proj" / "store.sqlite"
    _python(
        f"""
        from workflows.sqlite_store import SqliteStore
        s = SqliteStore({str(path)!r}, "jobs", key="uuid")
        s.connect()
        s.update([{{"uuid": str(i), "output": {{"fingerprint": f"f{{i}}"}}}} for i in range(5)])
        """
    )
    got = _python(
        f"""
        from workflows.sqlite_store import SqliteStore
        s = SqliteStore({str(path)!r}, "jobs", key="uuid")
        s.connect()
        print(s.count(), s.query_one({{"output.fingerprint": "f3"}})["uuid"])
        """
    )
    assert got == "5 3"


@job(data="dos")
def _with_dos(n: int) -> dict:
    return {"fingerprint": f"fp{n}", "dos": list(range(n)), "energy": -float(n)}


def test_embedded_store_is_a_jobstore_under_the_project_with_a_data_store(tmp_path) -> None:
    settings = ArscSettings(project=tmp_path / "proj")
    store = make_store(settings)
    assert isinstance(store, JobStore)
    assert set(store.additional_stores) == {DATA_STORE}
    run_locally(_with_dos(4), store=store, log=False)
    assert (tmp_path / "proj" / "store.sqlite").is_file()
    doc = store.query_one({"output.fingerprint": "fp4"}, properties=["output"])
    assert "blob_uuid" in doc["output"]["dos"]  # the array lives in the data store
    full = store.query_one({"output.fingerprint": "fp4"}, properties=["output"], load=True)
    assert full["output"]["dos"] == [0, 1, 2, 3]
    assert store.additional_stores[DATA_STORE].count() == 1


def test_mongodb_settings_build_mongostores_without_connecting_mock_no_server() -> None:
    """No MongoDB server can run here: only the built (unconnected) stores are checked."""
    cfg = MongoStoreSettings(
        type="mongodb", host="db.example.org", port=27018, database="arsc", username="u"
    )
    cfg = cfg.model_copy(update={"password": cfg.password.__class__("pw")})
    store = make_store(ArscSettings(store=cfg))
    docs, data = store.docs_store, store.additional_stores[DATA_STORE]
    assert isinstance(docs, MongoStore)
    assert isinstance(data, MongoStore)
    assert (docs.host, docs.port, docs.database, docs.username, docs.password) == (
        "db.example.org",
        27018,
        "arsc",
        "u",
        "pw",
    )
    assert (docs.collection_name, data.collection_name) == ("arsc_jobs", "arsc_data")
    assert docs._coll is None  # never connected


def test_mongodb_uri_settings_mock_no_server() -> None:
    """No MongoDB server can run here: the URI is passed through, nothing connects."""
    uri = "mongodb://u:pw@db.example.org:27017/campaign"
    cfg = MongoStoreSettings(type="mongodb", uri=uri, database="campaign")
    store = make_store(ArscSettings(store=cfg))
    assert store.docs_store.uri == uri
    assert store.docs_store.database == "campaign"
    assert store.docs_store._coll is None
