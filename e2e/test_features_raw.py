"""Raw payloads: the subscriber gets the publisher's bytes, not a CloudEvent around them."""

from __future__ import annotations

import pytest

from e2e.feature_scenarios import RAW_MESSAGES, delivered_once, expect_deltas, started

pytestmark = pytest.mark.e2e


def test_raw_payloads_arrive_as_published(feature_scenarios, suite, scoreboard):
    scenario = started(feature_scenarios, "raw")
    row = "feature raw payload"
    records = delivered_once(scenario, suite, scoreboard, "raw", RAW_MESSAGES, row)
    kinds = {(r["envelope"]["payload"], r["envelope"]["datacontenttype"]) for r in records}
    assert kinds == {("raw", "application/octet-stream")}, "daprd wrapped the raw payload"
    assert all(r["answers"] == ["SUCCESS"] for r in records)
    expect_deltas(scenario, scoreboard)
