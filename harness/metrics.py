"""Dapr's metrics, read through Prometheus and straight from a sidecar's endpoint.

Checks are deltas: read before, act, then poll until Prometheus shows the expected change.
A failure names the query, the value before, the value after and what was expected.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
import requests
from prometheus_api_client import PrometheusConnect
from prometheus_client.parser import text_string_to_metric_families


def selector(metric: str, labels: Mapping[str, str]) -> str:
    """`sum(metric{a="x",b="y"})`: one number however many series match."""
    inner = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    return f"sum({metric}{{{inner}}})"


@dataclass  # not frozen: raising sets __traceback__ on the instance
class DeltaMismatch(AssertionError):
    query: str
    before: float
    after: float
    expected: float

    def __str__(self) -> str:
        return (
            f"metric delta mismatch: {self.query}\n"
            f"  before {self.before:g}, after {self.after:g}: "
            f"delta {self.after - self.before:g}, expected {self.expected:g}"
        )


class PrometheusMetrics:
    """Instant queries and delta polling against one Prometheus."""

    def __init__(self, url: str) -> None:
        self.url = url
        session = requests.Session()
        session.trust_env = False  # an http_proxy variable must never reroute loopback traffic
        self.client = PrometheusConnect(url=url, disable_ssl=True, session=session)

    def value(self, query: str) -> float:
        """The query's single value now; 0 when no series matches (a counter not yet born)."""
        result = self.client.custom_query(query)
        if not result:
            return 0.0
        return float(result[0]["value"][1])

    def wait_for_delta(
        self, query: str, before: float, expected: float, timeout: float = 15.0
    ) -> float:
        """Poll until `value - before == expected`; raise DeltaMismatch with both numbers.

        Also fails as soon as the delta overshoots: a counter never comes back down.
        """
        deadline = time.monotonic() + timeout
        after = self.value(query)
        while after - before != expected:
            if after - before > expected or time.monotonic() > deadline:
                raise DeltaMismatch(query, before, after, expected)
            time.sleep(0.25)
            after = self.value(query)
        return after

    def baseline(self, query: str, sidecar_value: float, timeout: float = 10.0) -> float:
        """The query's value once Prometheus has caught up with the sidecar's own count.

        Prometheus lags up to one scrape behind; a "before" read from a stale scrape
        would count the previous step's traffic into this step's delta.
        """
        seen = self.wait_until_scraped(query, sidecar_value, timeout)
        if seen != sidecar_value:
            raise DeltaMismatch(query, seen, seen, 0.0)
        return seen

    def wait_until_scraped(self, query: str, value: float, timeout: float = 10.0) -> float:
        """Poll until Prometheus shows `value` for `query` (it lags a scrape behind)."""
        deadline = time.monotonic() + timeout
        seen = self.value(query)
        while seen != value and time.monotonic() < deadline:
            time.sleep(0.25)
            seen = self.value(query)
        return seen


def scrape(url: str) -> str:
    response = httpx.get(url, timeout=5.0, trust_env=False)
    response.raise_for_status()
    return response.text


def sample_sum(exposition: str, metric: str, labels: Mapping[str, str]) -> float:
    """Sum of the samples named `metric` whose labels include `labels`, from text format."""
    # prometheus_client's parser names every counter sample `<family>_total`, even where
    # daprd exposes it without the suffix.
    names = {metric, f"{metric}_total"}
    total = 0.0
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name not in names:
                continue
            if all(sample.labels.get(key) == value for key, value in labels.items()):
                total += sample.value
    return total
