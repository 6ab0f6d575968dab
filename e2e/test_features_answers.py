"""What Dapr 1.18.3 makes of the odd 2xx answers its own tests probe (docs/delivery-semantics.md):
`{}` and a body that is not JSON are successes; an unknown status is retried like RETRY and,
once the Resiliency policy's retries are spent, dead-lettered."""

from __future__ import annotations

import pytest

from e2e.feature_scenarios import ATTEMPTS, REPLIES, expect_deltas, on_topic, started
from harness.verdict import total_queue

pytestmark = pytest.mark.e2e

EXPECTED = {
    "empty-json": ["EMPTY-JSON"],
    "unknown-status": ["UNKNOWN-STATUS"] * ATTEMPTS,
    "not-json": ["NOT-JSON"],
}


def settled(records) -> bool:
    answered = sum(len(r["answers"]) for r in on_topic(records, "answers"))
    return answered >= 2 + ATTEMPTS and len(on_topic(records, "answers-dead-letter")) >= 1


def test_empty_unknown_and_non_json_answers(feature_scenarios, suite, scoreboard):
    scenario = started(feature_scenarios, "answers")
    records = suite.ledger.wait_for(scenario.run, settled)

    verdict = total_queue(scenario.attempts, records, run=scenario.run, label="answers")
    scoreboard.verdict("feature odd answers", verdict)
    unknown = next(seq for seq, reply in REPLIES.items() if reply == "unknown-status")
    assert verdict.ok, str(verdict)
    assert dict(verdict.duplicated) == {unknown: ATTEMPTS}, str(verdict)
    assert verdict.dead_lettered == {unknown}, str(verdict)
    answers = {r["seq"]: r["answers"] for r in on_topic(records, "answers")}
    assert answers == {seq: EXPECTED[reply] for seq, reply in REPLIES.items()}
    expect_deltas(scenario, scoreboard)
