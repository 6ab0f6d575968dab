"""The delivery ledger: every delivery attempt to a subscriber route, in an SQLite file.

One row per attempt, written when it arrives and completed when the handler answers, so a
restart in the middle of a handler still leaves the arrival on record. `records(run)` folds the
rows into the contract's shape: one record per (CloudEvent id, topic).

Writes run inline on the event loop: in WAL mode with synchronous=NORMAL a commit appends to
the WAL without fsync, which costs tens of microseconds (loadtests/bench_ledger.py measures
it) -- about what handing the write to a thread and back would cost. The WAL checkpoint is
what syncs to disk (ms, tens of ms on a busy disk), so the writer never checkpoints by itself:
the app calls `checkpoint()` from a worker thread every second, and it keeps the WAL bounded.
Reading a whole run can take a second for 100k records, so `records` and `summary` open their
own read connection and are meant for a worker thread too. A runner that polls during a run
reads `arrivals` instead: only the attempts after the last one it saw, so a poll costs the
same early and late in a run.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WAL_RESTART_BYTES = 64 * 1024 * 1024
RESTART_WAIT_MS = 100  # how long a restarting checkpoint waits for readers, holding the writer
REJECTED = "REJECTED"
PENDING = "PENDING"  # summary only: an attempt whose handler has not answered yet

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    attempt     INTEGER PRIMARY KEY,
    event_id    TEXT NOT NULL,
    topic       TEXT NOT NULL,
    route       TEXT NOT NULL,
    run         TEXT,
    seq         INTEGER,
    sent_at     REAL,
    received_at REAL NOT NULL,
    answer      TEXT,
    handled_at  REAL,
    traceparent TEXT,
    envelope    TEXT NOT NULL,
    error       TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_by_run ON deliveries (run);
CREATE INDEX IF NOT EXISTS deliveries_by_event ON deliveries (event_id, topic);
"""

# What a cursor read answers per attempt: enough to account for a delivery, nothing more.
_ARRIVAL_COLUMNS = ("attempt", "id", "topic", "route", "seq", "sent_at", "received_at")

