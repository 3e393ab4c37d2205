"""The submission key of a site's request: protocols and placement searches are distinct."""

from __future__ import annotations

from workflows.executors.local import RunRequest
from workflows.executors.submission import request_key

SITE = "Fe-Co_qv-n6_graphene"


def _key(**options: object) -> str:
    return request_key(RunRequest(sites=[SITE], reactions=["orr"], engine="mlip", **options), SITE)


def test_default_protocol_keeps_the_key_of_older_submissions() -> None:
    key = _key()
    assert key == f"{SITE}|mlip|{key.split('|')[2]}|orr|prerelax=mlip|modes=all|min_image=10"
    assert _key(protocol=RunRequest(sites=[SITE]).protocol) == key


def test_protocols_and_placements_are_distinct_requests() -> None:
    keys = {_key(), _key(protocol="sp"), _key(protocol="relax-3"), _key(placements=3)}
    assert len(keys) == 4
    assert _key(protocol="sp").endswith("|protocol=sp")
    assert _key(placements=3).endswith("|placements=3")
