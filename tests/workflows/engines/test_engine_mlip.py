"""MLIP engine: CHGNet (and SevenNet if installed) through ASE, real models, no mocks.

The only fake is the missing-package case, where the import of chgnet is
made to fail with a monkeypatched ``sys.modules`` entry (named as such).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore

from arsc.errors import ArscInputError
from arsc.space import Site
from arsc.structures import build
from workflows.engines import base
from workflows.engines.base import get_engine
from workflows.schemas import CalcDoc

SITE = Site.from_id("Fe-Co_qv-n6_graphene")


def test_missing_chgnet_gives_one_line_error_naming_the_extra_monkeypatched_import(
    monkeypatch,
) -> None:
    """Simulates an install without the extra: ``sys.modules['chgnet'] = None``."""
    monkeypatch.setitem(sys.modules, "chgnet", None)
    monkeypatch.delitem(sys.modules, "workflows.engines.mlip", raising=False)
    monkeypatch.delitem(base._REGISTRY, "mlip", raising=False)
    with pytest.raises(ArscInputError) as err:
        get_engine("mlip")
    msg = str(err.value)
    assert "\n" not in msg
    assert "chgnet" in msg
    assert "arsc-dac[mlip]" in msg


pytest.importorskip("chgnet", reason="MLIP extra not installed: pip install 'arsc-dac[mlip]'")

from workflows.engines.mlip import (  # noqa: E402
    MlipRelaxMaker,
    MlipStaticMaker,
    load_calculator,
    torch_threads,
)


@pytest.fixture(scope="module")
def bare():
    return build(SITE, min_image=9.5)


@pytest.fixture(scope="module")
def relaxed(bare, tmp_path_factory) -> CalcDoc:
    maker = MlipRelaxMaker(fmax=0.1, scratch_dir=str(tmp_path_factory.mktemp("mlip")))
    return maker.run(bare)


def test_registry_gives_chgnet_makers_with_data_file_defaults() -> None:
    engine = get_engine("mlip")
    assert engine.presets[0] == "chgnet"
    relax = engine.relax(None)
    assert isinstance(relax, MlipRelaxMaker)
    assert (relax.model, relax.fmax, relax.optimizer, relax.threads) == ("chgnet", 0.05, "FIRE", 1)
    assert isinstance(engine.static("sevenn"), MlipStaticMaker)


def test_relax_of_bare_site_converges_lowers_energy_and_keeps_labels(bare, relaxed) -> None:
    static = MlipStaticMaker().run(bare)
    assert relaxed.status == "ok"
    assert relaxed.convergence.converged
    assert relaxed.convergence.fmax <= 0.1
    assert relaxed.convergence.ionic_steps > 0
    assert relaxed.energy < static.energy
    assert relaxed.anomalies == []
    final = relaxed.final_atoms()
    assert final.info["site_id"] == SITE.id
    assert list(final.get_tags()) == list(bare.get_tags())
    assert relaxed.settings["model"] == "chgnet"
    assert "weights 0.3.0" in relaxed.settings["version"]


def test_static_of_relaxed_doc_reports_small_forces(relaxed) -> None:
    doc = MlipStaticMaker().run(relaxed)
    assert doc.task == "static"
    assert doc.convergence.fmax <= 0.1
    assert doc.energy == pytest.approx(relaxed.energy, abs=1e-3)


def test_job_output_is_a_calcdoc_when_run_with_jobflow(bare) -> None:
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    job = MlipStaticMaker().make(bare)
    responses = run_locally(job, store=store, ensure_success=True)
    out = responses[job.uuid][1].output
    assert isinstance(out, CalcDoc)
    assert (out.engine, out.task, out.status, out.natoms) == ("mlip", "static", "ok", 48)


def test_second_run_in_the_same_store_returns_the_stored_document(bare) -> None:
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    first, second = MlipStaticMaker().make(bare), MlipStaticMaker().make(bare)
    out1 = run_locally(first, store=store, ensure_success=True)[first.uuid][1].output
    out2 = run_locally(second, store=store, ensure_success=True)[second.uuid][1].output
    assert out2.fingerprint == out1.fingerprint
    assert out2.wall_time == out1.wall_time  # the stored document, not a new calculation


@pytest.fixture(scope="module")
def failed_relax(bare, tmp_path_factory):
    """A relaxation that cannot converge: 2 steps per attempt towards fmax 0.001 eV/A."""
    scratch = tmp_path_factory.mktemp("mlip-failed")
    maker = MlipRelaxMaker(steps=2, fmax=0.001, scratch_dir=str(scratch))
    return maker, maker.run(bare), scratch


def test_too_few_steps_climb_the_optimizer_ladder_then_fail(failed_relax) -> None:
    _, doc, _ = failed_relax
    assert doc.status == "failed"
    assert doc.convergence.retries == ["maxstep 0.1", "optimizer FIRE"]
    assert doc.convergence.ionic_steps == 6
    assert doc.error is not None and "\n" not in doc.error
    assert doc.error.startswith("relaxation not converged")
    assert doc.settings["maxstep"] == 0.1  # the settings of the last attempt
    assert doc.settings["optimizer"] == "FIRE"


def _logged_energies(log: Path) -> list[tuple[int, float]]:
    """(step, energy) of every line of an ASE optimiser log."""
    rows = [line.split() for line in log.read_text().splitlines()]
    return [(int(r[1]), float(r[3])) for r in rows if len(r) == 5 and r[1].isdigit()]


def test_rerun_resumes_from_the_last_trajectory_frame(bare, failed_relax) -> None:
    maker, _, scratch = failed_relax
    (log,) = scratch.glob("mlip-relax-*/opt.log")
    first_run = _logged_energies(log)
    assert len(first_run) == 9  # three attempts of steps 0..2
    maker.run(bare)  # same fingerprint, same folder: starts from the last frame
    second_run = _logged_energies(log)[len(first_run) :]
    assert second_run[0][0] == 0
    assert second_run[0][1] == pytest.approx(first_run[-1][1], abs=1e-4)
    assert second_run[0][1] < first_run[0][1] - 0.1


def test_unknown_model_error_lists_the_allowed_models(bare) -> None:
    with pytest.raises(ArscInputError, match="unknown MLIP model 'mace'; allowed: chgnet, sevenn"):
        MlipStaticMaker(model="mace").run(bare)


def test_torch_threads_apply_inside_the_block_and_restore_after() -> None:
    import torch

    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


@pytest.mark.slow
def test_sevenn_static_gives_a_finite_energy(bare) -> None:
    """Slow: SevenNet compiles its model on first use (about 20 s here)."""
    pytest.importorskip("sevenn", reason="sevenn not installed")
    doc = MlipStaticMaker(model="sevenn").run(bare)
    assert doc.status == "ok"
    assert np.isfinite(doc.energy)
    assert doc.settings["version"].startswith("sevenn")
    assert load_calculator("sevenn") is load_calculator("sevenn")


def test_adsorbate_only_relaxation_moves_the_adsorbate_and_nothing_else(tmp_path) -> None:
    from arsc.structures import TAG_ADSORBATE, build_adsorbed

    start = build_adsorbed(SITE, "OH", "top1", min_image=9.5)
    start.positions[start.get_tags() == TAG_ADSORBATE] += [0.0, 0.0, 0.3]  # O-M stretched
    maker = MlipRelaxMaker(fmax=0.05, adsorbate_only=True, scratch_dir=str(tmp_path))
    doc = maker.run(start)
    assert doc.status == "ok" and doc.convergence.converged
    assert doc.settings["adsorbate_only"] is True
    assert "adsorbate_only" not in MlipRelaxMaker().settings()  # keys of full relaxations unchanged
    final = doc.structure["sites"]
    moved = np.linalg.norm(np.array([s["xyz"] for s in final]) - start.positions, axis=1)
    ads = start.get_tags() == TAG_ADSORBATE
    assert np.all(moved[~ads] < 1e-8)
    assert moved[ads].max() > 0.05


def test_preconditioned_lbfgs_relaxes_the_site_and_is_recorded(bare, relaxed, tmp_path) -> None:
    """PreconLBFGS (Exp preconditioner) reaches the same minimum as FIRE, in fewer steps."""
    maker = MlipRelaxMaker(fmax=0.1, optimizer="PreconLBFGS", scratch_dir=str(tmp_path))
    doc = maker.run(bare)
    assert doc.status == "ok" and doc.convergence.converged and doc.convergence.fmax <= 0.1
    assert doc.settings["optimizer"] == "PreconLBFGS"
    assert doc.convergence.ionic_steps < relaxed.convergence.ionic_steps
    assert abs(doc.energy - relaxed.energy) < 0.05  # eV, the same minimum
    assert doc.anomalies == []
