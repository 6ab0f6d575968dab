"""What a load run published against what the ledger says arrived, judged by harness.verdict.

Each publish call is an attempt with an outcome (`publish_outcome`): service-1 answered 2xx ->
ok; it answered anything else -> failed; the call timed out or its connection broke after it
was sent -> indeterminate (the message may be on its way). The tracker hands the attempts and
the ledger's attempts to `harness.verdict.total_queue`, which counts delivered, lost,
duplicated, unexpected, recovered and dead-lettered messages; this module only folds the
attempts as a ledger cursor hands them over and keeps the first receipt of each message, for
end-to-end latency: from its `sent_at` to its first arrival (receipt by the subscriber, not the
end of the handler: t2's handler sleeps before it answers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.verdict import Attempt, Outcome, QueueVerdict, dead_letter_topic, total_queue
from loadtests.latency import e2e_ms
from loadtests.options import TOPICS


def publish_outcome(status_code: int, error: BaseException | None = None) -> Outcome:
    """How one publish call ended, from its HTTP status (0: no answer) and its error if any."""
    if status_code:
        return Outcome.OK if 200 <= status_code < 300 else Outcome.FAILED
    if isinstance(error, ConnectionRefusedError):
        return Outcome.FAILED  # nothing was sent: the message cannot be on its way
    return Outcome.INDETERMINATE


@dataclass(frozen=True)
class Publish:
    """One publish call as the generator saw it."""

    seq: int
    topic: str
    sent_at: float
    latency_ms: float
    outcome: Outcome = Outcome.OK
    intended_at: float | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    def attempt(self) -> Attempt:
        return Attempt(self.seq, self.topic, self.outcome)

    def as_row(self) -> list[Any]:
        """A compact row for locust's worker-to-master messages."""
        return [
            self.seq,
            self.topic,
            self.sent_at,
            self.latency_ms,
            self.outcome.value,
            self.intended_at,
        ]

    @classmethod
    def from_row(cls, row: list[Any]) -> Publish:
        seq, topic, sent_at, latency_ms, outcome, intended_at = row
        return cls(
            int(seq), str(topic), float(sent_at), float(latency_ms), Outcome(outcome), intended_at
        )


@dataclass(frozen=True)
class Receipt:
    """The first arrival of a seq at the subscriber, on one of the published topics."""

    seq: int
    topic: str
    sent_at: float | None
    first_received_at: float

    @property
    def latency_ms(self) -> float | None:
        return None if self.sent_at is None else e2e_ms(self.sent_at, self.first_received_at)


def arrival_key(arrival: Mapping[str, Any]) -> tuple[str, int] | None:
    """(topic, seq) of an attempt the ledger recorded; None when it is no load message."""
    seq, topic = arrival.get("seq"), arrival.get("topic")
    if not isinstance(seq, int) or isinstance(seq, bool) or not isinstance(topic, str):
        return None
    return topic, seq


@dataclass
class DeliveryTracker:
    """The master's view of one run: publishes from every process and the ledger's attempts.

    Attempts come in through a ledger cursor, each once, and are folded as they come into
    counts per (topic, seq), the first receipt per seq and the set of publishes still waiting,
    so taking in a poll costs what the poll brought, however long the run has been going.
    """

    run: str
    published: dict[int, Publish] = field(default_factory=dict)
    receipts: dict[int, Receipt] = field(default_factory=dict)
    arrived: dict[tuple[str, int], int] = field(default_factory=dict)  # (topic, seq) -> attempts
    waiting: set[int] = field(default_factory=set)  # acknowledged, arrived nowhere yet

    def add_published(self, publishes: Iterable[Publish]) -> None:
        for publish in publishes:
            self.published[publish.seq] = publish
            self._recheck(publish.seq)

    def add_arrivals(self, arrivals: Iterable[Mapping[str, Any]]) -> list[Receipt]:
        """Take attempts of the run not seen before; return the receipts of seqs new to it."""
        new: list[Receipt] = []
        for arrival in arrivals:
            key = arrival_key(arrival)
            if key is None:
                continue
            self.arrived[key] = self.arrived.get(key, 0) + 1
            if key[1] in self.published:
                self._recheck(key[1])
            receipt = self._receipt(key, arrival)
            if receipt is not None:
                new.append(receipt)
        return new

    def _receipt(self, key: tuple[str, int], arrival: Mapping[str, Any]) -> Receipt | None:
        """Keep the earliest arrival of a seq on a published topic; return it if it is new."""
        topic, seq = key
        if topic not in TOPICS:
            return None  # dead letters are no receipt
        sent_at = arrival.get("sent_at")
        receipt = Receipt(
            seq=seq,
            topic=topic,
            sent_at=float(sent_at) if isinstance(sent_at, int | float) else None,
            first_received_at=float(arrival["received_at"]),
        )
        known = self.receipts.get(seq)
        if known is None or receipt.first_received_at < known.first_received_at:
            self.receipts[seq] = receipt
        return receipt if known is None else None

    def _recheck(self, seq: int) -> None:
        """Is this publish still waiting: acknowledged, and neither on its topic nor dead?"""
        publish = self.published[seq]
        came = (publish.topic, seq) in self.arrived
        dead = (dead_letter_topic(publish.topic), seq) in self.arrived
        if publish.ok and not came and not dead:
            self.waiting.add(seq)
        else:
            self.waiting.discard(seq)

    def ok_publishes(self) -> list[Publish]:
        return [publish for publish in self.published.values() if publish.ok]

    def records(self) -> list[dict[str, Any]]:
        """The arrivals folded per (topic, seq), in the shape harness.verdict judges."""
        return [
            {"topic": topic, "seq": seq, "count": count}
            for (topic, seq), count in self.arrived.items()
        ]

    def verdict(self, topics: Iterable[str] | None = None) -> QueueVerdict:
        """The total-queue verdict over every publish so far (or those to `topics`)."""
        attempts = [publish.attempt() for publish in self.published.values()]
        return total_queue(attempts, self.records(), topics=topics, label=self.run)

    def undelivered(self) -> list[Publish]:
        """Acknowledged publishes that have arrived nowhere yet: lost, if the drain ends now."""
        return [self.published[seq] for seq in sorted(self.waiting)]

    def verdict_by_topic(self) -> dict[str, QueueVerdict]:
        topics = sorted({publish.topic for publish in self.published.values()})
        return {topic: self.verdict([topic]) for topic in topics}
