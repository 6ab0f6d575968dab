"""What a load message looks like, which topic it goes to, and its unique sequence number."""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from typing import Any

# Each locust process numbers its messages from worker_index * SEQ_STRIDE, so seq stays unique
# across the workers of one run without any coordination between them.
SEQ_STRIDE = 1_000_000_000


def new_run_id(prefix: str = "load") -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"{prefix}-{stamp}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


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


def topic_for(n: int, mix: dict[str, float]) -> str:
    """The topic of a process's n-th message: deterministic and exact over any window.

    Each topic gets message n when its running quota floor((n + 1) * share) grows; this spreads
    a 10% topic evenly (every 10th message) instead of in random clumps.
    """
    for topic, share in mix.items():
        if math.floor((n + 1) * share + 1e-9) > math.floor(n * share + 1e-9):
            return topic
    return next(iter(mix))  # rounding left this n to nobody: the first topic takes it


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
