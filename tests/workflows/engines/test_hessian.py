"""Starting Hessian for BFGS: regularisation, finite differences and its use in a relaxation.

Real calculators only: ASE's EMT stands in for DFT where the point is the
optimiser (a relaxation of a Cu cluster), CHGNet where the MLIP Hessian itself
is tested. No mocks.
"""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.cluster import Icosahedron

from arsc.errors import ArscInputError
from workflows.engines.hessian import (
    MIN_CURVATURE,
    finite_difference_hessian,
    quadratic_relaxation_energy,
    regularise,
)
from workflows.engines.relax import relax_with_ladder


def test_regularise_keeps_positive_modes_and_lifts_zero_and_negative_ones() -> None:
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    hessian = (q * np.array([-3.0, 0.0, 0.2, 12.0])) @ q.T
    out = regularise(hessian, min_curvature=1.0)
    assert np.allclose(out, out.T)
    assert np.allclose(np.sort(np.linalg.eigvalsh(out)), [1.0, 1.0, 3.0, 12.0])


def test_finite_difference_hessian_of_bulk_copper_is_symmetric_with_three_translations(
    tmp_path,
) -> None:
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    hessian = finite_difference_hessian(atoms, EMT(), tmp_path)
    assert hessian.shape == (12, 12)
    assert np.allclose(hessian, hessian.T, atol=1e-3)
    omega = np.sort(np.linalg.eigvalsh(hessian))
    assert np.allclose(omega[:3], 0.0, atol=1e-2)  # rigid translations of the periodic cell
    assert omega[3] > 1.0  # every other mode is stiff (eV/A^2)
    assert np.linalg.eigvalsh(regularise(hessian)).min() >= MIN_CURVATURE - 1e-9


def _rattled_cluster():
    atoms = Icosahedron("Cu", 2)
    atoms.center(vacuum=5.0)
    atoms.rattle(0.08, seed=3)
    return atoms


def _relax(tmp_path, name: str, hessian: np.ndarray | None):
    atoms = _rattled_cluster()
    folder = tmp_path / name
    folder.mkdir()
    result = relax_with_ladder(
        atoms,
        params={"optimizer": "BFGS", "maxstep": 0.2},
        ladder={},
        attach=lambda target, p: setattr(target, "calc", EMT()),
        fmax=0.01,
        steps=200,
        folder=folder,
        initial_hessian=hessian,
    )
    return atoms, result


def test_bfgs_seeded_with_the_hessian_reaches_the_same_minimum_in_fewer_steps(tmp_path) -> None:
    hessian = regularise(finite_difference_hessian(_rattled_cluster(), EMT(), tmp_path / "vib"))
    plain_atoms, plain = _relax(tmp_path, "plain", None)
    seeded_atoms, seeded = _relax(tmp_path, "seeded", hessian)
    assert plain.convergence.converged and seeded.convergence.converged
    assert seeded.convergence.ionic_steps < plain.convergence.ionic_steps
    e_plain = plain_atoms.get_potential_energy()
    e_seeded = seeded_atoms.get_potential_energy()
    assert e_seeded == pytest.approx(e_plain, abs=1e-3)


def test_gpaw_relax_settings_name_the_hessian_only_when_set() -> None:
    pytest.importorskip("gpaw", reason="GPAW not installed: bash scripts/install.sh")
    from workflows.engines.gpaw import GpawRelaxMaker

    assert "hessian" not in GpawRelaxMaker().settings()
    seeded = GpawRelaxMaker(hessian="chgnet", optimizer="BFGS").settings()
    assert seeded["hessian"] == "chgnet"


def test_gpaw_relax_refuses_a_hessian_seed_for_an_optimiser_without_one() -> None:
    """A Hessian seed with PreconLBFGS or FIRE would be ignored: refused in one line instead."""
    pytest.importorskip("gpaw", reason="GPAW not installed: bash scripts/install.sh")
    from workflows.engines.gpaw import GpawRelaxMaker

    with pytest.raises(ArscInputError, match="seeds BFGS only, but optimizer is 'FIRE'"):
        GpawRelaxMaker(hessian="chgnet", optimizer="FIRE")


def test_flow_seeds_the_dft_relax_with_the_prerelax_mlip_hessian_when_asked() -> None:
    pytest.importorskip("gpaw", reason="GPAW not installed: bash scripts/install.sh")
    pytest.importorskip("chgnet", reason="MLIP extra not installed: pip install 'arsc-dac[mlip]'")
    from workflows.flows import DacAdsorptionFlow

    pre, relax, _ = DacAdsorptionFlow(engine="gpaw", prerelax_hessian=True).makers()
    assert pre is not None and relax.hessian == pre.model == "chgnet"  # type: ignore[attr-defined]
    assert relax.optimizer == "BFGS"  # type: ignore[attr-defined]
    _, plain, _ = DacAdsorptionFlow(engine="gpaw").makers()  # off by default
    assert plain.hessian is None  # type: ignore[attr-defined]
    _, alone, _ = DacAdsorptionFlow(engine="gpaw", prerelax=False, prerelax_hessian=True).makers()
    assert alone.hessian is None  # type: ignore[attr-defined]


def test_mlip_hessian_of_the_dac_site_is_positive_definite(tmp_path) -> None:
    pytest.importorskip("chgnet", reason="MLIP extra not installed: pip install 'arsc-dac[mlip]'")
    from arsc.space import Site
    from arsc.structures import build
    from workflows.engines.hessian import mlip_hessian

    atoms = build(Site.from_id("Fe-Co_qv-n6_graphene"), min_image=9.5)
    before = atoms.get_positions()
    hessian = mlip_hessian(atoms, "chgnet", tmp_path)
    assert hessian.shape == (3 * len(atoms), 3 * len(atoms))
    assert np.linalg.eigvalsh(hessian).min() >= MIN_CURVATURE - 1e-9
    assert np.array_equal(atoms.get_positions(), before)
    # the cache makes a second call read the displaced forces instead of recomputing them
    assert len(list(tmp_path.glob("vib/*"))) == 6 * len(atoms) + 1


def test_quadratic_relaxation_energy_is_exact_on_a_quadratic_surface() -> None:
    """E(x) = 1/2 (x - x*)^T H (x - x*): the Newton estimate equals E(x) - E(x*) exactly."""
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    hessian = (q * np.array([0.5, 1.0, 2.0, 4.0, 8.0, 16.0])) @ q.T
    dx = rng.normal(scale=0.1, size=6)
    forces = -(hessian @ dx).reshape(2, 3)
    assert quadratic_relaxation_energy(forces, hessian) == pytest.approx(-0.5 * dx @ hessian @ dx)
    # a fixed atom drops out: the estimate is that of the free atom's block alone
    block = hessian[3:, 3:]
    f_free = forces[1]
    expected = -0.5 * f_free @ np.linalg.solve(block, f_free)
    got = quadratic_relaxation_energy(forces, hessian, free=np.array([False, True]))
    assert got == pytest.approx(expected)
