"""Counters, queries, vectors and delta checks, against fixed answers instead of a Prometheus."""

from __future__ import annotations

from typing import Any

import pytest

from harness import dapr_catalogue as catalogue
from harness.metrics import (
    EGRESS,
    INGRESS,
    SERVICE1_EGRESS,
    Counter,
    DeltaCheck,
    DeltaMismatch,
    PrometheusMetrics,
    Series,
    ingress_counter,
    per_label_delta,
    sample_sum,
    scenario_counters,
    selector,
)

EXPOSITION = """# HELP dapr_component_pubsub_egress_count Published.
# TYPE dapr_component_pubsub_egress_count counter
dapr_component_pubsub_egress_count{app_id="service-1",success="true",topic="t1"} 7
dapr_component_pubsub_egress_count{app_id="service-1",success="false",topic="t1"} 2
dapr_component_pubsub_egress_count{app_id="service-1",success="true",topic="t2"} 5
# HELP dapr_runtime_service_invocation_req_sent_total Sent.
# TYPE dapr_runtime_service_invocation_req_sent_total counter
dapr_runtime_service_invocation_req_sent_total{app_id="service-1",dst_app_id="service-2"} 3
"""


def sample(value: float, **labels: str) -> dict[str, Any]:
    return {"metric": labels, "value": [1700000000.0, str(value)]}


class ScriptedMetrics(PrometheusMetrics):
    """Answers each query with the next value of a script (the last one repeats)."""

    def __init__(self, values: list[float]) -> None:
        super().__init__("http://127.0.0.1:1", sleep=lambda _: None)
        self.script = list(values)
        self.queries: list[str] = []

    def series(self, query: str) -> Series:
        self.queries.append(query)
        value = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return [sample(value)]


class AnsweringMetrics(PrometheusMetrics):
    """Answers every query with one fixed instant vector."""

    def __init__(self, answer: Series) -> None:
        super().__init__("http://127.0.0.1:1")
        self.answer = answer
        self.queries: list[str] = []

    def series(self, query: str) -> Series:
        self.queries.append(query)
        return self.answer


# -- counters and their queries -----------------------------------------------------------------


def test_selector_has_sorted_labels():
    assert selector("m", {"b": "2", "a": "1"}) == 'm{a="1",b="2"}'


def test_a_counter_sums_to_one_number_or_per_label():
    counter = ingress_counter("t1", "retry", "retry")
    metric = "dapr_component_pubsub_ingress_count"
    labels = 'app_id="service-1",process_status="retry",status="retry",topic="t1"'
    assert counter.query == f"sum({metric}{{{labels}}})"
    assert counter.name == "ingress retry/retry"
    assert EGRESS.by("topic") == (
        'sum by (topic) (dapr_component_pubsub_egress_count{component="messagebus"})'
    )


def test_every_named_counter_is_in_the_catalogue():
    counters = [*scenario_counters("t2").values(), SERVICE1_EGRESS, EGRESS, INGRESS]
    counters.append(ingress_counter("t1", "drop", "success"))
    for counter in counters:
        assert counter.metric in catalogue.COUNTERS
        assert catalogue.labels_of(counter.metric) in (None, catalogue.COUNTERS[counter.metric])
    assert scenario_counters("t2")["publish API calls"].labels["path"] == (
        "/v1.0/publish/messagebus/t2"
    )


def test_a_counter_daprd_does_not_export_is_refused():
    with pytest.raises(ValueError, match="not a metric daprd exports"):
        Counter("typo", "dapr_component_pubsub_egress_total")
    with pytest.raises(ValueError, match="has no label process_status"):
        Counter("wrong label", catalogue.PUBSUB_EGRESS, {"process_status": "success"})


# -- reading through Prometheus -----------------------------------------------------------------


def test_value_is_the_single_number_or_zero_before_the_counter_exists():
    assert AnsweringMetrics([sample(12.5)]).value("q") == 12.5
    assert AnsweringMetrics([]).value("q") == 0.0


def test_a_vector_by_one_label_is_keyed_by_its_value():
    metrics = AnsweringMetrics([sample(1500, topic="t1"), sample(3, topic="t2"), sample(1)])
    assert metrics.vector(EGRESS, by="topic") == {"t1": 1500.0, "t2": 3.0, "": 1.0}
    assert metrics.queries == [EGRESS.by("topic")]


def test_a_vector_by_several_labels_is_keyed_by_tuples_and_a_query_is_sent_as_written():
    metrics = AnsweringMetrics([sample(2, topic="t1", process_status="retry")])
    query = "sum by (topic, process_status) (rate(x[1m]))"
    assert metrics.vector(query, by=("topic", "process_status")) == {("t1", "retry"): 2.0}
    assert metrics.queries == [query]


def test_a_series_born_during_the_run_counts_from_zero():
    assert per_label_delta({"t1": 100.0}, {"t1": 350.0, "t2": 4.0}) == {"t1": 250.0, "t2": 4.0}


# -- delta polling ------------------------------------------------------------------------------


def test_wait_for_delta_returns_once_the_delta_shows():
    assert ScriptedMetrics([10, 10, 12, 15]).wait_for_delta("q", 10, 5, timeout=5) == 15


def test_wait_for_delta_fails_fast_on_overshoot_with_both_numbers():
    metrics = ScriptedMetrics([10, 17, 15])
    with pytest.raises(DeltaMismatch) as caught:
        metrics.wait_for_delta("q{a}", 10, 5, timeout=5)
    message = str(caught.value)
    assert "q{a}" in message and "before 10, after 17: delta 7, expected 5" in message
    assert len(metrics.queries) == 2, "an overshoot is final: no more polling"


def test_wait_for_delta_times_out_when_nothing_moves():
    with pytest.raises(DeltaMismatch, match="delta 0, expected 1"):
        ScriptedMetrics([3]).wait_for_delta("q", 3, 1, timeout=0.05)


def test_baseline_waits_for_prometheus_to_catch_up():
    assert ScriptedMetrics([4, 4, 6]).baseline("q", 6, timeout=5) == 6
    with pytest.raises(DeltaMismatch):
        ScriptedMetrics([4]).baseline("q", 6, timeout=0.05)


def test_wait_for_scrape_after_a_moment():
    assert ScriptedMetrics([90, 99, 101]).wait_for_scrape_after(100, timeout=5) is True
    assert ScriptedMetrics([90]).wait_for_scrape_after(100, timeout=0.05) is False


class Sidecars:
    daprd_metrics_urls = {"service-1": "http://127.0.0.1:1/metrics"}


def test_a_delta_check_reports_what_each_counter_moved(monkeypatch):
    counter = scenario_counters("t1")["publish egress"]
    monkeypatch.setattr("harness.metrics.scrape", lambda url: EXPOSITION)
    check = DeltaCheck(Sidecars(), ScriptedMetrics([7, 7, 9]), [counter])
    assert check.before == {"publish egress": 7}
    assert check.expect({"publish egress": 2}) == {counter.query: 2}


# -- straight from a sidecar --------------------------------------------------------------------


def test_sample_sum_matches_labels_and_counter_names():
    metric = "dapr_component_pubsub_egress_count"
    assert sample_sum(EXPOSITION, metric, {"topic": "t1", "success": "true"}) == 7
    assert sample_sum(EXPOSITION, metric, {"topic": "t1"}) == 9
    assert sample_sum(EXPOSITION, metric, {}) == 14
    sent = "dapr_runtime_service_invocation_req_sent_total"
    assert sample_sum(EXPOSITION, sent, {"dst_app_id": "service-2"}) == 3
    assert sample_sum(EXPOSITION, "dapr_nothing", {}) == 0
