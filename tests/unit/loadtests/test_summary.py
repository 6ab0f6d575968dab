"""The summary: rates, backlog, latency, counts, timeline, gate and chart, from fake runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.verdict import Outcome
from loadtests.accounting import DeliveryTracker, Publish
from loadtests.chart import draw_chart
from loadtests.options import LoadOptions, Thresholds
from loadtests.summary import (
    Window,
    add_gate,
    build_summary,
    dapr_metric_section,
    headline,
    write_summary,
)
from tests.unit.loadtests.fakes import RUN, START, arrival, publishes


def tracked_run(delivered: int = 20, late: tuple[int, ...] = ()) -> DeliveryTracker:
    """20 publishes over 2 s, 10 ms to publish; receipts 20 ms after sending, `late` ones 2.5 s."""
    tracker = DeliveryTracker(RUN)
    tracker.add_published(publishes(20, latency_ms=10.0))
    tracker.add_arrivals(
        arrival(seq, START + seq * 0.1 + (2.5 if seq in late else 0.02)) for seq in range(delivered)
    )
    return tracker


WINDOW = Window(started_at=START, load_ended_at=START + 2.0, drained_at=START + 5.0)


def summary_of(tracker: DeliveryTracker, **options: object) -> dict[str, object]:
    return build_summary(RUN, LoadOptions(**options), WINDOW, tracker)  # type: ignore[arg-type]


def test_rates_and_backlog() -> None:
    summary = summary_of(tracked_run(late=(17, 18, 19)))
    assert summary["published"] == 20
    assert summary["publish_rate"] == 10.0  # 20 in the 2 s of load
    assert summary["consume_rate"] == 8.5  # 17 arrived before the end of the load
    assert summary["backlog"] == 3  # published but not yet delivered when the load ended
    assert summary["delivered"] == 20
    assert summary["lost"] == 0


def test_lost_messages_count_after_the_drain() -> None:
    summary = summary_of(tracked_run(delivered=18))
    assert summary["lost"] == 2
    assert summary["topics"] == {
        "t1": {"published": 20, "delivered": 18, "lost": 2, "duplicated": 0}
    }


def test_the_counts_and_fractions_are_the_total_queue_verdicts() -> None:
    tracker = tracked_run(delivered=18)
    tracker.add_published(
        [
            Publish(20, "t1", START + 2.0, 5.0, Outcome.FAILED),
            Publish(21, "t1", START + 2.0, 5.0, Outcome.INDETERMINATE),
        ]
    )
    tracker.add_arrivals([arrival(21, START + 2.1)])
    summary = summary_of(tracker)
    figures = {name: summary[name] for name in ("attempted", "published", "failed")}
    assert figures == {"attempted": 22, "published": 20, "failed": 1}
    assert (summary["indeterminate"], summary["recovered"], summary["lost"]) == (1, 1, 2)
    assert summary["publish_failed"] == 2  # the gate's fail ratio counts both
    assert summary["fractions"]["lost"] == round(2 / 22, 6)
    assert summary["fractions"]["published"] == round(20 / 22, 6)
    assert summary["fractions"]["recovered"] == round(1 / 22, 6)
    assert summary["seqs"]["lost"] == [18, 19]
    assert summary["seqs"]["recovered"] == [21]
    assert "1 failed, 1 indeterminate, 1 recovered" in headline(
        {
            **summary,
            "latency_ms": {
                "publish": {"p50": 1, "p95": 1, "p99": 1},
                "e2e": {"p50": 1, "p95": 1, "p99": 1},
            },
        }
    )


def test_the_dapr_section_holds_both_deltas_and_the_queries() -> None:
    before = {"egress": {"t1": 10.0}, "ingress": {"t1": 9.0}}
    after = {"egress": {"t1": 60.0}, "ingress": {"t1": 59.0, "t1-dead-letter": 1.0}}
    section = dapr_metric_section(before, after, current=True)
    assert section["egress_delta"] == {"t1": 50.0}
    assert section["ingress_delta"] == {"t1": 50.0, "t1-dead-letter": 1.0}
    assert section["queries"]["ingress"] == (
        'sum by (topic) (dapr_component_pubsub_ingress_count{component="messagebus"})'
    )
    assert section["scraped_after_drain"] is True


def test_an_unreadable_prometheus_is_reported_not_hidden() -> None:
    section = dapr_metric_section(None, None, current=False, error="connection refused")
    assert section["error"] == "connection refused"
    assert "egress_delta" not in section


def test_latency_figures() -> None:
    latency = summary_of(tracked_run(late=(19,)))["latency_ms"]
    assert latency["publish"]["p50"] == 10.0
    assert latency["e2e"]["p50"] == pytest.approx(20.0)
    assert latency["e2e"]["max"] == pytest.approx(2500.0)
    assert latency["e2e_by_topic"]["t1"]["count"] == 20
    assert latency["publish_delay"]["p99"] == 0.0  # every publish left on its slot


def test_the_closed_model_has_no_publish_delay() -> None:
    tracker = DeliveryTracker(RUN)
    tracker.add_published(p.__class__(p.seq, p.topic, p.sent_at, 4.0) for p in publishes(5))
    summary = summary_of(tracker, mode="closed")
    assert summary["latency_ms"]["publish_delay"] is None
    assert summary["arrival_rate"] is None


def test_the_timeline_counts_every_message_once() -> None:
    timeline = summary_of(tracked_run(late=(19,)))["timeline"]
    assert len(timeline) == 5  # to the end of the drain
    assert sum(point["published"] for point in timeline) == 20
    assert sum(point["consumed"] for point in timeline) == 20
    assert [point["published"] for point in timeline] == [10, 10, 0, 0, 0]
    assert timeline[4]["e2e_p99"] == pytest.approx(2500.0)  # seq 19 arrived at 4.4 s
    assert timeline[3]["publish_p50"] is None


def test_a_healthy_run_passes_the_gate() -> None:
    summary = summary_of(tracked_run())
    checks = add_gate(summary, Thresholds())
    assert all(check.ok for check in checks)
    assert summary["gate"]["passed"] is True


def test_a_broken_threshold_is_named() -> None:
    summary = summary_of(tracked_run(delivered=19))
    checks = add_gate(summary, Thresholds(max_p95_publish_ms=0.001))
    broken = {check.name for check in checks if not check.ok}
    assert broken == {"p95 publish latency", "lost messages"}
    assert summary["gate"]["passed"] is False
    lines = [c["line"] for c in summary["gate"]["checks"] if not c["ok"]]
    assert "BROKEN p95 publish latency: 10 ms (max 0.001 ms, --max-p95-publish-ms)" in lines


def test_the_summary_file_and_the_chart(tmp_path: Path) -> None:
    summary = summary_of(tracked_run(late=(19,)))
    add_gate(summary, Thresholds())
    path = write_summary(summary, tmp_path / "results")
    assert json.loads(path.read_text())["published"] == 20
    chart = draw_chart(summary, tmp_path / "results" / "chart.png")
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "lost 0" in headline(summary)


def test_a_chart_without_latencies_is_still_drawn(tmp_path: Path) -> None:
    summary = summary_of(DeliveryTracker(RUN))
    assert draw_chart(summary, tmp_path / "chart.png").stat().st_size > 0
