"""Percentiles, publish delay and the open model's schedule."""

from __future__ import annotations

import pytest

from loadtests.latency import (
    Schedule,
    e2e_ms,
    percentile,
    publish_delay_ms,
    summarize,
)


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile(values, 99.9) == 100
    assert percentile(values, 100) == 100
    assert percentile([7.0], 50) == 7.0


def test_a_percentile_of_nothing_is_none() -> None:
    assert percentile([], 95) is None


@pytest.mark.parametrize("q", [0, -1, 100.1])
def test_a_percentile_outside_0_100_is_an_error(q: float) -> None:
    with pytest.raises(ValueError, match="not in"):
        percentile([1.0], q)


def test_summarize_reports_the_omb_percentiles() -> None:
    figures = summarize([5.0, 1.0, 3.0, 2.0, 4.0] * 200)
    assert figures == {
        "count": 1000,
        "p50": 3.0,
        "p75": 4.0,
        "p95": 5.0,
        "p99": 5.0,
        "p99.9": 5.0,
        "max": 5.0,
    }


def test_summarize_of_nothing() -> None:
    assert summarize([])["p95"] is None
    assert summarize([])["count"] == 0


def test_publish_delay_is_actual_minus_intended() -> None:
    assert publish_delay_ms(intended_at=100.0, sent_at=100.25) == pytest.approx(250.0)
    assert publish_delay_ms(intended_at=100.0, sent_at=99.999) == 0.0


def test_e2e_is_publish_to_receipt() -> None:
    assert e2e_ms(sent_at=10.0, received_at=10.004) == pytest.approx(4.0)


def test_schedule_slots_are_fixed() -> None:
    schedule = Schedule(start=100.0, rate=10.0)
    assert [schedule.take() for _ in range(3)] == pytest.approx([100.0, 100.1, 100.2])
    assert schedule.wait(now=100.25) == pytest.approx(0.05)
    assert schedule.wait(now=101.0) == 0.0


def test_a_stalled_send_shows_as_publish_delay_of_the_messages_behind_it() -> None:
    """Coordinated omission: a closed-loop sender would just send fewer messages during a
    1 s stall and report fine latencies; the fixed schedule counts every message as late."""
    schedule = Schedule(start=0.0, rate=10.0)
    now, delays = 0.0, []
    for service_time in [1.0] + [0.01] * 9:  # the first publish takes a second
        now += schedule.wait(now)
        intended = schedule.take()
        delays.append(publish_delay_ms(intended, now))
        now += service_time
    assert delays[0] == 0.0
    # Due at 0.1 s, sent at 1.0 s; each later one is 90 ms less late while it catches up.
    assert delays[1:] == pytest.approx([900.0 - 90.0 * k for k in range(9)])


def test_a_schedule_needs_a_positive_rate() -> None:
    with pytest.raises(ValueError, match="positive"):
        Schedule(start=0.0, rate=0.0)
