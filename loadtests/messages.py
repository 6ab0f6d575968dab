"""What a load message looks like, which topic it goes to, and its unique sequence number.

Its run id comes from harness.ledger.new_run_id, like every run's.
"""

from __future__ import annotations

import json
from typing import Any

# Each locust process numbers its messages from worker_index * SEQ_STRIDE, so seq stays unique
# across the workers of one run without any coordination between them.
SEQ_STRIDE = 1_000_000_000


class SeqCounter:
    """Sequence numbers of one process: worker_index * SEQ_STRIDE + 0, 1, 2, ..."""

    def __init__(self, worker_index: int, limit: int) -> None:
        if worker_index < 0:
            raise ValueError("worker_index must not be negative")
        if limit > SEQ_STRIDE:
            raise ValueError(f"at most {SEQ_STRIDE} messages per process")
        self.base = worker_index * SEQ_STRIDE
        self.limit = limit
        self.issued = 0

    def next(self) -> int | None:
        """The next seq, or None once `limit` have been issued."""
        if self.issued >= self.limit:
            return None
        seq = self.base + self.issued
        self.issued += 1
        return seq


class TopicMix:
    """Deals topics in proportion to their shares, evenly spread and exact at every point.

    The next message goes to the topic furthest behind its quota (sent * share), so a 10% t2
    gets every 10th message instead of random clumps, and no run is off by more than one.
    """

    def __init__(self, shares: dict[str, float]) -> None:
        if not shares:
            raise ValueError("a mix needs at least one topic")
        self.shares = shares
        self.dealt = dict.fromkeys(shares, 0)
        self.total = 0

    def next(self) -> str:
        self.total += 1
        topic = max(self.shares, key=lambda t: self.total * self.shares[t] - self.dealt[t])
        self.dealt[topic] += 1
        return topic


def message_body(
    run: str, seq: int, sent_at: float, size: int, intended_at: float | None = None
) -> dict[str, Any]:
    """The message, padded so that its JSON is `size` bytes (or its minimum, if larger)."""
    body: dict[str, Any] = {"run": run, "seq": seq, "sent_at": sent_at}
    if intended_at is not None:
        body["intended_at"] = intended_at
    body["padding"] = ""
    missing = size - len(encode(body))
    if missing > 0:
        body["padding"] = "x" * missing
    return body


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()
