"""What was published against what the ledger says arrived: delivered, lost, duplicated.

Publishes are known by (run, seq); the ledger holds one record per (CloudEvent id, topic). A
message counts as delivered when a record with its seq arrived on a published topic; its
end-to-end latency runs from its `sent_at` to the first such arrival (receipt by the subscriber,
not the end of the handler: t2's handler sleeps before it answers).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from loadtests.latency import e2e_ms
from loadtests.options import TOPICS


@dataclass(frozen=True)
class Publish:
    """One publish call as the generator saw it."""

    seq: int
    topic: str
    sent_at: float
    latency_ms: float
    ok: bool
    intended_at: float | None = None

    def as_row(self) -> list[Any]:
        """A compact row for locust's worker-to-master messages."""
        return [self.seq, self.topic, self.sent_at, self.latency_ms, self.ok, self.intended_at]

    @classmethod
    def from_row(cls, row: list[Any]) -> Publish:
        seq, topic, sent_at, latency_ms, ok, intended_at = row
        return cls(int(seq), str(topic), float(sent_at), float(latency_ms), bool(ok), intended_at)


@dataclass(frozen=True)
class Receipt:
    """The first arrival of a seq at the subscriber, and how often it arrived in all."""

    seq: int
    topic: str
    sent_at: float | None
    first_received_at: float
    count: int

    @property
    def latency_ms(self) -> float | None:
        return None if self.sent_at is None else e2e_ms(self.sent_at, self.first_received_at)


@dataclass(frozen=True)
class DeliveryCounts:
    published: int
    failed: int
    delivered: int
    lost: int
    duplicated: int
    unexpected: int
    dead_lettered: int

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def receipts_of(records: Iterable[dict[str, Any]], run: str) -> tuple[dict[int, Receipt], set[int]]:
    """Fold ledger records into one Receipt per seq, and the seqs seen on a dead-letter topic."""
    first: dict[int, dict[str, Any]] = {}
    counts: dict[int, int] = defaultdict(int)
    dead_lettered: set[int] = set()
    for record in records:
        seq = record.get("seq")
        if record.get("run") != run or not isinstance(seq, int):
            continue
        topic = record.get("topic")
        if topic not in TOPICS:
            if isinstance(topic, str) and topic.endswith("-dead-letter"):
                dead_lettered.add(seq)
            continue
        counts[seq] += int(record.get("count") or 1)
        if seq not in first or record["first_received_at"] < first[seq]["first_received_at"]:
            first[seq] = record
    receipts = {
        seq: Receipt(
            seq=seq,
            topic=record["topic"],
            sent_at=record.get("sent_at"),
            first_received_at=float(record["first_received_at"]),
            count=counts[seq],
        )
        for seq, record in first.items()
    }
    return receipts, dead_lettered


@dataclass
class DeliveryTracker:
    """The master's view of one run: publishes from every process and the ledger's records."""

    run: str
    published: dict[int, Publish] = field(default_factory=dict)
    receipts: dict[int, Receipt] = field(default_factory=dict)
    dead_lettered: set[int] = field(default_factory=set)

    def add_published(self, publishes: Iterable[Publish]) -> None:
        for publish in publishes:
            self.published[publish.seq] = publish

    def update(self, records: Iterable[dict[str, Any]]) -> list[Receipt]:
        """Take the ledger's current records of the run; return the receipts not seen before."""
        receipts, self.dead_lettered = receipts_of(records, self.run)
        new = [receipt for seq, receipt in receipts.items() if seq not in self.receipts]
        self.receipts = receipts
        return new

    def ok_publishes(self) -> list[Publish]:
        return [publish for publish in self.published.values() if publish.ok]

    def undelivered(self) -> list[Publish]:
        return [p for p in self.ok_publishes() if p.seq not in self.receipts]

    def counts(self) -> DeliveryCounts:
        ok = {p.seq for p in self.ok_publishes()}
        delivered = ok & self.receipts.keys()
        return DeliveryCounts(
            published=len(ok),
            failed=len(self.published) - len(ok),
            delivered=len(delivered),
            lost=len(ok - delivered),
            duplicated=sum(1 for seq in delivered if self.receipts[seq].count > 1),
            unexpected=len(self.receipts.keys() - ok),
            dead_lettered=len(self.dead_lettered & ok),
        )

    def counts_by_topic(self) -> dict[str, dict[str, int]]:
        by_topic: dict[str, dict[str, int]] = {}
        for publish in self.ok_publishes():
            figures = by_topic.setdefault(
                publish.topic, {"published": 0, "delivered": 0, "lost": 0, "duplicated": 0}
            )
            figures["published"] += 1
            receipt = self.receipts.get(publish.seq)
            if receipt is None:
                figures["lost"] += 1
                continue
            figures["delivered"] += 1
            if receipt.count > 1:
                figures["duplicated"] += 1
        return by_topic
