"""Subscriptions that do not come from /dapr/subscribe: a declarative Subscription resource
(dapr.io/v2alpha1) and a streaming subscription service-1 opens over gRPC with the Dapr SDK."""

from __future__ import annotations

import pytest

from e2e.feature_scenarios import (
    DECLARED_MESSAGES,
    STREAMED_MESSAGES,
    delivered_once,
    expect_deltas,
    started,
)

pytestmark = pytest.mark.e2e


def test_declarative_subscription_delivers_to_its_route(feature_scenarios, suite, scoreboard):
    scenario = started(feature_scenarios, "declared")
    row = "feature declarative subscription"
    records = delivered_once(scenario, suite, scoreboard, "declared", DECLARED_MESSAGES, row)
    assert {r["route"] for r in records} == {"/features/declared"}
    expect_deltas(scenario, scoreboard)


def test_streaming_subscription_receives_over_grpc(feature_scenarios, suite, scoreboard):
    scenario = started(feature_scenarios, "streaming")
    row = "feature streaming subscription"
    records = delivered_once(scenario, suite, scoreboard, "streamed", STREAMED_MESSAGES, row)
    assert {r["route"] for r in records} == {"grpc-stream"}
    assert {r["envelope"]["pubsubname"] for r in records} == {"featurebus"}
    expect_deltas(scenario, scoreboard)
