"""``arsc build``: one structure, or every state of a site table into one ASE database."""

from __future__ import annotations

from pathlib import Path

import pytest
from ase.db import connect

from workflows.cli.main import main


def test_build_space_writes_every_state_of_every_site_to_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`arsc space -o` then `arsc build --space` gives one row per state with query keys."""
    monkeypatch.chdir(tmp_path)
    assert main(["space", "-m", "Fe,Co", "--motifs", "qv-n6", "-o", "s.csv"]) == 0
    assert main(["build", "--space", "s.csv", "-i", "OH", "-o", "s.db"]) == 0
    # Fe-Fe and Co-Co: bare + OH top1, bridge; Fe-Co: bare + OH top1, top2, bridge
    with connect(tmp_path / "s.db") as db:
        assert db.count() == 3 + 3 + 4
        assert db.count(metal1="Fe", adsorbate="OH") == 2 + 3
    assert "3 sites, 10 structures (OH) -> s.db" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["build", "--space", "s.csv", "-o", "x.cif"], "holds one structure"),
        (["build", "--space", "s.csv"], "needs -o"),
        (["build", "Fe-Co_qv-n6_graphene", "--space", "s.csv", "-o", "x.db"], "not both"),
        (["build", "--space", "missing.csv", "-o", "x.db"], "does not exist"),
        (["build", "--space", "s.csv", "-o", "s.csv"], "input"),
        (["build"], "give a SITE_ID"),
    ],
)
def test_build_space_bad_input_is_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    """Each misuse of --space is refused in one line with exit 2; the table is untouched."""
    monkeypatch.chdir(tmp_path)
    assert main(["space", "-m", "Fe", "--motifs", "qv-n6", "-o", "s.csv"]) == 0
    before = (tmp_path / "s.csv").read_bytes()
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("arsc: error: ") and message in err[0], err
    assert (tmp_path / "s.csv").read_bytes() == before
    assert not list(tmp_path.glob("x.*"))
