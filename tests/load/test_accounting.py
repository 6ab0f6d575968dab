"""Delivered, lost, duplicated and unexpected, from publishes and fake ledger records."""

from __future__ import annotations

import pytest

from loadtests.accounting import DeliveryTracker, Publish, receipts_of
from tests.load.fakes import RUN, START, publishes, record


def healthy_records(count: int, delay: float = 0.02) -> list[dict[str, object]]:
    return [record(seq, START + seq * 0.1 + delay) for seq in range(count)]


def test_every_publish_delivered_once_is_healthy() -> None:
    tracker = DeliveryTracker(RUN)
    tracker.add_published(publishes(10))
    tracker.update(healthy_records(10))
    counts = tracker.counts()
    assert (counts.published, counts.delivered, counts.lost, counts.duplicated) == (10, 10, 0, 0)
    assert counts.unexpected == 0
    assert tracker.undelivered() == []


def test_lost_duplicated_unexpected_and_dead_lettered() -> None:
    tracker = DeliveryTracker(RUN)
    tracker.add_published(publishes(10))
    tracker.add_published([Publish(10, "t1", START + 1.0, 3.0, ok=False)])  # a failed publish
    records = healthy_records(8)  # seqs 8 and 9 missing for now
    records[3] = record(3, START + 0.33, count=2)  # redelivered under the same id
    records += [
        record(8, START + 0.85, event_id="a"),  # published twice upstream: two ids, one seq
        record(8, START + 0.84, event_id="b"),
        record(99, START + 0.5),  # nobody published seq 99 with success
        record(2, START + 0.4, topic="t1-dead-letter"),
        record(5, START + 0.6, run="another-run"),  # another run's record is not ours
        record(None, START + 0.6),  # a record without a seq is not a load message
    ]
    tracker.update(records)
    counts = tracker.counts()
    assert counts.published == 10
    assert counts.failed == 1
    assert counts.delivered == 9
    assert counts.lost == 1  # seq 9
    assert counts.duplicated == 2  # seq 3 (count 2) and seq 8 (two ids)
    assert counts.unexpected == 1  # seq 99
    assert counts.dead_lettered == 1
    assert [p.seq for p in tracker.undelivered()] == [9]
    assert tracker.receipts[8].first_received_at == START + 0.84  # the earlier id counts
    assert tracker.counts_by_topic() == {
        "t1": {"published": 10, "delivered": 9, "lost": 1, "duplicated": 2}
    }


def test_update_returns_only_receipts_not_seen_before() -> None:
    tracker = DeliveryTracker(RUN)
    records = healthy_records(3)
    assert [r.seq for r in tracker.update(records)] == [0, 1, 2]
    assert tracker.update(records) == []
    records.append(record(3, START + 0.4))
    assert [r.seq for r in tracker.update(records)] == [3]


def test_e2e_latency_runs_to_the_first_receipt_not_the_handler() -> None:
    t2 = record(0, received_at=START + 0.015, topic="t2")
    t2["handled_at"] = START + 10.015  # the t2 handler sleeps before it answers
    receipts, _ = receipts_of([t2], RUN)
    assert receipts[0].latency_ms == pytest.approx(15.0)


def test_publishes_travel_as_rows_between_processes() -> None:
    publish = Publish(7, "t2", 12.5, 3.25, True, intended_at=12.4)
    assert Publish.from_row(publish.as_row()) == publish
