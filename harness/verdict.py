"""The delivery verdict: what a run published against what the ledger says arrived.

Dapr promises at-least-once delivery, so a duplicate is reported but is not a failure;
a lost message is. Unexpected records (a sequence number never published) point at a
mix-up of runs or topics.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Verdict:
    topic: str
    published: int
    delivered: frozenset[int]
    lost: frozenset[int] = field(default_factory=frozenset)
    duplicated: Mapping[int, int] = field(default_factory=dict)
    unexpected: frozenset[int] = field(default_factory=frozenset)

    @property
    def ok(self) -> bool:
        return not self.lost and not self.unexpected

    def __str__(self) -> str:
        parts = [
            f"{self.topic}: published {self.published}, delivered {len(self.delivered)}",
            f"lost {len(self.lost)}",
            f"duplicated {len(self.duplicated)}",
            f"unexpected {len(self.unexpected)}",
        ]
        text = ", ".join(parts)
        if self.lost:
            text += f"; lost seq {_few(self.lost)}"
        if self.duplicated:
            text += f"; duplicated seq {_few(self.duplicated)}"
        if self.unexpected:
            text += f"; unexpected seq {_few(self.unexpected)}"
        return text


def _few(numbers: Iterable[int], limit: int = 10) -> str:
    ordered = sorted(numbers)
    shown = ", ".join(str(n) for n in ordered[:limit])
    return shown + (f" … (+{len(ordered) - limit})" if len(ordered) > limit else "")


def delivery_verdict(
    topic: str, published: Iterable[int], records: Iterable[Mapping[str, Any]]
) -> Verdict:
    """Compare the published sequence numbers with the ledger's records for `topic`."""
    expected = frozenset(published)
    counts: dict[int, int] = {}
    for record in records:
        if record.get("topic") != topic or record.get("seq") is None:
            continue
        seq = int(record["seq"])
        counts[seq] = counts.get(seq, 0) + int(record.get("count", 1))
    delivered = frozenset(counts)
    return Verdict(
        topic=topic,
        published=len(expected),
        delivered=delivered & expected,
        lost=expected - delivered,
        duplicated={seq: n for seq, n in counts.items() if n > 1 and seq in expected},
        unexpected=delivered - expected,
    )
