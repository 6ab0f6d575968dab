"""The delivery verdict: a total-queue checker over what a run published and what arrived.

It follows Jepsen's total-queue checker. Every publish attempt has an outcome: `ok` (service-1
answered 200), `failed` (a definite refusal) or `indeterminate` (timed out or the connection
was lost mid-call: it may or may not have been published). The ledger says what arrived.

- delivered: acknowledged publishes that arrived on the topic they were published to;
- lost: acknowledged publishes that arrived nowhere (neither the topic nor its dead letter);
- duplicated: published messages that arrived on their topic more than once;
- unexpected: arrivals of a sequence number that was never attempted;
- recovered: failed or indeterminate publishes that arrived anyway;
- dead-lettered: attempted messages that reached the topic's dead-letter topic.

Dapr promises at-least-once delivery, so a duplicate is reported but is not a failure; lost
and unexpected messages are. The load gate, the e2e gate and the fault scenarios all judge
with `total_queue()`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

DEAD_LETTER_SUFFIX = "-dead-letter"


def dead_letter_topic(topic: str) -> str:
    return f"{topic}{DEAD_LETTER_SUFFIX}"


class Outcome(StrEnum):
    """What a publish call told its caller."""

    OK = "ok"
    FAILED = "failed"
    INDETERMINATE = "indeterminate"


@dataclass(frozen=True)
class Attempt:
    """One publish call: which message, to which topic, and how it ended."""

    seq: int
    topic: str
    outcome: Outcome = Outcome.OK


def attempts_ok(topic: str, seqs: Iterable[int]) -> list[Attempt]:
    """Publishes that all succeeded: the usual case of an e2e check."""
    return [Attempt(seq, topic) for seq in seqs]


@dataclass(frozen=True)
class QueueVerdict:
    """The counts of one run; `ok` when nothing acknowledged was lost and nothing is unexpected."""

    attempted: int
    acknowledged: int
    failed: int
    indeterminate: int
    delivered: frozenset[int] = field(default_factory=frozenset)
    lost: frozenset[int] = field(default_factory=frozenset)
    duplicated: Mapping[int, int] = field(default_factory=dict)  # seq -> times it arrived
    unexpected: frozenset[int] = field(default_factory=frozenset)
    recovered: frozenset[int] = field(default_factory=frozenset)
    dead_lettered: frozenset[int] = field(default_factory=frozenset)
    label: str = ""

    @property
    def ok(self) -> bool:
        return not self.lost and not self.unexpected

    def counts(self) -> dict[str, int]:
        return {
            "attempted": self.attempted,
            "acknowledged": self.acknowledged,
            "failed": self.failed,
            "indeterminate": self.indeterminate,
            "delivered": len(self.delivered),
            "lost": len(self.lost),
            "duplicated": len(self.duplicated),
            "unexpected": len(self.unexpected),
            "recovered": len(self.recovered),
            "dead_lettered": len(self.dead_lettered),
        }

    @property
    def arrivals(self) -> int:
        """Deliveries of acknowledged messages on their topic, redeliveries included."""
        return sum(self.duplicated.get(seq, 1) for seq in self.delivered)

    def fractions(self) -> dict[str, float]:
        """Each count as a fraction of the attempts (0 for an empty run)."""
        whole = self.attempted or 1
        return {
            name: round(count / whole, 6)
            for name, count in self.counts().items()
            if name != "attempted"
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "ok": self.ok,
            "counts": self.counts(),
            "fractions": self.fractions(),
            "lost_seqs": sorted(self.lost)[:100],
            "duplicated_seqs": sorted(self.duplicated)[:100],
            "unexpected_seqs": sorted(self.unexpected)[:100],
            "recovered_seqs": sorted(self.recovered)[:100],
        }

    def __str__(self) -> str:
        head = f"{self.label}: " if self.label else ""
        text = head + (
            f"published {self.acknowledged}"
            + (f" (+{self.failed} failed" if self.failed else "")
            + (f", +{self.indeterminate} indeterminate" if self.indeterminate else "")
            + (")" if self.failed or self.indeterminate else "")
            + f", delivered {len(self.delivered)}, lost {len(self.lost)}, "
            f"duplicated {len(self.duplicated)}, unexpected {len(self.unexpected)}"
        )
        if self.recovered:
            text += f", recovered {len(self.recovered)}"
        if self.dead_lettered:
            text += f", dead-lettered {len(self.dead_lettered)}"
        for name, seqs in (
            ("lost", self.lost),
            ("duplicated", self.duplicated),
            ("unexpected", self.unexpected),
        ):
            if seqs:
                text += f"; {name} seq {few(seqs)}"
        return text


def few(numbers: Iterable[int], limit: int = 10) -> str:
    ordered = sorted(numbers)
    shown = ", ".join(str(n) for n in ordered[:limit])
    return shown + (f" … (+{len(ordered) - limit})" if len(ordered) > limit else "")


def _arrivals(
    records: Iterable[Mapping[str, Any]], run: str | None
) -> tuple[dict[tuple[str, int], int], set[tuple[str, int]]]:
    """(topic, seq) -> times it arrived on a subscribed topic; (topic, seq) dead-lettered."""
    arrived: dict[tuple[str, int], int] = {}
    dead: set[tuple[str, int]] = set()
    for record in records:
        seq, topic = record.get("seq"), record.get("topic")
        if not isinstance(seq, int) or isinstance(seq, bool) or not isinstance(topic, str):
            continue
        if run is not None and record.get("run") != run:
            continue
        if topic.endswith(DEAD_LETTER_SUFFIX):
            dead.add((topic.removesuffix(DEAD_LETTER_SUFFIX), seq))
            continue
        key = (topic, seq)
        arrived[key] = arrived.get(key, 0) + int(record.get("count") or 1)
    return arrived, dead


def total_queue(
    attempts: Iterable[Attempt],
    records: Iterable[Mapping[str, Any]],
    *,
    run: str | None = None,
    topics: Iterable[str] | None = None,
    label: str = "",
) -> QueueVerdict:
    """Judge one run: `attempts` as the publisher saw them, `records` from the ledger.

    `run` keeps only that run's records; `topics` limits the judgement to those topics
    (records on other topics are ignored, not unexpected).
    """
    chosen = None if topics is None else set(topics)
    by_seq: dict[int, Attempt] = {}
    for attempt in attempts:
        if chosen is None or attempt.topic in chosen:
            by_seq[attempt.seq] = attempt
    arrived, dead = _arrivals(records, run)
    if chosen is not None:
        arrived = {key: n for key, n in arrived.items() if key[0] in chosen}
        dead = {key for key in dead if key[0] in chosen}
    attempted, acked = by_seq.keys(), {s for s, a in by_seq.items() if a.outcome is Outcome.OK}
    times: dict[int, int] = {}  # arrivals of an attempted seq on the topic it was sent to
    strays: set[int] = {seq for _, seq in dead if seq not in attempted}
    for (topic, seq), n in arrived.items():
        if seq in attempted and by_seq[seq].topic == topic:
            times[seq] = times.get(seq, 0) + n
        else:
            strays.add(seq)
    dead_seqs = {seq for _, seq in dead} & attempted
    return QueueVerdict(
        attempted=len(by_seq),
        acknowledged=len(acked),
        failed=sum(1 for a in by_seq.values() if a.outcome is Outcome.FAILED),
        indeterminate=sum(1 for a in by_seq.values() if a.outcome is Outcome.INDETERMINATE),
        delivered=frozenset(acked & times.keys()),
        lost=frozenset(acked - times.keys() - dead_seqs),
        duplicated={seq: n for seq, n in times.items() if n > 1},
        unexpected=frozenset(strays),
        recovered=frozenset((times.keys() | dead_seqs) - acked),
        dead_lettered=frozenset(dead_seqs),
        label=label,
    )


def delivery_verdict(
    topic: str, published: Iterable[int], records: Iterable[Mapping[str, Any]]
) -> QueueVerdict:
    """Every seq in `published` was acknowledged on `topic`: judge the ledger's records for it."""
    return total_queue(attempts_ok(topic, published), records, topics=[topic], label=topic)
