"""The five Dapr metrics every e2e scenario accounts for, and how to check their deltas.

Before values are read once Prometheus has caught up with the sidecars' own endpoints,
so the previous step's traffic never counts into this step's delta.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.metrics import PrometheusMetrics, sample_sum, scrape, selector


@dataclass(frozen=True)
class Counter:
    name: str
    metric: str
    labels: dict[str, str]

    @property
    def query(self) -> str:
        return selector(self.metric, self.labels)


def scenario_counters(topic: str) -> dict[str, Counter]:
    """What moves when service-1 publishes on `topic` and t1 events invoke service-2."""
    return {
        "publish egress": Counter(
            "publish egress",
            "dapr_component_pubsub_egress_count",
            {"app_id": "service-1", "topic": topic, "success": "true"},
        ),
        "publish API calls": Counter(
            "publish API calls",
            "dapr_http_server_request_count",
            {"app_id": "service-1", "path": f"/v1.0/publish/messagebus/{topic}", "status": "204"},
        ),
        "invocation sent": Counter(
            "invocation sent",
            "dapr_runtime_service_invocation_req_sent_total",
            {"app_id": "service-1", "dst_app_id": "service-2"},
        ),
        "invocation received": Counter(
            "invocation received",
            "dapr_runtime_service_invocation_req_recv_total",
            {"app_id": "service-2", "src_app_id": "service-1"},
        ),
    }


def ingress_counter(topic: str, process_status: str, status: str | None = None) -> Counter:
    labels = {"app_id": "service-1", "topic": topic, "process_status": process_status}
    if status is not None:
        labels["status"] = status
    name = f"ingress {process_status}" + (f"/{status}" if status else "")
    return Counter(name, "dapr_component_pubsub_ingress_count", labels)


def sidecar_value(target, counter: Counter) -> float:
    url = target.daprd_metrics_urls[counter.labels["app_id"]]
    return sample_sum(scrape(url), counter.metric, counter.labels)


class DeltaCheck:
    """Read the counters' baselines now; later, wait until each has moved as expected."""

    def __init__(self, target, metrics: PrometheusMetrics, counters: list[Counter]) -> None:
        self.metrics = metrics
        self.counters = counters
        self.before = {
            c.name: metrics.baseline(c.query, sidecar_value(target, c)) for c in counters
        }

    def expect(self, deltas: dict[str, float], scoreboard, scenario: str) -> None:
        for counter in self.counters:
            expected = deltas[counter.name]
            after = self.metrics.wait_for_delta(counter.query, self.before[counter.name], expected)
            scoreboard.delta(scenario, counter.query, after - self.before[counter.name])
