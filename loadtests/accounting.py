"""What a load run published against what the ledger says arrived, judged by harness.verdict.

Each publish call is an attempt with an outcome (`publish_outcome`): service-1 answered 2xx ->
ok; it answered anything else -> failed; the call timed out or its connection broke after it
was sent -> indeterminate (the message may be on its way). The tracker hands the attempts and
the ledger's records to `harness.verdict.total_queue`, which counts delivered, lost,
duplicated, unexpected, recovered and dead-lettered messages; this module only keeps the
records and the first receipt of each message, for end-to-end latency: from its `sent_at`
to its first arrival (receipt by the subscriber, not the end of the handler: t2's handler
sleeps before it answers).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.verdict import Attempt, Outcome, QueueVerdict, total_queue
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


def receipts_of(records: Iterable[dict[str, Any]], run: str) -> dict[int, Receipt]:
    """The first arrival of each seq of the run on a published topic (dead letters aside)."""
    first: dict[int, dict[str, Any]] = {}
    for record in records:
        seq, topic = record.get("seq"), record.get("topic")
        if record.get("run") != run or not isinstance(seq, int) or topic not in TOPICS:
            continue
        if seq not in first or record["first_received_at"] < first[seq]["first_received_at"]:
            first[seq] = record
    return {
        seq: Receipt(
            seq=seq,
            topic=record["topic"],
            sent_at=record.get("sent_at"),
            first_received_at=float(record["first_received_at"]),
        )
        for seq, record in first.items()
    }


@dataclass
class DeliveryTracker:
    """The master's view of one run: publishes from every process and the ledger's records."""

    run: str
    published: dict[int, Publish] = field(default_factory=dict)
    receipts: dict[int, Receipt] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)

    def add_published(self, publishes: Iterable[Publish]) -> None:
        for publish in publishes:
            self.published[publish.seq] = publish

    def update(self, records: Iterable[dict[str, Any]]) -> list[Receipt]:
        """Take the ledger's current records of the run; return the receipts not seen before."""
        self.records = list(records)
        receipts = receipts_of(self.records, self.run)
        new = [receipt for seq, receipt in receipts.items() if seq not in self.receipts]
        self.receipts = receipts
        return new

    def ok_publishes(self) -> list[Publish]:
        return [publish for publish in self.published.values() if publish.ok]

    def verdict(self, topics: Iterable[str] | None = None) -> QueueVerdict:
        """The total-queue verdict over every publish so far (or those to `topics`)."""
        attempts = [publish.attempt() for publish in self.published.values()]
        return total_queue(attempts, self.records, run=self.run, topics=topics, label=self.run)

    def undelivered(self) -> list[Publish]:
        """Acknowledged publishes that have arrived nowhere yet: lost, if the drain ends now."""
        lost = self.verdict().lost
        return [self.published[seq] for seq in sorted(lost)]

    def verdict_by_topic(self) -> dict[str, QueueVerdict]:
        topics = sorted({publish.topic for publish in self.published.values()})
        return {topic: self.verdict([topic]) for topic in topics}
