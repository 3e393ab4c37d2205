"""The fingerprint cache on the embedded store: reuse, failed documents, data store, processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from jobflow import job, run_locally
from pymatgen.core import Lattice, Structure

from workflows.cache import (
    EXPOSE_STORE,
    cached_calc,
    find_calc,
    retry_failed_enabled,
    retrying_failed,
)
from workflows.schemas import CalcDoc, Convergence, ProjectedDos
from workflows.settings import ArscSettings
from workflows.store import make_store

STRUCTURE = Structure(Lattice.cubic(3.0), ["H"], [[0, 0, 0]])


def make_doc(fp: str, status: str = "ok", energy: float | None = -1.0, dos: bool = False):
    return CalcDoc(
        fingerprint=fp,
        engine="fake",
        task="static",
        status=status,
        error=None if status == "ok" else "boom",
        formula="H",
        natoms=1,
        energy=energy,
        structure=STRUCTURE.as_dict(),
        convergence=Convergence(converged=status == "ok"),
        settings={"x": 1},
        settings_hash="h",
        dos=ProjectedDos(energies=[0.0, 1.0], fermi=0.5, width=0.1, d={"M1": [[1.0, 2.0]]})
        if dos
        else None,
    )


@job(config=EXPOSE_STORE, data="dos")
def calc(fp: str, counter: str, status: str = "ok", energy: float = -1.0) -> CalcDoc:
    """A cached calculation that records each real computation in ``counter``."""

    def compute() -> CalcDoc:
        with open(counter, "a") as fh:
            fh.write(fp + "\n")
        return make_doc(fp, status, energy if status == "ok" else None, dos=True)

    return cached_calc(fp, compute)


@pytest.fixture
def store(tmp_path):
    s = make_store(ArscSettings(project=tmp_path / "proj"))
    s.connect()
    return s


def computed(counter: Path) -> list[str]:
    return counter.read_text().split() if counter.exists() else []


def test_calc_doc_accepts_stored_and_revived_outputs() -> None:
    stored = {"@module": "workflows.schemas", "@class": "CalcDoc", **make_doc("a").model_dump()}
    assert CalcDoc.from_output(stored).fingerprint == "a"
    revived = {**make_doc("b").model_dump(), "structure": STRUCTURE}  # as jobflow revives it
    assert CalcDoc.from_output(revived).structure["@class"] == "Structure"
    doc = make_doc("c")
    assert CalcDoc.from_output(doc) is doc


def test_second_run_reuses_the_document_with_its_data_store_fields(store, tmp_path) -> None:
    counter = tmp_path / "count"
    run_locally(calc("fp1", str(counter), energy=-2.5), store=store, log=False)
    run_locally(calc("fp1", str(counter), energy=-9.9), store=store, log=False)
    assert computed(counter) == ["fp1"]
    docs = list(store.query({"output.fingerprint": "fp1"}, properties=["output"], load=True))
    assert len(docs) == 2  # the re-run stored the cached copy under its own job
    assert {d["output"]["energy"] for d in docs} == {-2.5}
    raw = store.query_one({"output.fingerprint": "fp1"}, properties=["output"])
    assert "blob_uuid" in raw["output"]["dos"]  # the DOS lives in the data store...
    found = find_calc("fp1", store)
    assert found is not None
    assert found.dos is not None
    assert found.dos.d == {"M1": [[1.0, 2.0]]}  # ...and comes back whole


def test_failed_fingerprint_is_reported_not_recomputed(store, tmp_path) -> None:
    counter = tmp_path / "count"
    run_locally(calc("bad", str(counter), status="failed"), store=store, log=False)
    responses = run_locally(calc("bad", str(counter)), store=store, log=False)
    assert computed(counter) == ["bad"]
    (output,) = [r.output for by_index in responses.values() for r in by_index.values()]
    assert output.status == "failed"
    assert output.error == "boom"


def test_failed_fingerprint_is_recomputed_when_retrying(store, tmp_path) -> None:
    counter = tmp_path / "count"
    run_locally(calc("bad", str(counter), status="failed"), store=store, log=False)
    with retrying_failed():
        assert retry_failed_enabled()
        run_locally(calc("bad", str(counter), energy=-3.0), store=store, log=False)
    assert not retry_failed_enabled()
    assert computed(counter) == ["bad", "bad"]
    found = find_calc("bad", store)
    assert found is not None
    assert (found.status, found.energy) == ("ok", -3.0)
    run_locally(calc("bad", str(counter)), store=store, log=False)
    assert computed(counter) == ["bad", "bad"]  # the ok document now wins


def test_find_calc_prefers_ok_and_returns_failed_only_when_asked(store) -> None:
    store.update([{"uuid": "u1", "index": 1, "output": make_doc("f", "failed").model_dump()}])
    assert find_calc("f", store) is None
    failed = find_calc("f", store, include_failed=True)
    assert failed is not None
    assert failed.status == "failed"
    store.update([{"uuid": "u2", "index": 1, "output": make_doc("f").model_dump()}])
    ok = find_calc("f", store, include_failed=True)
    assert ok is not None
    assert ok.status == "ok"
    assert find_calc("f") is None  # outside a job there is no current store


def _run_in_subprocess(project: Path, counter: Path, energy: float) -> str:
    code = f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parents[2])!r})
        from jobflow import run_locally
        from tests.workflows.test_cache import calc
        from workflows.settings import ArscSettings
        from workflows.store import make_store
        store = make_store(ArscSettings(project={str(project)!r}))
        out = run_locally(calc("fpx", {str(counter)!r}, energy={energy}), store=store, log=False)
        print([r.output.energy for v in out.values() for r in v.values()][0])
    """
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    return proc.stdout.strip().splitlines()[-1]


def test_cache_holds_across_two_processes(tmp_path) -> None:
    project, counter = tmp_path / "proj", tmp_path / "count"
    assert _run_in_subprocess(project, counter, -4.0) == "-4.0"
    assert _run_in_subprocess(project, counter, -7.0) == "-4.0"  # not recomputed
    assert computed(counter) == ["fpx"]
