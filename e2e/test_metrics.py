"""Dapr's own Prometheus metrics move by exactly what the suite did, and Prometheus agrees
with what the sidecars expose."""

from __future__ import annotations

import pytest

from harness.ledger import new_run_id
from harness.metrics import DeltaCheck, ingress_counter, scenario_counters, sidecar_value

pytestmark = pytest.mark.e2e
MESSAGES = 5


def t1_counters():
    return [*scenario_counters("t1").values(), ingress_counter("t1", "success")]


def test_metric_deltas_for_t1_messages(target, suite, metrics, scoreboard):
    check = DeltaCheck(target, metrics, t1_counters())
    run = new_run_id("metrics")
    for seq in range(1, MESSAGES + 1):
        suite.publish_ok("t1", run, seq)
    seen = check.expect({c.name: MESSAGES for c in t1_counters()})
    scoreboard.deltas_seen(f"{MESSAGES} t1 messages", seen)


def test_prometheus_agrees_with_the_sidecars(target, suite, metrics):
    """Once traffic is quiet, each counter in Prometheus equals the sidecar's own value."""
    run = new_run_id("agree")
    suite.publish_ok("t1", run, 1)
    suite.ledger.wait_for(run, lambda rs: any(r["answers"] == ["SUCCESS"] for r in rs))
    for counter in t1_counters():
        direct = sidecar_value(target, counter)
        seen = metrics.wait_until_scraped(counter.query, direct)
        assert seen == direct, f"{counter.query}: sidecar {direct:g}, Prometheus {seen:g}"
        assert direct > 0, f"{counter.query} is zero: the sidecar records nothing"
