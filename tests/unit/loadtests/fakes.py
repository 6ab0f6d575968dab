"""Fake publishes and ledger records shaped like the real ones (docs/architecture.md)."""

from __future__ import annotations

from typing import Any

from loadtests.accounting import Publish

RUN = "load-test-run"
START = 1_000.0


def publishes(count: int, topic: str = "t1", every: float = 0.1, latency_ms: float = 5.0):
    """`count` good publishes from START, one each `every` seconds, on a fixed schedule."""
    return [
        Publish(seq, topic, START + seq * every, latency_ms, intended_at=START + seq * every)
        for seq in range(count)
    ]


def record(
    seq: int | None,
    received_at: float,
    topic: str = "t1",
    count: int = 1,
    run: str = RUN,
    sent_at: float | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    return {
        "id": event_id or f"ce-{seq}-{topic}",
        "topic": topic,
        "route": f"/{topic}",
        "run": run,
        "seq": seq,
        "sent_at": START + (seq or 0) * 0.1 if sent_at is None else sent_at,
        "first_received_at": received_at,
        "last_received_at": received_at,
        "count": count,
        "answers": ["SUCCESS"] * count,
        "traceparent": None,
        "envelope": {"topic": topic, "pubsubname": "messagebus"},
        "handled_at": received_at,
    }
