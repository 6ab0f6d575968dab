"""Metric queries and delta checks, against fixed values instead of a live Prometheus."""

from __future__ import annotations

import pytest

from harness.metrics import DeltaMismatch, PrometheusMetrics, sample_sum, selector

EXPOSITION = """# HELP dapr_component_pubsub_egress_count Published.
# TYPE dapr_component_pubsub_egress_count counter
dapr_component_pubsub_egress_count{app_id="service-1",success="true",topic="t1"} 7
dapr_component_pubsub_egress_count{app_id="service-1",success="false",topic="t1"} 2
dapr_component_pubsub_egress_count{app_id="service-1",success="true",topic="t2"} 5
# HELP dapr_runtime_service_invocation_req_sent_total Sent.
# TYPE dapr_runtime_service_invocation_req_sent_total counter
dapr_runtime_service_invocation_req_sent_total{app_id="service-1",dst_app_id="service-2"} 3
"""


class ScriptedMetrics(PrometheusMetrics):
    """Answers each query with the next value of a script."""

    def __init__(self, values: list[float]) -> None:
        super().__init__("http://127.0.0.1:1")
        self.script = list(values)

    def value(self, query: str) -> float:
        return self.script.pop(0) if len(self.script) > 1 else self.script[0]


def test_selector_sums_one_metric_with_sorted_labels():
    assert selector("m", {"b": "2", "a": "1"}) == 'sum(m{a="1",b="2"})'


def test_sample_sum_matches_labels_and_counter_names():
    metric = "dapr_component_pubsub_egress_count"
    assert sample_sum(EXPOSITION, metric, {"topic": "t1", "success": "true"}) == 7
    assert sample_sum(EXPOSITION, metric, {"topic": "t1"}) == 9
    assert sample_sum(EXPOSITION, metric, {}) == 14
    sent = "dapr_runtime_service_invocation_req_sent_total"
    assert sample_sum(EXPOSITION, sent, {"dst_app_id": "service-2"}) == 3
    assert sample_sum(EXPOSITION, "dapr_nothing", {}) == 0


def test_wait_for_delta_returns_once_the_delta_shows():
    assert ScriptedMetrics([10, 10, 12, 15]).wait_for_delta("q", 10, 5, timeout=5) == 15


def test_wait_for_delta_fails_fast_on_overshoot_with_both_numbers():
    with pytest.raises(DeltaMismatch) as caught:
        ScriptedMetrics([10, 17]).wait_for_delta("q{a}", 10, 5, timeout=5)
    message = str(caught.value)
    assert "q{a}" in message and "before 10, after 17: delta 7, expected 5" in message


def test_wait_for_delta_times_out_when_nothing_moves():
    with pytest.raises(DeltaMismatch, match="delta 0, expected 1"):
        ScriptedMetrics([3]).wait_for_delta("q", 3, 1, timeout=0.3)


def test_baseline_waits_for_prometheus_to_catch_up():
    assert ScriptedMetrics([4, 4, 6]).baseline("q", 6, timeout=5) == 6
    with pytest.raises(DeltaMismatch):
        ScriptedMetrics([4]).baseline("q", 6, timeout=0.3)
