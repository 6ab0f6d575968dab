"""Latency figures: percentiles the way OpenMessaging Benchmark reports them, publish delay,
and the open model's send schedule."""

from __future__ import annotations

import math
from collections.abc import Iterable

REPORTED_PERCENTILES = (50.0, 75.0, 95.0, 99.0, 99.9)


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of ascending values: the smallest value that q% do not exceed."""
    if not 0 < q <= 100:
        raise ValueError(f"percentile {q} is not in (0, 100]")
    if not sorted_values:
        return None
    # rounded first: 99.9 / 100 * 1000 is 999.0000000000001 in floats, which is rank 999
    rank = math.ceil(round(q / 100.0 * len(sorted_values), 9))
    return sorted_values[max(rank, 1) - 1]


def percentile_key(q: float) -> str:
    return f"p{q:g}"


def summarize(values: Iterable[float]) -> dict[str, float | int | None]:
    """count, p50, p75, p95, p99, p99.9 and max, in the unit of the values."""
    ordered = sorted(values)
    figures: dict[str, float | int | None] = {"count": len(ordered)}
    for q in REPORTED_PERCENTILES:
        value = percentile(ordered, q)
        figures[percentile_key(q)] = None if value is None else round(value, 3)
    figures["max"] = round(ordered[-1], 3) if ordered else None
    return figures


def publish_delay_ms(intended_at: float, sent_at: float) -> float:
    """How late a message left against its slot in the open model's schedule.

    A generator that waits for slow answers sends late; measuring from the intended time
    keeps that wait in the figures instead of hiding it (coordinated omission).
    """
    return max(0.0, (sent_at - intended_at) * 1000.0)


def e2e_ms(sent_at: float, received_at: float) -> float:
    """Publish to first receipt by the subscriber; one clock, so never below zero."""
    return max(0.0, (received_at - sent_at) * 1000.0)


class Schedule:
    """Fixed send slots at `rate` per second from `start`: slot k is due at start + k / rate.

    The slots do not move when a send is late, so a late send shows as publish delay and the
    next ones go out at once to catch up, like a constant-rate producer.
    """

    def __init__(self, start: float, rate: float) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.start = start
        self.interval = 1.0 / rate
        self.slot = 0

    def due(self) -> float:
        return self.start + self.slot * self.interval

    def take(self) -> float:
        """The intended time of the current slot; moves on to the next one."""
        intended = self.due()
        self.slot += 1
        return intended

    def wait(self, now: float) -> float:
        """Seconds until the next slot is due (0 when already late)."""
        return max(0.0, self.due() - now)
