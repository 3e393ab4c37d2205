"""The FireWorks backend's request key: protocols never share a submitted workflow."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from workflows.campaign.backends import FireworksBackend
from workflows.campaign.definition import parse_definition


def _backend(tmp_path: Path, **dft: object) -> FireworksBackend:
    data = {
        "name": "key-test",
        "space": {"metals": ["Fe", "Co"], "motifs": ["qv-n6"]},
        "objective": {"reaction": "orr"},
        "dft": {"executor": "fireworks", "engine": "mlip", **dft},
        "budget": {"dft_calculations": 10},
    }
    definition = parse_definition(data, "campaign.yaml")
    return FireworksBackend(tmp_path, definition, datetime.now(), False)


def test_request_key_names_the_protocol_only_when_the_file_gives_one(tmp_path: Path) -> None:
    site = "Fe-Co_qv-n6_graphene"
    plain = _backend(tmp_path, relax="mlip").key(site)
    assert plain == f"key-test|{site}|mlip|None|mlip"  # unchanged for files without protocol
    sp = _backend(tmp_path, protocol="sp").key(site)
    relax3 = _backend(tmp_path, protocol="relax-3").key(site)
    full = _backend(tmp_path, protocol="full").key(site)
    assert sp.endswith("|sp") and relax3.endswith("|relax-3") and full.endswith("|full")
    assert len({plain, sp, relax3, full}) == 4
