"""Routing rules: each CloudEvent type reaches the route its rule names, the rest the default."""

from __future__ import annotations

import pytest

from e2e.feature_scenarios import (
    PER_TYPE,
    ROUTED_TYPES,
    delivered_once,
    expect_deltas,
    routed_seq,
    started,
)

pytestmark = pytest.mark.e2e


def test_routing_rules_send_each_event_type_to_its_route(feature_scenarios, suite, scoreboard):
    scenario = started(feature_scenarios, "routing")
    expected = len(ROUTED_TYPES) * PER_TYPE
    row = "feature routing rules"
    records = delivered_once(scenario, suite, scoreboard, "routed", expected, row)
    routes = {r["seq"]: (r["envelope"]["type"], r["route"]) for r in records}
    assert routes == {
        routed_seq(index, n): (kind, route)
        for index, (kind, route) in enumerate(ROUTED_TYPES.items())
        for n in range(1, PER_TYPE + 1)
    }
    expect_deltas(scenario, scoreboard)
