"""The delivery ledger on its own: recording, folding into records, persistence, the bench."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from system_under_test.service1.ledger import Delivery, Ledger

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
ENVELOPE = {"source": "service-1", "topic": "t1", "pubsubname": "messagebus"}


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "ledger.sqlite3"


@pytest.fixture
def ledger(ledger_path: Path) -> Iterator[Ledger]:
    opened = Ledger.open(ledger_path)
    yield opened
    opened.close()


def delivery(
    event_id: str, topic: str = "t1", run: str | None = "r1", **fields: object
) -> Delivery:
    values: dict[str, object] = {
        "event_id": event_id,
        "topic": topic,
        "route": f"/{topic}",
        "run": run,
        "seq": 1,
        "sent_at": 100.5,
        "received_at": 200.0,
        "traceparent": TRACEPARENT,
        "envelope": ENVELOPE,
    }
    values.update(fields)
    return Delivery(**values)  # type: ignore[arg-type]


def test_open_creates_the_file_in_wal_mode(ledger: Ledger, ledger_path: Path) -> None:
    assert ledger_path.exists()
    assert ledger.journal_mode() == "wal"


def test_one_delivery_becomes_one_record(ledger: Ledger) -> None:
    attempt = ledger.received(delivery("e1"))
    ledger.answered(attempt, "SUCCESS", handled_at=210.0)
    assert ledger.records("r1") == [
        {
            "id": "e1",
            "topic": "t1",
            "route": "/t1",
            "run": "r1",
            "seq": 1,
            "sent_at": 100.5,
            "first_received_at": 200.0,
            "last_received_at": 200.0,
            "count": 1,
            "answers": ["SUCCESS"],
            "traceparent": TRACEPARENT,
            "envelope": ENVELOPE,
            "handled_at": 210.0,
        }
    ]


def test_attempts_fold_per_id_and_topic(ledger: Ledger) -> None:
    for received_at, answer in ((200.0, "RETRY"), (215.0, "500"), (230.0, "SUCCESS")):
        attempt = ledger.received(delivery("e1", received_at=received_at))
        ledger.answered(attempt, answer, handled_at=received_at + 1)
    dead = ledger.received(delivery("e1", topic="t1-dead-letter", received_at=300.0))
    ledger.answered(dead, "SUCCESS", handled_at=301.0)
    ledger.answered(ledger.received(delivery("e2", seq=2)), "SUCCESS")

    records = ledger.records("r1")
    assert [(r["id"], r["topic"], r["count"]) for r in records] == [
        ("e1", "t1", 3),
        ("e1", "t1-dead-letter", 1),
        ("e2", "t1", 1),
    ]
    first = records[0]
    assert first["answers"] == ["RETRY", "500", "SUCCESS"]
    assert (first["first_received_at"], first["last_received_at"]) == (200.0, 230.0)
    assert first["handled_at"] == 231.0
    assert ledger.attempts("e1", "t1") == 3
    assert ledger.attempts("e1", "t1-dead-letter") == 1
    assert ledger.attempts("e9", "t1") == 0


def test_an_unanswered_attempt_counts_but_has_no_answer(ledger: Ledger) -> None:
    ledger.received(delivery("e1"))
    [record] = ledger.records("r1")
    assert (record["count"], record["answers"], record["handled_at"]) == (1, [], None)
    assert ledger.summary("r1")["topics"]["t1"]["answers"] == {"PENDING": 1}


def test_rejected_delivery_is_recorded_with_its_error(ledger: Ledger) -> None:
    ledger.rejected(delivery("bad", seq=None), "not a CloudEvent: no 'data'")
    [record] = ledger.records("r1")
    assert (record["id"], record["seq"], record["answers"]) == ("bad", None, ["REJECTED"])
    assert record["handled_at"] is not None
    [row] = ledger.last_attempts(1)
    assert row["error"] == "not a CloudEvent: no 'data'"


def test_records_are_per_run(ledger: Ledger) -> None:
    ledger.answered(ledger.received(delivery("a", run="r1")), "SUCCESS")
    ledger.answered(ledger.received(delivery("b", run="r2")), "SUCCESS")
    ledger.answered(ledger.received(delivery("c", run=None)), "SUCCESS")
    assert [r["id"] for r in ledger.records("r1")] == ["a"]
    assert [r["id"] for r in ledger.records("r2")] == ["b"]
    assert ledger.records("r3") == []
    assert [row["event_id"] for row in ledger.last_attempts(3)] == ["c", "b", "a"]


def test_summary_counts_ids_deliveries_and_answers(ledger: Ledger) -> None:
    ledger.answered(ledger.received(delivery("a")), "RETRY")
    ledger.answered(ledger.received(delivery("a")), "SUCCESS")
    ledger.answered(ledger.received(delivery("b", topic="t2")), "SUCCESS")
    assert ledger.summary("r1") == {
        "run": "r1",
        "deliveries": 3,
        "topics": {
            "t1": {"ids": 1, "deliveries": 2, "answers": {"RETRY": 1, "SUCCESS": 1}},
            "t2": {"ids": 1, "deliveries": 1, "answers": {"SUCCESS": 1}},
        },
    }
    assert ledger.summary("nobody") == {"run": "nobody", "deliveries": 0, "topics": {}}


def test_records_survive_closing_and_reopening(ledger_path: Path) -> None:
    first = Ledger.open(ledger_path)
    first.answered(first.received(delivery("e1")), "RETRY")
    first.received(delivery("e1", received_at=250.0))  # the process dies mid-handler
    first.close()

    second = Ledger.open(ledger_path)
    try:
        [record] = second.records("r1")
        assert (record["count"], record["answers"]) == (2, ["RETRY"])
        assert record["last_received_at"] == 250.0
        assert second.attempts("e1", "t1") == 2
    finally:
        second.close()


def test_records_survive_a_process_that_never_closed(ledger_path: Path) -> None:
    crashed = Ledger.open(ledger_path)
    crashed.answered(crashed.received(delivery("e1")), "SUCCESS")
    # No close() and no checkpoint: what is in the WAL must still be read back.
    with sqlite3.connect(ledger_path) as other:
        assert other.execute("SELECT event_id, answer FROM deliveries").fetchall() == [
            ("e1", "SUCCESS")
        ]
    crashed.close()


def test_checkpoint_from_another_thread_while_writing(ledger: Ledger, ledger_path: Path) -> None:
    errors: list[BaseException] = []

    def checkpoint_repeatedly() -> None:
        try:
            for _ in range(20):
                ledger.checkpoint()
        except BaseException as err:  # noqa: BLE001 - handed to the test thread
            errors.append(err)

    checkpointer = threading.Thread(target=checkpoint_repeatedly)
    checkpointer.start()
    for index in range(300):
        ledger.answered(ledger.received(delivery(f"e{index}")), "SUCCESS")
    checkpointer.join()
    assert errors == []
    assert len(ledger.records("r1")) == 300
    wal = ledger_path.with_name(ledger_path.name + "-wal")
    ledger.close()
    assert not wal.exists() or wal.stat().st_size == 0  # close() truncates the WAL
    reopened = Ledger.open(ledger_path)
    assert len(reopened.records("r1")) == 300
    reopened.close()
