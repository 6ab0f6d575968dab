"""Dapr's pub/sub counters per topic from Prometheus, read before and after a run as deltas.

harness.metrics answers one number per query; a load run wants every topic at once, so this
asks for the vector `sum by (topic)` through the same client.
"""

from __future__ import annotations

import time
from typing import Any

from harness.metrics import PrometheusMetrics

COUNTERS = {
    "egress": "dapr_component_pubsub_egress_count",
    "ingress": "dapr_component_pubsub_ingress_count",
}


def per_topic_query(metric: str, component: str = "messagebus") -> str:
    return f'sum by (topic) ({metric}{{component="{component}"}})'


def parse_vector(result: list[dict[str, Any]]) -> dict[str, float]:
    """An instant vector by topic -> {topic: value}."""
    return {item["metric"].get("topic", ""): float(item["value"][1]) for item in result}


def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Growth of each counter; a series that did not exist yet counted from zero."""
    return {topic: after[topic] - before.get(topic, 0.0) for topic in sorted(after)}


class DaprCounters:
    """Reads the per-topic egress and ingress counters of the pub/sub component."""

    def __init__(self, prometheus_url: str) -> None:
        self.prometheus = PrometheusMetrics(prometheus_url)

    def read(self) -> dict[str, dict[str, float]]:
        return {
            name: parse_vector(self.prometheus.client.custom_query(per_topic_query(metric)))
            for name, metric in COUNTERS.items()
        }

    def wait_for_scrape_after(self, moment: float, timeout: float = 10.0) -> bool:
        """Wait until every target has been scraped after `moment`, so counters are current."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.prometheus.value("min(timestamp(up))") > moment:
                return True
            time.sleep(0.25)
        return False


def deltas(
    before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]
) -> dict[str, dict[str, float]]:
    return {name: delta(before.get(name, {}), after.get(name, {})) for name in COUNTERS}


def metric_section(
    before: dict[str, dict[str, float]] | None,
    after: dict[str, dict[str, float]] | None,
    current: bool,
    error: str | None = None,
) -> dict[str, Any]:
    """The summary's `dapr_metrics`: deltas per topic, the queries, and what went wrong if any."""
    section: dict[str, Any] = {
        "queries": {name: per_topic_query(metric) for name, metric in COUNTERS.items()},
        "scraped_after_drain": current,
    }
    if before is None or after is None:
        section["error"] = error or "Prometheus was not readable"
        return section
    changes = deltas(before, after)
    section["egress_delta"] = changes["egress"]
    section["ingress_delta"] = changes["ingress"]
    return section
