"""Bad input through the publish API: the exact error, and nothing reaches the broker."""

from __future__ import annotations

import pytest

from harness.ledger import new_run_id
from harness.metrics import SERVICE1_EGRESS, sidecar_value

pytestmark = pytest.mark.e2e


def egress_now(target) -> float:
    return sidecar_value(target, SERVICE1_EGRESS)


def test_bad_publishes_are_refused_and_nothing_is_delivered(target, suite):
    before = egress_now(target)
    run = new_run_id("bad")
    publish = suite.service1.post

    unknown = publish("/publish/t3", json={"run": run, "seq": 1})
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "unknown topic 't3'", "topics": ["t1", "t2"]}

    malformed = publish(
        "/publish/t1", content=b'{"run": ', headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.json()["error"].startswith("malformed JSON")

    oversize = publish("/publish/t1", json={"run": run, "seq": 2, "padding": "x" * 70_000})
    assert oversize.status_code == 413
    assert "over the limit" in oversize.json()["error"]

    not_json = publish("/publish/t1", content=b"run=1", headers={"content-type": "text/plain"})
    assert not_json.status_code == 415

    not_object = publish("/publish/t1", json=[1, 2])
    assert not_object.status_code == 400
    assert not_object.json()["error"] == "body must be a JSON object, got list"

    assert egress_now(target) == before, "a refused publish reached the broker"
    assert suite.ledger.wait_for(run, bool, timeout=1.0) == []
