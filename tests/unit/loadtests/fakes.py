"""Fake publishes and ledger arrivals shaped like the real ones (docs/architecture.md)."""

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


def arrival(
    seq: int | None,
    received_at: float,
    topic: str = "t1",
    sent_at: float | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """One delivery attempt as GET /ledger/arrivals answers it."""
    return {
        "attempt": 0,  # the tracker relies on the cursor, not on this number
        "id": event_id or f"ce-{seq}-{topic}",
        "topic": topic,
        "route": f"/{topic}",
        "seq": seq,
        "sent_at": START + (seq or 0) * 0.1 if sent_at is None else sent_at,
        "received_at": received_at,
    }
