"""The run's summary: rates, backlog, latency percentiles, delivery counts, a timeline, the gate.

The figures follow OpenMessaging Benchmark: publish rate, consume rate, backlog, publish and
end-to-end latency at p50/p75/p95/p99/p99.9, aggregated and per interval (the timeline). The
delivery counts and fractions are harness.verdict's total-queue verdict; the Dapr counter
deltas are harness.metrics' per-topic vectors.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.metrics import EGRESS, INGRESS, PrometheusMetrics, per_label_delta
from harness.verdict import QueueVerdict
from loadtests.accounting import DeliveryTracker, Publish, Receipt
from loadtests.latency import percentile, publish_delay_ms, summarize
from loadtests.options import LoadOptions, Thresholds, format_mix
from loadtests.thresholds import Check, GateFigures, broken, evaluate


@dataclass(frozen=True)
class Window:
    """When the load started and ended, and when the drain for stragglers ended (epoch s)."""

    started_at: float
    load_ended_at: float
    drained_at: float

    @property
    def load_seconds(self) -> float:
        return max(self.load_ended_at - self.started_at, 1e-9)


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 2) if seconds > 0 else 0.0


def build_summary(
    run: str,
    options: LoadOptions,
    window: Window,
    tracker: DeliveryTracker,
    dapr_metrics: dict[str, Any] | None = None,
) -> dict[str, Any]:
    verdict = tracker.verdict()
    counts = verdict.counts()
    ok = tracker.ok_publishes()
    receipts = list(tracker.receipts.values())
    in_load = {r.seq for r in receipts if r.first_received_at <= window.load_ended_at}
    delivered_in_load = sum(1 for p in ok if p.seq in in_load)
    published = counts["acknowledged"]
    return {
        "run": run,
        "mode": options.mode,
        "users": options.users,
        "arrival_rate": options.arrival_rate if options.mode == "open" else None,
        "think_time": options.think_time if options.mode == "closed" else None,
        "mix": format_mix(options.mix),
        "message_bytes": options.message_bytes,
        "load_seconds": round(window.load_seconds, 3),
        "drain_seconds": round(window.drained_at - window.load_ended_at, 3),
        "attempted": counts["attempted"],
        "published": published,
        "publish_failed": counts["failed"] + counts["indeterminate"],
        "failed": counts["failed"],
        "indeterminate": counts["indeterminate"],
        "publish_rate": rate(published, window.load_seconds),
        "consume_rate": rate(len(in_load), window.load_seconds),
        "backlog": published - delivered_in_load,
        "delivered": counts["delivered"],
        "lost": counts["lost"],
        "duplicated": counts["duplicated"],
        "unexpected": counts["unexpected"],
        "recovered": counts["recovered"],
        "dead_lettered": counts["dead_lettered"],
        "fractions": fractions_of(verdict),
        "seqs": seqs_of(verdict),
        "topics": {
            topic: topic_counts(topic_verdict)
            for topic, topic_verdict in tracker.verdict_by_topic().items()
        },
        "latency_ms": latency_figures(ok, receipts),
        "dapr_metrics": dapr_metrics,
        "timeline": timeline(ok, receipts, window),
    }


def seqs_of(verdict: QueueVerdict, limit: int = 20) -> dict[str, list[int]]:
    """A few of the seqs behind each count that needs a look, to find them in the ledger."""
    named = {
        "lost": verdict.lost,
        "duplicated": verdict.duplicated.keys(),
        "unexpected": verdict.unexpected,
        "recovered": verdict.recovered,
    }
    return {name: sorted(seqs)[:limit] for name, seqs in named.items()}


def fractions_of(verdict: QueueVerdict) -> dict[str, float]:
    """The verdict's fractions of the attempts, named as the summary names the counts."""
    return {
        ("published" if name == "acknowledged" else name): share
        for name, share in verdict.fractions().items()
    }


def topic_counts(verdict: QueueVerdict) -> dict[str, int]:
    counts = verdict.counts()
    figures = {"published": counts["acknowledged"]}
    figures.update({name: counts[name] for name in ("delivered", "lost", "duplicated")})
    return figures


DAPR_COUNTERS = (EGRESS, INGRESS)


def read_dapr_counters(metrics: PrometheusMetrics) -> dict[str, dict[str, float]]:
    """Egress and ingress of the pub/sub component now, per topic."""
    return {counter.name: metrics.vector(counter, by="topic") for counter in DAPR_COUNTERS}


def dapr_metric_section(
    before: dict[str, dict[str, float]] | None,
    after: dict[str, dict[str, float]] | None,
    current: bool,
    error: str | None = None,
) -> dict[str, Any]:
    """The summary's `dapr_metrics`: deltas per topic, the queries, and what went wrong if any.

    `before` and `after` map "egress" and "ingress" to harness.metrics' per-topic vectors.
    """
    section: dict[str, Any] = {
        "queries": {counter.name: counter.by("topic") for counter in DAPR_COUNTERS},
        "scraped_after_drain": current,
    }
    if before is None or after is None:
        section["error"] = error or "Prometheus was not readable"
        return section
    for counter in DAPR_COUNTERS:
        change = per_label_delta(before.get(counter.name, {}), after.get(counter.name, {}))
        section[f"{counter.name}_delta"] = change
    return section


