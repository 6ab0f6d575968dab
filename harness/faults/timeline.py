"""What a run looked like over time, from the publisher's calls and the ledger's records.

A message is *done* when it reached its end: handled with SUCCESS on its topic, or
arrived on the dead-letter topic. Its end-to-end latency is done minus intended send time
(the open-model send time, so a stalled publish path counts against the system).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.faults.load import Call
from harness.verdict import DEAD_LETTER_SUFFIX, Outcome

LATE_AFTER_SECONDS = 0.25  # older than this and not done: the message is backlog


def done_times(records: Iterable[Mapping[str, Any]], topic: str) -> dict[int, float]:
    """seq -> when the message reached its end (dead letter, or handled with SUCCESS)."""
    done: dict[int, float] = {}
    for record in records:
        seq = record.get("seq")
        if not isinstance(seq, int):
            continue
        at: float | None = None
        if record["topic"] == topic + DEAD_LETTER_SUFFIX:
            at = record["first_received_at"]
        elif record["topic"] == topic and "SUCCESS" in record["answers"]:
            # a first SUCCESS ends it; a SUCCESS only after retries ends at the last attempt
            first = record["answers"][0] == "SUCCESS"
            at = record["first_received_at"] if first else record["last_received_at"]
        if at is not None:
            done[seq] = min(done.get(seq, math.inf), at)
    return done


@dataclass(frozen=True)
class Recovery:
    seconds_to_recover: float | None  # None: something acknowledged never got done
    worst_latency: float | None
    p50_latency: float | None


def recovery(calls: list[Call], done: Mapping[int, float], healed_at: float) -> Recovery:
    """Time from heal until the backlog is 0 for good, and the e2e latencies."""
    acked = [c for c in calls if c.outcome is Outcome.OK]
    latencies = sorted(done[c.seq] - c.intended_at for c in calls if c.seq in done)
    if any(c.seq not in done for c in acked):
        ttr = None
    else:
        late_ends = [
            done[c.seq]
            for c in calls
            if c.seq in done and done[c.seq] - c.intended_at > LATE_AFTER_SECONDS
        ]
        ttr = max([0.0, *(end - healed_at for end in late_ends)])
    return Recovery(
        seconds_to_recover=ttr,
        worst_latency=latencies[-1] if latencies else None,
        p50_latency=latencies[len(latencies) // 2] if latencies else None,
    )


def per_second(
    calls: list[Call], done: Mapping[int, float], start: float, seconds: int
) -> dict[str, list[float]]:
    """Publish outcomes, deliveries and worst e2e latency in each second of the run."""
    series: dict[str, list[float]] = {
        name: [0.0] * seconds for name in ("ok", "failed", "indeterminate", "done", "latency")
    }

    def bucket(at: float) -> int | None:
        index = int(at - start)
        return index if 0 <= index < seconds else None

    for call in calls:
        index = bucket(call.intended_at)
        if index is not None:
            series[call.outcome.value][index] += 1
    by_seq = {c.seq: c for c in calls}
    for seq, at in done.items():
        index = bucket(at)
        if index is None:
            continue
        series["done"][index] += 1
        if seq in by_seq:
            latency = at - by_seq[seq].intended_at
            series["latency"][index] = max(series["latency"][index], latency)
    return series
