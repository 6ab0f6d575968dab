"""Bulk publish and bulk subscribe: one bulk call out, one batch in, each entry judged alone.

The entries the subscriber answers DROP (and only those) reach the dead-letter topic; the
rest are done. Dapr counts the bulk calls on both sides with counters of their own.
"""

from __future__ import annotations

import pytest

from e2e.feature_scenarios import BULK_DROPPED, BULK_SIZE, expect_deltas, on_topic, started
from harness.verdict import total_queue

pytestmark = pytest.mark.e2e


def settled(records) -> bool:
    return len(on_topic(records, "bulk")) >= BULK_SIZE and len(
        on_topic(records, "bulk-dead-letter")
    ) >= len(BULK_DROPPED)


def test_bulk_entries_are_answered_one_by_one(feature_scenarios, suite, scoreboard):
    scenario = started(feature_scenarios, "bulk")
    published = next(iter(scenario.responses.values()))
    assert published.status_code == 200, published.text
    assert published.json()["failedEntries"] == [], published.text
    records = suite.ledger.wait_for(scenario.run, settled)

    verdict = total_queue(scenario.attempts, records, run=scenario.run, label="bulk")
    scoreboard.verdict("feature bulk publish/subscribe", verdict)
    assert verdict.ok and not verdict.duplicated, str(verdict)
    assert verdict.delivered == set(range(1, BULK_SIZE + 1)), str(verdict)
    assert verdict.dead_lettered == BULK_DROPPED, str(verdict)
    answers = {r["seq"]: r["answers"] for r in on_topic(records, "bulk")}
    assert answers == {
        seq: ["DROP" if seq in BULK_DROPPED else "SUCCESS"] for seq in range(1, BULK_SIZE + 1)
    }
    assert {r["route"] for r in on_topic(records, "bulk")} == {"/features/bulk"}
    expect_deltas(scenario, scoreboard)
