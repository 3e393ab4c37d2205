"""Structure files by suffix: ASE trajectories and databases keep what a user queries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase.db import connect
from ase.io import read

from arsc.errors import ArscInputError
from arsc.io import db_keys, read_structure, write_structure, write_structures
from arsc.space import Site
from arsc.structures import build, site_states

SITE = Site.from_id("Fe-Co_qv-n6_graphene")


def _states() -> list:
    return [build(SITE, ads, mode or "top1") for ads, mode in site_states(SITE, ["OH"])]


def test_site_states_bare_first_then_every_mode() -> None:
    """Bare site first, then each intermediate in every binding mode the site allows."""
    assert site_states(SITE, ["OH", "O"]) == [
        (None, None),
        ("OH", "top1"),
        ("OH", "top2"),
        ("OH", "bridge"),
        ("O", "top1"),
        ("O", "top2"),
        ("O", "bridge"),
    ]


def test_database_rows_carry_site_metals_motif_adsorbate_mode(tmp_path: Path) -> None:
    """An ASE database written by arsc answers `metal1=Fe,adsorbate=OH` queries."""
    frames = _states()
    out = tmp_path / "s.db"
    assert write_structures(frames, out) == 4
    with connect(out) as db:
        rows = list(db.select(metal1="Fe", adsorbate="OH"))
        assert sorted(r.mode for r in rows) == ["bridge", "top1", "top2"]
        bare = next(db.select(adsorbate="bare"))
        assert (bare.site, bare.metal2, bare.motif, bare.support) == (
            SITE.id,
            "Co",
            "qv-n6",
            "graphene",
        )
        assert np.allclose(bare.toatoms().positions, frames[0].positions)
    assert db_keys(frames[1]) == {
        "site": SITE.id,
        "metal1": "Fe",
        "metal2": "Co",
        "motif": "qv-n6",
        "support": "graphene",
        "adsorbate": "OH",
        "mode": "top1",
    }


def test_trajectory_keeps_every_frame_with_tags_and_moments(tmp_path: Path) -> None:
    """A .traj holds every structure with tags and initial magnetic moments."""
    frames = _states()
    out = tmp_path / "s.traj"
    write_structures(frames, out)
    back = read(out, index=":")
    assert len(back) == len(frames)
    for a, b in zip(frames, back, strict=True):
        assert (a.get_tags() == b.get_tags()).all()
        assert np.allclose(a.get_initial_magnetic_moments(), b.get_initial_magnetic_moments())
    write_structure(frames[1], tmp_path / "one.traj")
    assert np.allclose(read_structure(tmp_path / "one.traj").positions, frames[1].positions)


def test_many_structures_into_a_one_structure_format_is_refused(tmp_path: Path) -> None:
    """POSCAR and CIF hold one structure: several give a one-line error, nothing written."""
    with pytest.raises(ArscInputError, match="holds one structure"):
        write_structures(_states(), tmp_path / "s.cif")
    assert not list(tmp_path.iterdir())
