"""Subscriptions that do not come from /dapr/subscribe: a declarative Subscription resource
(dapr.io/v2alpha1) and a streaming subscription service-1 opens over gRPC with the Dapr SDK."""

from __future__ import annotations

import pytest

from e2e.feature_scenarios import (
    DECLARED_MESSAGES,
    STREAMED_MESSAGES,
    expect_deltas,
    on_topic,
    started,
)
from harness.verdict import total_queue

pytestmark = pytest.mark.e2e


def test_declarative_subscription_delivers_to_its_route(feature_scenarios, suite, scoreboard):
    scenario = started(feature_scenarios, "declared")
    records = suite.ledger.wait_for(
        scenario.run, lambda rs: len(on_topic(rs, "declared")) >= DECLARED_MESSAGES
    )

    verdict = total_queue(scenario.attempts, records, run=scenario.run, label="declared")
    scoreboard.verdict("feature declarative subscription", verdict)
    assert verdict.ok and not verdict.duplicated, str(verdict)
    assert {r["route"] for r in records} == {"/features/declared"}
    expect_deltas(scenario, scoreboard)


def test_streaming_subscription_receives_over_grpc(feature_scenarios, suite, scoreboard):
    scenario = started(feature_scenarios, "streaming")
    records = suite.ledger.wait_for(
        scenario.run, lambda rs: len(on_topic(rs, "streamed")) >= STREAMED_MESSAGES
    )

    verdict = total_queue(scenario.attempts, records, run=scenario.run, label="streamed")
    scoreboard.verdict("feature streaming subscription", verdict)
    assert verdict.ok and not verdict.duplicated, str(verdict)
    assert {r["route"] for r in records} == {"grpc-stream"}
    assert {r["envelope"]["pubsubname"] for r in records} == {"featurebus"}
    expect_deltas(scenario, scoreboard)