_INSERT = """
INSERT INTO deliveries (event_id, topic, route, run, seq, sent_at, received_at, answer,
                        handled_at, traceparent, envelope, error)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


@dataclass(frozen=True)
class Delivery:
    """One arrival of a CloudEvent on a subscriber route, as the ledger keeps it."""

    event_id: str
    topic: str
    route: str
    run: str | None = None
    seq: int | None = None
    sent_at: float | None = None
    received_at: float = field(default_factory=time.time)
    traceparent: str | None = None
    envelope: dict[str, Any] = field(default_factory=dict)


class Ledger:
    """Delivery records in one SQLite file that outlives the process."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection
        self._closed = False

    @classmethod
    def open(cls, path: Path | str) -> Ledger:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit: each write is its own short transaction. Only the event loop writes, but
        # the test client's loop runs in another thread than the one that opened the ledger.
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA busy_timeout=5000")
        connection.execute("PRAGMA wal_autocheckpoint=0")  # see checkpoint()
        connection.execute("PRAGMA journal_size_limit=4194304")  # WAL shrinks back to 4 MiB
        connection.executescript(_SCHEMA)
        return cls(path, connection)

    def close(self) -> None:
        """Checkpoint and close; closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        # A reader may still be busy; then the next open replays the WAL anyway.
        with contextlib.suppress(sqlite3.OperationalError):
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()

    def checkpoint(self, restart_bytes: int = WAL_RESTART_BYTES) -> bool:
        """Copy the WAL into the database file; safe to call from a worker thread.

        A passive checkpoint never holds up the writer, but with writes arriving all the time
        it never reaches the WAL's end either, and only a WAL copied to its end starts again
        from the beginning: at 320 msgs/s it grew by 200 MB a minute, and service-1 by the
        WAL index it maps. Once the WAL holds more than `restart_bytes`, a restarting
        checkpoint follows: it holds up the writer (the event loop) while it copies the
        frames written since the passive one, syncs, and waits up to RESTART_WAIT_MS for
        readers; the next write then starts the WAL over. False: that restart found readers
        still busy (the next checkpoint tries again).
        """
        with closing(sqlite3.connect(self.path, check_same_thread=False)) as checkpointer:
            checkpointer.execute("PRAGMA busy_timeout=5000")
            _, frames, _ = checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            page_size = checkpointer.execute("PRAGMA page_size").fetchone()[0]
            if frames * page_size <= restart_bytes:
                return True
            checkpointer.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
            busy, _, _ = checkpointer.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
            return not busy

    def _reader(self) -> sqlite3.Connection:
        """A read-only connection of its own, for a query run in a worker thread."""
        uri = f"{self.path.absolute().as_uri()}?mode=ro"
        reader = sqlite3.connect(uri, uri=True, check_same_thread=False)
        reader.execute("PRAGMA busy_timeout=5000")
        return reader

    def received(self, delivery: Delivery) -> int:
        """Record an arrival; the answer follows with `answered`. Returns the attempt number."""
        return self._insert(delivery, answer=None, handled_at=None, error=None)

    def answered(self, attempt: int, answer: str, handled_at: float | None = None) -> None:
        self._db.execute(
            "UPDATE deliveries SET answer = ?, handled_at = ? WHERE attempt = ?",
            (answer, time.time() if handled_at is None else handled_at, attempt),
        )

    def rejected(self, delivery: Delivery, error: str) -> int:
        """Record a delivery the app could not use, answered DROP at once."""
        return self._insert(delivery, answer=REJECTED, handled_at=time.time(), error=error)

    def _insert(
        self, delivery: Delivery, answer: str | None, handled_at: float | None, error: str | None
    ) -> int:
        cursor = self._db.execute(
            _INSERT,
            (
                delivery.event_id,
                delivery.topic,
                delivery.route,
                delivery.run,
                delivery.seq,
                delivery.sent_at,
                delivery.received_at,
                answer,
                handled_at,
                delivery.traceparent,
                json.dumps(delivery.envelope, separators=(",", ":")),
                error,
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def attempts(self, event_id: str, topic: str) -> int:
        """How many times this CloudEvent id has arrived on this topic, this one included."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM deliveries WHERE event_id = ? AND topic = ?", (event_id, topic)
        ).fetchone()
        return int(row[0])

    def records(self, run: str) -> list[dict[str, Any]]:
        """The run's deliveries, one record per (id, topic), in order of first arrival."""
        by_key: dict[tuple[str, str], dict[str, Any]] = {}
        with closing(self._reader()) as reader:
            rows = reader.execute(
                "SELECT event_id, topic, route, run, seq, sent_at, received_at, answer,"
                " handled_at, traceparent, envelope FROM deliveries WHERE run = ? ORDER BY attempt",
                (run,),
            )
            for row in rows:
                record = by_key.get((row[0], row[1]))
                if record is None:
                    record = by_key[(row[0], row[1])] = _new_record(row)
                _add_attempt(record, received_at=row[6], answer=row[7], handled_at=row[8])
        return list(by_key.values())

    def arrivals(self, run: str, after: int, limit: int) -> dict[str, Any]:
        """The run's attempts numbered above `after`, oldest first, at most `limit` of them.

        A cursor read: `next` is the number to pass as `after` next time, and `more` says
        whether more attempts were already there. Attempt numbers are SQLite rowids, handed
        out under its single write lock and committed in that order, and rows are never
        deleted: once a reader sees attempt n, every attempt below n is visible to it too, so
        reading on from the last number seen returns each attempt exactly once.
        """
        with closing(self._reader()) as reader:
            rows = reader.execute(
                "SELECT attempt, event_id, topic, route, seq, sent_at, received_at"
                " FROM deliveries WHERE run = ? AND attempt > ? ORDER BY attempt LIMIT ?",
                (run, after, limit + 1),
            ).fetchall()
        page = rows[:limit]
        return {
            "arrivals": [dict(zip(_ARRIVAL_COLUMNS, row, strict=True)) for row in page],
            "next": page[-1][0] if page else after,
            "more": len(rows) > limit,
        }

    def summary(self, run: str) -> dict[str, Any]:
        """Counts by topic: distinct ids, attempts, and attempts by answer."""
        topics: dict[str, dict[str, Any]] = {}
        with closing(self._reader()) as reader:
            for topic, ids, deliveries in reader.execute(
                "SELECT topic, COUNT(DISTINCT event_id), COUNT(*) FROM deliveries"
                " WHERE run = ? GROUP BY topic ORDER BY topic",
                (run,),
            ):
                topics[topic] = {"ids": ids, "deliveries": deliveries, "answers": {}}
            for topic, answer, count in reader.execute(
                "SELECT topic, COALESCE(answer, ?), COUNT(*) FROM deliveries"
                " WHERE run = ? GROUP BY topic, answer ORDER BY topic, answer",
                (PENDING, run),
            ):
                topics[topic]["answers"][answer] = count
        total = sum(topic["deliveries"] for topic in topics.values())
        return {"run": run, "deliveries": total, "topics": topics}

    def last_attempts(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest raw rows, newest first: for diagnosis and for deliveries without a run."""
        cursor = self._db.execute(
            "SELECT * FROM deliveries ORDER BY attempt DESC LIMIT ?", (limit,)
        )
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]

    def journal_mode(self) -> str:
        return str(self._db.execute("PRAGMA journal_mode").fetchone()[0])


def _new_record(row: tuple[Any, ...]) -> dict[str, Any]:
    event_id, topic, route, run, seq, sent_at, received_at, _, _, traceparent, envelope = row
    return {
        "id": event_id,
        "topic": topic,
        "route": route,
        "run": run,
        "seq": seq,
        "sent_at": sent_at,
        "first_received_at": received_at,
        "last_received_at": received_at,
        "count": 0,
        "answers": [],
        "traceparent": traceparent,
        "envelope": json.loads(envelope),
        "handled_at": None,
    }


def _add_attempt(
    record: dict[str, Any], received_at: float, answer: str | None, handled_at: float | None
) -> None:
    record["count"] += 1
    record["last_received_at"] = max(record["last_received_at"], received_at)
    if answer is not None:
        record["answers"].append(answer)
    if handled_at is not None:
        record["handled_at"] = max(record["handled_at"] or handled_at, handled_at)
