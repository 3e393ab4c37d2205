"""One process at a time in a calculation's folder (workflows.engines.claim).

Real ``flock`` locks throughout. Two threads stand in for two processes:
Linux ``flock`` locks belong to the open file, and each ``claim`` opens the
lock file anew, so two claims in one process exclude each other exactly as
two processes do.
"""

from __future__ import annotations

import errno
import threading
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from ase.build import molecule

from workflows.engines import claim as claim_module
from workflows.engines.ase_maker import AseCalcMaker, build_calc_doc
from workflows.engines.claim import claim
from workflows.schemas import CalcDoc, Convergence


def test_a_second_claim_waits_until_the_first_is_released(tmp_path) -> None:
    events: list[str] = []
    entered = threading.Event()

    def second() -> None:
        with claim(tmp_path) as waited:
            events.append(f"second in, waited={waited}")
        entered.set()

    with claim(tmp_path) as waited:
        assert waited is False
        thread = threading.Thread(target=second)
        thread.start()
        assert not entered.wait(0.5)  # blocked while the first holds the folder
        events.append("first out")
    thread.join(10)
    assert events == ["first out", "second in, waited=True"]


def test_a_file_system_without_flock_is_used_without_the_lock(
    tmp_path, monkeypatch, caplog
) -> None:
    def no_flock(*_: Any) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(claim_module.fcntl, "flock", no_flock)
    with claim(tmp_path) as waited:
        assert waited is False
    assert "cannot lock" in caplog.text


@dataclass
class _SlowMaker(AseCalcMaker):
    """A Maker with a calculation folder whose compute takes 0.3 s and records when it ran."""

    engine: ClassVar[str] = "test"
    task: ClassVar[str] = "static"
    name: str = "slow"
    scratch_dir: str | None = None
    spans: ClassVar[list[tuple[float, float]]] = []

    def settings(self) -> dict[str, Any]:
        return {"what": "slow"}

    def compute(self, atoms: Any, fingerprint: str) -> CalcDoc:
        start = time.monotonic()
        time.sleep(0.3)
        self.spans.append((start, time.monotonic()))
        conv = Convergence(converged=True, ionic_steps=0, fmax=0.0)
        return build_calc_doc(
            fingerprint=fingerprint,
            engine=self.engine,
            task=self.task,
            atoms=atoms,
            settings=self.settings(),
            convergence=conv,
            energy=0.0,
        )


def test_two_runs_of_one_calculation_never_compute_in_its_folder_at_once(tmp_path) -> None:
    maker = _SlowMaker(scratch_dir=str(tmp_path))
    docs: list[CalcDoc] = []
    threads = [
        threading.Thread(target=lambda: docs.append(maker.run(molecule("H2O", vacuum=4.0))))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(docs) == 2 and docs[0].fingerprint == docs[1].fingerprint
    (_, first_end), (second_start, _) = sorted(_SlowMaker.spans)
    assert second_start >= first_end  # one after the other (outside jobflow: no store to look in)
    fingerprint = maker.fingerprint(molecule("H2O", vacuum=4.0))
    assert [p.name for p in tmp_path.iterdir()] == [f"test-static-{fingerprint[:12]}"]


def test_after_waiting_the_other_processs_document_is_taken_from_the_store(
    monkeypatch, tmp_path
) -> None:
    """The waiter polls the job store: the document lands moments after the folder is released."""
    from workflows import cache

    doc = _SlowMaker(scratch_dir=str(tmp_path)).run(molecule("H2O", vacuum=4.0))
    answers = iter([None, None, doc])
    monkeypatch.setattr(cache, "_current_store", lambda: object())
    monkeypatch.setattr(cache, "find_calc", lambda *a, **k: next(answers))
    assert cache.wait_for_calc(doc.fingerprint, seconds=5, interval=0.01) is doc
    nothing = iter([None] * 1000)
    monkeypatch.setattr(cache, "find_calc", lambda *a, **k: next(nothing))
    assert cache.wait_for_calc(doc.fingerprint, seconds=0.05, interval=0.01) is None  # it died
