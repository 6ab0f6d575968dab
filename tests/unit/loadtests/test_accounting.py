"""Publish outcomes, receipts, and the total-queue verdict over publishes and ledger arrivals."""

from __future__ import annotations

import pytest

from harness.verdict import Outcome
from loadtests.accounting import DeliveryTracker, Publish, publish_outcome
from tests.unit.loadtests.fakes import RUN, START, arrival, publishes


def healthy_arrivals(count: int, delay: float = 0.02) -> list[dict[str, object]]:
    return [arrival(seq, START + seq * 0.1 + delay) for seq in range(count)]


@pytest.mark.parametrize(
    ("status", "error", "outcome"),
    [
        (200, None, Outcome.OK),
        (204, None, Outcome.OK),
        (404, None, Outcome.FAILED),
        (500, None, Outcome.FAILED),
        (503, None, Outcome.FAILED),
        (0, ConnectionRefusedError(111, "refused"), Outcome.FAILED),  # never sent
        (0, TimeoutError("timed out"), Outcome.INDETERMINATE),
        (0, TimeoutError("read timed out"), Outcome.INDETERMINATE),
        (0, ConnectionResetError(104, "reset by peer"), Outcome.INDETERMINATE),
        (0, None, Outcome.INDETERMINATE),
    ],
)
def test_a_publish_call_is_classified(status, error, outcome) -> None:
    assert publish_outcome(status, error) is outcome


def test_every_publish_delivered_once_is_healthy() -> None:
    tracker = DeliveryTracker(RUN)
    tracker.add_published(publishes(10))
    tracker.add_arrivals(healthy_arrivals(10))
    verdict = tracker.verdict()
    assert verdict.ok
    assert (verdict.acknowledged, len(verdict.delivered), len(verdict.lost)) == (10, 10, 0)
    assert not verdict.duplicated and not verdict.unexpected
    assert tracker.undelivered() == []


def test_lost_duplicated_unexpected_recovered_and_dead_lettered() -> None:
    tracker = DeliveryTracker(RUN)
    tracker.add_published(publishes(10))
    tracker.add_published(
        [
            Publish(10, "t1", START + 1.0, 3.0, Outcome.FAILED),  # service-1 answered 500
            Publish(11, "t1", START + 1.1, 3.0, Outcome.INDETERMINATE),  # timed out, arrived
            Publish(12, "t1", START + 1.2, 3.0, Outcome.INDETERMINATE),  # timed out, not seen
        ]
    )
    arrivals = healthy_arrivals(8)  # seqs 8 and 9 missing for now
    arrivals += [
        arrival(3, START + 0.43),  # redelivered under the same id
        arrival(8, START + 0.85, event_id="a"),  # published twice upstream: two ids, one seq
        arrival(8, START + 0.84, event_id="b"),
        arrival(11, START + 1.3),
        arrival(99, START + 0.5),  # nobody published seq 99
        arrival(2, START + 0.4, topic="t1-dead-letter"),
        arrival(None, START + 0.6),  # an attempt without a seq is not a load message
    ]
    tracker.add_arrivals(arrivals)
    verdict = tracker.verdict()
    counts = verdict.counts()
    assert counts["attempted"] == 13
    assert counts["acknowledged"] == 10
    assert (counts["failed"], counts["indeterminate"]) == (1, 2)
    assert counts["delivered"] == 9
    assert verdict.lost == {9}
    assert set(verdict.duplicated) == {3, 8}  # seq 3 (count 2) and seq 8 (two ids)
    assert verdict.unexpected == {99}
    assert verdict.recovered == {11}
    assert verdict.dead_lettered == {2}
    assert not verdict.ok
    assert [p.seq for p in tracker.undelivered()] == [9]
    assert tracker.receipts[8].first_received_at == START + 0.84  # the earlier id counts
    by_topic = tracker.verdict_by_topic()
    assert list(by_topic) == ["t1"] and by_topic["t1"].lost == {9}


def test_a_dead_lettered_publish_is_not_waited_for() -> None:
    tracker = DeliveryTracker(RUN)
    tracker.add_published(publishes(2))
    tracker.add_arrivals([arrival(0, START + 0.1), arrival(1, START + 0.2, topic="t1-dead-letter")])
    assert tracker.undelivered() == []
    assert tracker.verdict().dead_lettered == {1}


def test_add_arrivals_returns_only_receipts_of_new_seqs() -> None:
    tracker = DeliveryTracker(RUN)
    assert [r.seq for r in tracker.add_arrivals(healthy_arrivals(3))] == [0, 1, 2]
    assert tracker.add_arrivals([arrival(1, START + 0.5)]) == []  # a redelivery
    assert [r.seq for r in tracker.add_arrivals([arrival(3, START + 0.4)])] == [3]
    assert tracker.arrived[("t1", 1)] == 2


def test_a_publish_reported_after_its_arrival_is_not_waited_for() -> None:
    tracker = DeliveryTracker(RUN)
    tracker.add_arrivals([arrival(0, START + 0.1)])  # workers report publishes once a second
    tracker.add_published(publishes(2))
    assert [p.seq for p in tracker.undelivered()] == [1]
    tracker.add_arrivals([arrival(1, START + 0.2, topic="t2")])  # the wrong topic
    assert [p.seq for p in tracker.undelivered()] == [1]
    assert tracker.verdict().unexpected == {1}


def test_e2e_latency_runs_to_the_first_receipt_not_the_handler() -> None:
    tracker = DeliveryTracker(RUN)
    [receipt] = tracker.add_arrivals([arrival(0, received_at=START + 0.015, topic="t2")])
    assert receipt.latency_ms == pytest.approx(15.0)


def test_the_earliest_arrival_is_the_receipt_whatever_the_order() -> None:
    tracker = DeliveryTracker(RUN)
    tracker.add_arrivals([arrival(0, START + 0.2), arrival(0, START + 0.1)])
    assert tracker.receipts[0].first_received_at == START + 0.1


def test_publishes_travel_as_rows_between_processes() -> None:
    for outcome in Outcome:
        publish = Publish(7, "t2", 12.5, 3.25, outcome, intended_at=12.4)
        assert Publish.from_row(publish.as_row()) == publish
    assert Publish(1, "t1", 1.0, 1.0).ok
