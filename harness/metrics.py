"""Dapr's metrics: the counters the suite reads, through Prometheus and from a sidecar itself.

One home for reading daprd's counters, used by the e2e gate, the load runs, the dashboard
checks and the benchmarks. Metric names and labels come from the catalogue
(harness.dapr_catalogue); a `Counter` names one of them with the labels that pick its series.

Checks are deltas: read before, act, then poll until Prometheus shows the expected change.
A failure names the query, the value before, the value after and what was expected.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, overload

import httpx
import requests
from prometheus_api_client import PrometheusConnect
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from harness import dapr_catalogue as catalogue
from harness.wait import poll

Sleep = Callable[[float], object]
Series = list[dict[str, Any]]  # Prometheus' instant vector: [{"metric": {...}, "value": [t, v]}]

PUBSUB = "messagebus"


def selector(metric: str, labels: Mapping[str, str]) -> str:
    """`metric{a="x",b="y"}` with the labels sorted, so a query reads the same every time."""
    inner = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    return f"{metric}{{{inner}}}"


@dataclass(frozen=True)
class Counter:
    """One daprd counter family narrowed by labels; refused unless the catalogue knows both."""

    name: str
    metric: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        known = catalogue.metric_labels()
        if self.metric not in known:
            raise ValueError(f"{self.metric} is not a metric daprd exports")
        allowed = known[self.metric]
        unknown = set(self.labels) - allowed if allowed is not None else set()
        if unknown:
            raise ValueError(f"{self.metric} has no label {', '.join(sorted(unknown))}")

    @property
    def query(self) -> str:
        """`sum(metric{...})`: one number however many series match."""
        return f"sum({selector(self.metric, self.labels)})"

    def by(self, *labels: str) -> str:
        """`sum by (a, b) (metric{...})`: one number per value of those labels."""
        return f"sum by ({', '.join(labels)}) ({selector(self.metric, self.labels)})"


# -- the counters the suite uses ----------------------------------------------------------------


def publish_egress(topic: str) -> Counter:
    """Successful publishes of service-1's sidecar to the broker on `topic`."""
    labels = {"app_id": "service-1", "topic": topic, "success": "true"}
    return Counter("publish egress", catalogue.PUBSUB_EGRESS, labels)


def scenario_counters(topic: str) -> dict[str, Counter]:
    """What moves when service-1 publishes on `topic` and t1 events invoke service-2."""
    path = f"/v1.0/publish/{PUBSUB}/{topic}"
    counters = [
        publish_egress(topic),
        Counter(
            "publish API calls",
            catalogue.HTTP_SERVER_REQUESTS,
            {"app_id": "service-1", "path": path, "status": "204"},
        ),
        Counter(
            "invocation sent",
            catalogue.INVOCATION_REQ_SENT,
            {"app_id": "service-1", "dst_app_id": "service-2"},
        ),
        Counter(
            "invocation received",
            catalogue.INVOCATION_REQ_RECV,
            {"app_id": "service-2", "src_app_id": "service-1"},
        ),
    ]
    return {counter.name: counter for counter in counters}


def ingress_counter(topic: str, process_status: str, status: str | None = None) -> Counter:
    """Deliveries to service-1 on `topic` by how the app's answer was processed."""
    labels = {"app_id": "service-1", "topic": topic, "process_status": process_status}
    if status is not None:
        labels["status"] = status
    name = f"ingress {process_status}" + (f"/{status}" if status else "")
    return Counter(name, catalogue.PUBSUB_INGRESS, labels)


# Everything service-1's sidecar handed to the broker, whatever the topic or result.
SERVICE1_EGRESS = Counter("service-1 egress", catalogue.PUBSUB_EGRESS, {"app_id": "service-1"})
# The pub/sub component's traffic, read per topic by a load run.
EGRESS = Counter("egress", catalogue.PUBSUB_EGRESS, {"component": PUBSUB})
INGRESS = Counter("ingress", catalogue.PUBSUB_INGRESS, {"component": PUBSUB})


