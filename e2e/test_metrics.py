"""Dapr's own Prometheus metrics move by exactly what the suite did, and Prometheus agrees
with what the sidecars expose."""

from __future__ import annotations

import pytest

from harness.client import new_run_id
from harness.metrics import sample_sum, scrape, selector

pytestmark = pytest.mark.e2e
MESSAGES = 5

# metric, labels, daprd that exposes it
EXPECTED_PER_T1_MESSAGE = {
    "publish egress": (
        "dapr_component_pubsub_egress_count",
        {"app_id": "service-1", "topic": "t1", "success": "true"},
    ),
    "delivery ingress": (
        "dapr_component_pubsub_ingress_count",
        {"app_id": "service-1", "topic": "t1", "process_status": "success"},
    ),
    "invocation sent": (
        "dapr_runtime_service_invocation_req_sent_total",
        {"app_id": "service-1", "dst_app_id": "service-2"},
    ),
    "invocation received": (
        "dapr_runtime_service_invocation_req_recv_total",
        {"app_id": "service-2", "src_app_id": "service-1"},
    ),
    "publish API calls": (
        "dapr_http_server_request_count",
        {"app_id": "service-1", "path": "/v1.0/publish/messagebus/t1", "status": "204"},
    ),
}


def sidecar_value(target, metric: str, labels: dict[str, str]) -> float:
    return sample_sum(scrape(target.daprd_metrics_urls[labels["app_id"]]), metric, labels)


def test_metric_deltas_for_t1_messages(target, suite, metrics, scoreboard):
    queries = {name: selector(m, labels) for name, (m, labels) in EXPECTED_PER_T1_MESSAGE.items()}
    before = {
        name: metrics.baseline(queries[name], sidecar_value(target, m, labels))
        for name, (m, labels) in EXPECTED_PER_T1_MESSAGE.items()
    }
    run = new_run_id("metrics")
    for seq in range(1, MESSAGES + 1):
        suite.publish_ok("t1", run, seq)
    for name, query in queries.items():
        after = metrics.wait_for_delta(query, before[name], MESSAGES)
        scoreboard.delta(f"{MESSAGES} t1 messages", query, after - before[name])


def test_prometheus_agrees_with_the_sidecars(target, metrics):
    """Once traffic is quiet, each counter in Prometheus equals the sidecar's own value."""
    for metric, labels in EXPECTED_PER_T1_MESSAGE.values():
        direct = sidecar_value(target, metric, labels)
        seen = metrics.wait_until_scraped(selector(metric, labels), direct)
        assert seen == direct, f"{metric}{labels}: sidecar {direct:g}, Prometheus {seen:g}"
        assert direct > 0, f"{metric}{labels} is zero: the sidecar records nothing"
