"""Raw payloads: the subscriber gets the publisher's bytes, not a CloudEvent around them."""

from __future__ import annotations

import pytest

from e2e.feature_scenarios import RAW_MESSAGES, expect_deltas, on_topic, started
from harness.verdict import total_queue

pytestmark = pytest.mark.e2e


def test_raw_payloads_arrive_as_published(feature_scenarios, suite, scoreboard):
    scenario = started(feature_scenarios, "raw")
    records = suite.ledger.wait_for(
        scenario.run, lambda rs: len(on_topic(rs, "raw")) >= RAW_MESSAGES
    )

    verdict = total_queue(scenario.attempts, records, run=scenario.run, label="raw")
    scoreboard.verdict("feature raw payload", verdict)
    assert verdict.ok and not verdict.duplicated, str(verdict)
    kinds = {(r["envelope"]["payload"], r["envelope"]["datacontenttype"]) for r in records}
    assert kinds == {("raw", "application/octet-stream")}, "daprd wrapped the raw payload"
    assert all(r["answers"] == ["SUCCESS"] for r in records)
    expect_deltas(scenario, scoreboard)
