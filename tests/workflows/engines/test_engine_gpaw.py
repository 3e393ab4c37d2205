"""GPAW engine: presets and ladder data (unit), and real GPAW runs (marker ``gpaw``).

The ``gpaw`` tier runs real DFT, no mocks: the 48-atom Fe-Co qv-n6 site
(``min_image=9.5``, the smallest cell :func:`arsc.structures.build` makes:
its template starts at a 5 x 5 graphene repeat) bare and with *OH on top of
Fe, single points with the ``fast`` preset (LCAO szp(dzp), Gamma), plus
H2O and H2 in a box with the same preset as gas references. The cheap cases
(failure ladder, relaxation, plane waves) use an H2 molecule. Runtime: see
docs/engines.md (``pytest -m gpaw --durations=0``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from ase.build import molecule
from ase.io import read
from jobflow import Flow, JobStore, run_locally
from maggma.stores import MemoryStore

from arsc.errors import ArscInputError
from arsc.space import Site
from arsc.structures import build

pytest.importorskip("gpaw", reason="GPAW not installed: bash scripts/install.sh")

from workflows.engines.base import get_engine
from workflows.engines.gpaw import (
    SCF_AIDS,
    GpawParams,
    GpawRelaxMaker,
    GpawStaticMaker,
    gpaw_params,
    next_log,
    presets,
    recovery_ladder,
)

SITE = Site.from_id("Fe-Co_qv-n6_graphene")
gpaw = pytest.mark.gpaw


def _h2(stretch: float = 0.0):
    h2 = molecule("H2")
    h2.positions[1, 2] += stretch
    h2.center(vacuum=3.0)
    h2.pbc = True
    return h2


# -- presets and ladder as data (no DFT) -----------------------------------------------


def test_presets_fast_standard_accurate_each_with_a_reason() -> None:
    table = presets()
    assert list(table) == ["fast", "standard", "accurate"]
    for name, entry in table.items():
        assert entry["reason"].strip(), name
        assert isinstance(gpaw_params(name), GpawParams)
    assert gpaw_params("fast").mode == "lcao"
    assert gpaw_params("fast").kpts == (1, 1, 1)
    assert gpaw_params("accurate").mode == "pw"


def test_plane_wave_override_changes_the_settings_that_count() -> None:
    lcao = GpawStaticMaker(preset="fast").settings()
    pw = GpawStaticMaker(preset="fast", overrides={"mode": "pw", "ecut": 400}).settings()
    assert "basis" in lcao and "ecut" not in lcao
    assert pw["ecut"] == 400 and "basis" not in pw and "h" not in pw
    assert not set(SCF_AIDS) & set(lcao)


def test_unknown_preset_error_lists_the_presets() -> None:
    with pytest.raises(ArscInputError, match="unknown gpaw preset 'fastest'; allowed: fast, "):
        gpaw_params("fastest")


def test_unknown_override_key_error_names_key_and_allowed_keys() -> None:
    with pytest.raises(ArscInputError, match=r"invalid GPAW setting encut=.*allowed keys: mode"):
        gpaw_params("fast", {"encut": 400})


def test_plane_waves_without_cutoff_are_rejected() -> None:
    with pytest.raises(ArscInputError, match="mode 'pw' needs ecut"):
        gpaw_params("fast", {"mode": "pw"})


def test_recovery_ladder_is_data_in_the_documented_order() -> None:
    ladder = recovery_ladder()
    assert [s.label for s in ladder["scf"]] == ["mixing 0.02", "smearing 0.2"]
    assert [s.label for s in ladder["optimizer"]] == ["maxstep 0.1", "optimizer FIRE"]
    assert ladder["scf"][0].changes == {"beta": 0.02}
    assert all(s.reason for steps in ladder.values() for s in steps)


def test_registry_gives_gpaw_makers_for_each_preset() -> None:
    engine = get_engine("gpaw")
    assert engine.presets == ("fast", "standard", "accurate")
    relax = engine.relax("standard")
    assert isinstance(relax, GpawRelaxMaker)
    assert (relax.preset, relax.fmax, relax.optimizer, relax.threads) == (
        "standard",
        0.05,
        "PreconLBFGS",
        1,
    )
    assert isinstance(engine.static(None), GpawStaticMaker)


# -- real GPAW on H2 (seconds) ---------------------------------------------------------


@gpaw
def test_scf_failure_climbs_mixing_then_smearing_then_records_failed(tmp_path) -> None:
    """Real GPAW with maxiter=3: the SCF cannot converge, whatever the ladder does."""
    doc = GpawStaticMaker(overrides={"maxiter": 3}, scratch_dir=str(tmp_path)).run(_h2())
    assert doc.status == "failed"
    assert doc.convergence.retries == ["mixing 0.02", "smearing 0.2"]
    assert doc.error == "SCF not converged within maxiter; tried mixing 0.02, smearing 0.2"
    assert doc.energy is None
    assert doc.settings["width"] == 0.2  # the settings of the last attempt
    assert len(list(tmp_path.glob("gpaw-static-*/gpaw*.txt"))) == 3


@gpaw
def test_scf_ladder_step_that_fixes_the_run_is_recorded(tmp_path) -> None:
    """Real GPAW: maxiter=3 fails; a custom ladder step raising maxiter makes it converge."""
    ladder = {"scf": [{"label": "maxiter 100", "set": {"maxiter": 100}}]}
    maker = GpawStaticMaker(overrides={"maxiter": 3}, recovery=ladder, scratch_dir=str(tmp_path))
    doc = maker.run(_h2())
    assert doc.status == "ok"
    assert doc.convergence.converged
    assert doc.convergence.retries == ["maxiter 100"]
    assert doc.energy is not None and doc.energy < 0


@gpaw
def test_relax_of_stretched_h2_converges_to_the_pbe_bond_length(tmp_path) -> None:
    """dzp basis: the H-H bond relaxes from 0.89 A to within 0.04 A of the PBE value, 0.75 A."""
    maker = GpawRelaxMaker(fmax=0.05, overrides={"basis": "dzp"}, scratch_dir=str(tmp_path))
    doc = maker.run(_h2(stretch=0.15))
    assert doc.status == "ok"
    assert doc.convergence.converged
    assert 0 < doc.convergence.ionic_steps < 20
    assert doc.convergence.fmax <= 0.05
    final = doc.final_atoms()
    assert final.get_distance(0, 1) == pytest.approx(0.75, abs=0.04)
    assert (tmp_path / f"gpaw-relax-{doc.fingerprint[:12]}" / "relax.traj").exists()


@gpaw
def test_resumed_relax_keeps_the_gpaw_log_of_the_stopped_run(tmp_path) -> None:
    """Real GPAW: a relaxation stopped after one step, run again, continues in a new log.

    The first run's ``gpaw.txt`` is kept as it was (the stopped run's SCF
    record); the resumed run writes ``gpaw-1.txt`` and counts both runs' steps.
    """
    no_opt_ladder = {"scf": [], "optimizer": []}
    maker = GpawRelaxMaker(
        fmax=0.01,
        steps=1,
        overrides={"basis": "dzp"},
        recovery=no_opt_ladder,
        scratch_dir=str(tmp_path),
    )
    first = maker.run(_h2(stretch=0.15))
    assert first.status == "failed" and first.convergence.ionic_steps == 1
    folder = tmp_path / f"gpaw-relax-{first.fingerprint[:12]}"
    log = (folder / "gpaw.txt").read_text()
    assert log.count("Forces  # eV/Ang") >= 1

    second = maker.run(_h2(stretch=0.15))
    assert second.fingerprint == first.fingerprint
    assert second.convergence.ionic_steps == 2
    assert (folder / "gpaw.txt").read_text() == log
    assert (folder / "gpaw-1.txt").read_text().count("Forces  # eV/Ang") >= 1


def test_next_log_never_reuses_a_written_log(tmp_path) -> None:
    assert next_log(tmp_path) == str(tmp_path / "gpaw.txt")
    (tmp_path / "gpaw.txt").write_text("run 1")
    assert next_log(tmp_path) == str(tmp_path / "gpaw-1.txt")
    (tmp_path / "gpaw-1.txt").write_text("run 2")
    assert next_log(tmp_path) == str(tmp_path / "gpaw-2.txt")
    (tmp_path / "gpaw.txt").unlink()  # a user removed the first log: the others stay untouched
    assert next_log(tmp_path) == str(tmp_path / "gpaw.txt")


@gpaw
def test_plane_wave_mode_runs_and_records_the_cutoff(tmp_path) -> None:
    maker = GpawStaticMaker(overrides={"mode": "pw", "ecut": 300}, scratch_dir=str(tmp_path))
    doc = maker.run(_h2())
    assert doc.status == "ok"
    assert doc.settings["mode"] == "pw" and doc.settings["ecut"] == 300
    assert doc.energy < 0


# -- the DAC tier: 48-atom Fe-Co site, bare and *OH, fast preset -----------------------


@pytest.fixture(scope="module")
def dac(tmp_path_factory):
    scratch = str(tmp_path_factory.mktemp("gpaw"))
    site_maker = GpawStaticMaker(preset="fast", scratch_dir=scratch)
    gas_maker = GpawStaticMaker(preset="fast", scratch_dir=scratch, write_dos=False)
    gas = {}
    for name in ("H2O", "H2"):
        mol = molecule(name)
        mol.center(vacuum=5.0)
        mol.pbc = True
        gas[name] = gas_maker.make(mol)
    bare = site_maker.make(build(SITE, min_image=9.5))
    oh = site_maker.make(build(SITE, "OH", "top1", min_image=9.5))
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    start = time.perf_counter()
    out = run_locally(Flow([bare, oh, *gas.values()]), store=store, ensure_success=True)
    runtime = time.perf_counter() - start
    print(f"\nGPAW DAC tier: 4 single points (fast preset) in {runtime:.0f} s")
    docs = {k: out[j.uuid][1].output for k, j in {"bare": bare, "OH": oh, **gas}.items()}
    return {"docs": docs, "store": store, "runtime": runtime, "scratch": Path(scratch)}


@gpaw
def test_bare_and_oh_single_points_converge(dac) -> None:
    for name in ("bare", "OH", "H2O", "H2"):
        doc = dac["docs"][name]
        assert doc.status == "ok", name
        assert doc.convergence.converged, name
        assert doc.convergence.scf_iterations > 0, name
        assert np.isfinite(doc.energy), name
    assert dac["docs"]["bare"].natoms == 48
    assert dac["docs"]["OH"].adsorbate == "OH"


@gpaw
def test_single_points_leave_their_frame_for_fine_tuning(dac) -> None:
    """static.traj holds the structure, energy and forces the CalcDoc reports."""
    for name in ("bare", "H2O"):
        doc = dac["docs"][name]
        frame = read(dac["scratch"] / f"gpaw-static-{doc.fingerprint[:12]}" / "static.traj")
        assert len(frame) == doc.natoms, name
        assert frame.get_potential_energy() == pytest.approx(doc.energy, abs=1e-6), name
        fmax = float(np.linalg.norm(frame.get_forces(), axis=1).max())
        assert fmax == pytest.approx(doc.convergence.fmax, abs=1e-6), name


@gpaw
def test_oh_adsorption_energy_is_in_a_physical_range(dac) -> None:
    """dE(*OH) = E(*OH) - E(*) - (E(H2O) - E(H2)/2), gas references with the same preset."""
    e = {k: d.energy for k, d in dac["docs"].items()}
    de_oh = e["OH"] - e["bare"] - (e["H2O"] - 0.5 * e["H2"])
    print(f"\ndE(*OH) on Fe of Fe-Co qv-n6, fast preset: {de_oh:.2f} eV")
    assert -3.0 < de_oh < 2.0


@gpaw
def test_metal_d_band_centres_lie_below_the_fermi_level(dac) -> None:
    for state in ("bare", "OH"):
        dband = dac["docs"][state].dband
        assert set(dband) == {"M1", "M2"}
        for label, analysis in dband.items():
            assert analysis.full.centre < 0, (state, label)
            assert analysis.occupied.centre < analysis.full.centre, (state, label)
            assert len(analysis.spin) == 2, (state, label)


@gpaw
def test_site_is_spin_polarised_from_the_initial_moments(dac) -> None:
    bare = dac["docs"]["bare"]
    assert len(bare.magmoms) == 48
    assert abs(bare.total_magmom) > 0.5


@gpaw
def test_d_dos_arrays_go_to_the_data_store(dac) -> None:
    store = dac["store"]
    raw = store.docs_store.query_one({"output.adsorbate": "OH"})
    assert raw["output"]["dos"]["store"] == "data"  # a reference, not the arrays
    assert store.additional_stores["data"].count() == 2  # bare and *OH; gas has no dos
    loaded = store.query_one({"output.adsorbate": "OH"}, load=True)["output"]["dos"]
    assert np.array(loaded["d"]["M1"]).shape == (2, len(loaded["energies"]))
