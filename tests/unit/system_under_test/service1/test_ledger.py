"""The delivery ledger on its own: recording, folding into records, persistence, the bench."""

from __future__ import annotations

import sqlite3
import threading
import time
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


def test_the_wal_stays_bounded_under_writes_that_never_pause(
    ledger: Ledger, ledger_path: Path
) -> None:
    # A passive checkpoint alone never reaches the end of a WAL that is written to all the
    # time, so the WAL never starts over: here it grew to 100 MiB.
    wal = ledger_path.with_name(ledger_path.name + "-wal")
    writing = threading.Event()
    errors: list[BaseException] = []
    largest = 0

    def checkpoint_while_writing() -> None:
        nonlocal largest
        writing.wait()
        try:
            while writing.is_set():
                ledger.checkpoint(restart_bytes=8 * 1024 * 1024)
                largest = max(largest, wal.stat().st_size)
                time.sleep(0.005)
        except BaseException as err:  # noqa: BLE001 - handed to the test thread
            errors.append(err)

    checkpointer = threading.Thread(target=checkpoint_while_writing)
    checkpointer.start()
    writing.set()
    try:
        for index in range(6000):
            ledger.answered(ledger.received(delivery(f"e{index}")), "SUCCESS")
    finally:
        writing.clear()
        checkpointer.join()
    assert errors == []
    assert largest < 32 * 1024 * 1024, f"the WAL grew to {largest / 2**20:.1f} MiB"
    assert len(ledger.records("r1")) == 6000


# --- reads by cursor ------------------------------------------------------------------------


def read_to_the_end(ledger: Ledger, run: str, after: int, limit: int) -> tuple[list[int], int]:
    """Page on from `after` until the ledger says there is no more: (attempts, cursor)."""
    seen: list[int] = []
    while True:
        page = ledger.arrivals(run, after, limit)
        seen += [arrival["attempt"] for arrival in page["arrivals"]]
        assert page["next"] >= after
        after = page["next"]
        if not page["more"]:
            return seen, after


def test_an_arrival_carries_what_accounting_needs(ledger: Ledger) -> None:
    attempt = ledger.received(delivery("e1", seq=7))
    assert ledger.arrivals("r1", 0, 10) == {
        "arrivals": [
            {
                "attempt": attempt,
                "id": "e1",
                "topic": "t1",
                "route": "/t1",
                "seq": 7,
                "sent_at": 100.5,
                "received_at": 200.0,
            }
        ],
        "next": attempt,
        "more": False,
    }


def test_pages_follow_each_other_and_end(ledger: Ledger) -> None:
    attempts = [ledger.received(delivery(f"e{n}", seq=n)) for n in range(25)]
    ledger.received(delivery("other", run="r2"))
    first = ledger.arrivals("r1", 0, 10)
    assert [a["seq"] for a in first["arrivals"]] == list(range(10))
    assert (first["next"], first["more"]) == (attempts[9], True)
    seen, cursor = read_to_the_end(ledger, "r1", 0, 10)
    assert seen == attempts
    assert cursor == attempts[-1]
    assert ledger.arrivals("r1", cursor, 10) == {"arrivals": [], "next": cursor, "more": False}
    exact = ledger.arrivals("r1", attempts[14], 10)  # the last page is exactly full
    assert (len(exact["arrivals"]), exact["more"]) == (10, False)


def test_a_cursor_of_an_unknown_run_stays_where_it_is(ledger: Ledger) -> None:
    ledger.received(delivery("e1"))
    assert ledger.arrivals("nobody", 0, 5) == {"arrivals": [], "next": 0, "more": False}
    assert ledger.arrivals("nobody", 42, 5)["next"] == 42


def test_a_cursor_read_returns_each_attempt_once_while_others_are_written(
    ledger: Ledger, ledger_path: Path
) -> None:
    """A reader pages on while two writers, each on its own connection, insert."""
    written: list[int] = []

    def write(prefix: str) -> None:
        own = Ledger.open(ledger_path)
        try:
            written.extend(own.received(delivery(f"{prefix}{n}", seq=n)) for n in range(400))
        finally:
            own.close()

    writers = [threading.Thread(target=write, args=(prefix,)) for prefix in ("a", "b")]
    for writer in writers:
        writer.start()
    seen: list[int] = []
    cursor = 0
    while any(writer.is_alive() for writer in writers):
        chunk, cursor = read_to_the_end(ledger, "r1", cursor, 7)
        seen += chunk
    chunk, cursor = read_to_the_end(ledger, "r1", cursor, 7)  # after the last commit
    seen += chunk
    for writer in writers:
        writer.join()
    assert len(seen) == len(set(seen)) == 800
    assert sorted(seen) == sorted(written)
    assert seen == sorted(seen)  # oldest first, across pages
