"""Dapr counter deltas per topic from Prometheus answers."""

from __future__ import annotations

from loadtests.dapr_metrics import delta, metric_section, parse_vector, per_topic_query


def test_the_query_sums_per_topic() -> None:
    assert per_topic_query("dapr_component_pubsub_egress_count") == (
        'sum by (topic) (dapr_component_pubsub_egress_count{component="messagebus"})'
    )


def test_a_vector_becomes_values_by_topic() -> None:
    result = [
        {"metric": {"topic": "t1"}, "value": [1700000000.0, "1500"]},
        {"metric": {"topic": "t2"}, "value": [1700000000.0, "3"]},
    ]
    assert parse_vector(result) == {"t1": 1500.0, "t2": 3.0}


def test_a_series_born_during_the_run_counts_from_zero() -> None:
    assert delta({"t1": 100.0}, {"t1": 350.0, "t2": 4.0}) == {"t1": 250.0, "t2": 4.0}


def test_the_section_holds_both_deltas_and_the_queries() -> None:
    before = {"egress": {"t1": 10.0}, "ingress": {"t1": 9.0}}
    after = {"egress": {"t1": 60.0}, "ingress": {"t1": 59.0, "t1-dead-letter": 1.0}}
    section = metric_section(before, after, current=True)
    assert section["egress_delta"] == {"t1": 50.0}
    assert section["ingress_delta"] == {"t1": 50.0, "t1-dead-letter": 1.0}
    assert "dapr_component_pubsub_ingress_count" in section["queries"]["ingress"]


def test_an_unreadable_prometheus_is_reported_not_hidden() -> None:
    section = metric_section(None, None, current=False, error="connection refused")
    assert section["error"] == "connection refused"
    assert "egress_delta" not in section