# -- reading through Prometheus -----------------------------------------------------------------


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
    """Instant queries and delta polling against one Prometheus.

    `sleep` is what the polls wait with: gevent.sleep under locust, time.sleep elsewhere.
    """

    def __init__(self, url: str, sleep: Sleep = time.sleep) -> None:
        self.url = url
        self.sleep = sleep
        session = requests.Session()
        session.trust_env = False  # an http_proxy variable must never reroute loopback traffic
        # A bounded wait per query: a hung Prometheus must not hang a run.
        self.client = PrometheusConnect(url=url, disable_ssl=True, session=session, timeout=10)

    def series(self, query: str) -> Series:
        """The raw instant vector; every read of this class goes through here."""
        result: Series = self.client.custom_query(query)
        return result

    def value(self, query: str) -> float:
        """The query's single value now; 0 when no series matches (a counter not yet born)."""
        result = self.series(query)
        if not result:
            return 0.0
        return float(result[0]["value"][1])

    @overload
    def vector(self, source: str | Counter, by: str) -> dict[str, float]: ...
    @overload
    def vector(
        self, source: str | Counter, by: tuple[str, ...]
    ) -> dict[tuple[str, ...], float]: ...
    def vector(self, source: str | Counter, by: str | tuple[str, ...]) -> Mapping[Any, float]:
        """One value per series, keyed by the value of label `by` (or a tuple of labels).

        A Counter is summed by those labels; a query string is sent as written. A series
        without the label is keyed by "".
        """
        labels = (by,) if isinstance(by, str) else by
        query = source.by(*labels) if isinstance(source, Counter) else source
        values: dict[Any, float] = {}
        for item in self.series(query):
            key = tuple(item["metric"].get(label, "") for label in labels)
            values[key[0] if isinstance(by, str) else key] = float(item["value"][1])
        return values

    def wait_for_delta(
        self, query: str, before: float, expected: float, timeout: float = 15.0
    ) -> float:
        """Poll until `value - before == expected`; raise DeltaMismatch with both numbers.

        Also fails as soon as the delta overshoots: a counter never comes back down.
        """
        after = poll(
            lambda: self.value(query),
            lambda seen: seen - before >= expected,
            timeout=timeout,
            interval=0.25,
            on_timeout="return",
            sleep=self.sleep,
        )
        if after - before != expected:
            raise DeltaMismatch(query, before, after, expected)
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
        return poll(
            lambda: self.value(query),
            lambda seen: seen == value,
            timeout=timeout,
            interval=0.25,
            on_timeout="return",
            sleep=self.sleep,
        )

    def wait_for_scrape_after(self, moment: float, timeout: float = 10.0) -> bool:
        """Wait until every target has been scraped after `moment` (epoch s), so counters are
        current; False if that did not happen in time."""
        newest = poll(
            lambda: self.value("min(timestamp(up))"),
            lambda scraped_at: scraped_at > moment,
            timeout=timeout,
            interval=0.25,
            on_timeout="return",
            sleep=self.sleep,
        )
        return newest > moment


# -- deltas of several counters -----------------------------------------------------------------


def per_label_delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """Growth of each series of a vector; a series born since `before` counts from zero."""
    return {key: after[key] - before.get(key, 0.0) for key in sorted(after)}


class HasSidecars(Protocol):
    @property
    def daprd_metrics_urls(self) -> Mapping[str, str]: ...


class DeltaCheck:
    """Read the counters' baselines now; later, wait until each has moved as expected.

    Each baseline is Prometheus' value once it has caught up with the sidecar's own count,
    read from one scrape of each sidecar (parsing daprd's page costs about 0.1 s).
    """

    def __init__(
        self, target: HasSidecars, metrics: PrometheusMetrics, counters: list[Counter]
    ) -> None:
        direct = sidecar_values(target, counters)
        self.metrics = metrics
        self.counters = counters
        self.before = {c.name: metrics.baseline(c.query, direct[c.name]) for c in counters}

    def only(self, counters: list[Counter]) -> DeltaCheck:
        """The same baselines for a part of the counters: one check per scenario, all read
        at once."""
        part = copy.copy(self)
        part.counters = counters
        part.before = {c.name: self.before[c.name] for c in counters}
        return part

    def expect(self, deltas: Mapping[str, float]) -> dict[str, float]:
        """Wait for each counter's delta (by counter name); return query -> delta seen."""
        seen = {}
        for counter in self.counters:
            before = self.before[counter.name]
            after = self.metrics.wait_for_delta(counter.query, before, deltas[counter.name])
            seen[counter.query] = after - before
        return seen


# -- straight from a sidecar --------------------------------------------------------------------


def scrape(url: str) -> str:
    response = httpx.get(url, timeout=5.0, trust_env=False)
    response.raise_for_status()
    return response.text


def _samples(exposition: str) -> list[Sample]:
    return [s for family in text_string_to_metric_families(exposition) for s in family.samples]


def _sum(samples: list[Sample], metric: str, labels: Mapping[str, str]) -> float:
    # prometheus_client's parser names every counter sample `<family>_total`, even where
    # daprd exposes it without the suffix.
    names = {metric, f"{metric}_total"}
    return sum(
        s.value
        for s in samples
        if s.name in names and all(s.labels.get(k) == v for k, v in labels.items())
    )


def sample_sum(exposition: str, metric: str, labels: Mapping[str, str]) -> float:
    """Sum of the samples named `metric` whose labels include `labels`, from text format."""
    return _sum(_samples(exposition), metric, labels)


def sidecar_values(target: HasSidecars, counters: list[Counter]) -> dict[str, float]:
    """Each counter (by name) as its sidecar exposes it now; one scrape per sidecar."""
    pages: dict[str, list[Sample]] = {}
    values = {}
    for counter in counters:
        app_id = counter.labels["app_id"]
        if app_id not in pages:
            pages[app_id] = _samples(scrape(target.daprd_metrics_urls[app_id]))
        values[counter.name] = _sum(pages[app_id], counter.metric, counter.labels)
    return values


def sidecar_value(target: HasSidecars, counter: Counter) -> float:
    """The counter as the sidecar of its `app_id` exposes it now (Prometheus lags behind)."""
    return sidecar_values(target, [counter])[counter.name]
