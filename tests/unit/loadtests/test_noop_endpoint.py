"""The generator benchmark's no-op endpoint answers publishes at once and counts them."""

from __future__ import annotations

import warnings

from loadtests.noop_endpoint import app

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient


def test_publishes_are_answered_and_counted() -> None:
    with TestClient(app) as client:
        before = client.get("/count").json()["requests"]
        for topic in ("t1", "t2", "t1"):
            response = client.post(f"/publish/{topic}", json={"run": "r", "seq": 1})
            assert (response.status_code, response.json()) == (200, {"message": "published"})
        assert client.get("/count").json() == {"requests": before + 3}
        assert client.get("/healthz").json() == {"status": "ok"}