def latency_figures(ok: list[Publish], receipts: list[Receipt]) -> dict[str, Any]:
    delays = [publish_delay_ms(p.intended_at, p.sent_at) for p in ok if p.intended_at is not None]
    by_topic: dict[str, list[float]] = defaultdict(list)
    for receipt in receipts:
        if receipt.latency_ms is not None:
            by_topic[receipt.topic].append(receipt.latency_ms)
    return {
        "publish": summarize(p.latency_ms for p in ok),
        "publish_delay": summarize(delays) if delays else None,
        "e2e": summarize(value for values in by_topic.values() for value in values),
        "e2e_by_topic": {topic: summarize(values) for topic, values in sorted(by_topic.items())},
    }


def timeline(ok: list[Publish], receipts: list[Receipt], window: Window) -> list[dict[str, Any]]:
    """Per second from the start: publishes by send time, receipts and e2e by receipt time."""
    end = max([window.drained_at, *(r.first_received_at for r in receipts)])
    buckets = max(1, math.ceil(end - window.started_at))
    sent: list[list[float]] = [[] for _ in range(buckets)]
    received: list[list[float]] = [[] for _ in range(buckets)]
    for publish in ok:
        sent[_bucket(publish.sent_at, window.started_at, buckets)].append(publish.latency_ms)
    for receipt in receipts:
        slot = received[_bucket(receipt.first_received_at, window.started_at, buckets)]
        slot.append(receipt.latency_ms if receipt.latency_ms is not None else math.nan)
    return [
        {
            "t": second,
            "published": len(sent[second]),
            "consumed": len(received[second]),
            **_three_percentiles("publish", sent[second]),
            **_three_percentiles("e2e", [v for v in received[second] if not math.isnan(v)]),
        }
        for second in range(buckets)
    ]


def _bucket(at: float, start: float, buckets: int) -> int:
    return min(max(int(at - start), 0), buckets - 1)


def _three_percentiles(prefix: str, values: Iterable[float]) -> dict[str, float | None]:
    ordered = sorted(values)
    return {f"{prefix}_p{q:g}": percentile(ordered, q) for q in (50, 95, 99)}


# -- the gate ---------------------------------------------------------------------------------


def gate_figures(summary: dict[str, Any]) -> GateFigures:
    latency = summary["latency_ms"]
    return GateFigures(
        published=summary["published"],
        failed=summary["publish_failed"],
        p95_publish_ms=latency["publish"]["p95"],
        p95_e2e_ms=latency["e2e"]["p95"],
        lost=summary["lost"],
    )


def add_gate(summary: dict[str, Any], thresholds: Thresholds) -> list[Check]:
    """Evaluate the thresholds, record them in the summary, return every check."""
    checks = evaluate(gate_figures(summary), thresholds)
    summary["gate"] = {
        "passed": not broken(checks),
        "checks": [{**check.as_dict(), "line": check.line()} for check in checks],
    }
    return checks


# A master in a pod (k3d/load/locust.yaml) prints its summary as one log line with this
# prefix, so that the runner outside the cluster gets it back (loadtests.in_cluster).
SUMMARY_IN_LOG = "LOAD_SUMMARY_IN_LOG"  # the environment variable that asks for it
SUMMARY_LOG_PREFIX = "load summary json: "


def summary_log_line(summary: dict[str, Any]) -> str:
    return SUMMARY_LOG_PREFIX + json.dumps(summary, separators=(",", ":"))


def summary_from_log(text: str) -> dict[str, Any] | None:
    """The last summary a master's log holds, None when it has none."""
    for line in reversed(text.splitlines()):
        _, prefix, rest = line.partition(SUMMARY_LOG_PREFIX)
        if prefix:
            found: dict[str, Any] = json.loads(rest)
            return found
    return None


def write_summary(summary: dict[str, Any], results_dir: Path) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / "summary.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")
    return path


def headline(summary: dict[str, Any]) -> str:
    """Two lines a person reads first."""
    latency = summary["latency_ms"]
    publish, e2e = latency["publish"], latency["e2e"]
    return (
        f"published {summary['published']} ({summary['publish_rate']}/s), "
        f"consumed {summary['consume_rate']}/s, backlog {summary['backlog']}, "
        f"delivered {summary['delivered']}, lost {summary['lost']}, "
        f"duplicated {summary['duplicated']}{unsure(summary)}\n"
        f"publish ms p50 {publish['p50']} p95 {publish['p95']} p99 {publish['p99']}; "
        f"e2e ms p50 {e2e['p50']} p95 {e2e['p95']} p99 {e2e['p99']}"
    )


def unsure(summary: dict[str, Any]) -> str:
    """The counts beyond lost and duplicated that need a look, when there are any."""
    parts = [
        f"{summary[name]} {name}"
        for name in ("failed", "indeterminate", "recovered", "unexpected")
        if summary.get(name)
    ]
    return f" ({', '.join(parts)})" if parts else ""
