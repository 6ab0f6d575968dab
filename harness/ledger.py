"""Run ids and service-1's delivery ledger: the one client the e2e gate, the load runs and the
benchmarks read deliveries with.

A run id tags every message of one test or load run; the ledger answers the records of one
run (docs/architecture.md), or, through a cursor, only the delivery attempts that arrived since
the last read (`ArrivalCursor`: what a load run polls, so a poll late in a long run costs what
one early in it does). Judging the records is harness.verdict's job.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from harness.wait import poll

Records = list[dict[str, Any]]
Sleep = Callable[[float], object]
PAGE_MAX = 10_000  # the most attempts service-1 answers in one page of GET /ledger/arrivals


def new_run_id(prefix: str = "run") -> str:
    """`<prefix>-<UTC yyyymmdd-hhmmss>-<8 hex>`: sorts by start time, reads in a log, and the
    random part keeps it unique across processes and machines without coordination."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"{prefix}-{stamp}-{uuid.uuid4().hex[:8]}"


class LedgerClient:
    """Reads service-1's ledger. `sleep` is what waits pause with: gevent.sleep under locust."""

    def __init__(self, service1_url: str, timeout: float = 15.0, sleep: Sleep = time.sleep) -> None:
        # trust_env=False: an http_proxy variable must never reroute loopback traffic
        self.http = httpx.Client(base_url=service1_url, timeout=timeout, trust_env=False)
        self.sleep = sleep

    def close(self) -> None:
        self.http.close()

    def records(self, run: str) -> Records:
        """Every record of the run, one per (CloudEvent id, topic)."""
        response = self.http.get("/ledger", params={"run": run})
        response.raise_for_status()
        records: Records = response.json()["records"]
        return records

    def arrivals(self, run: str, after: int = 0, limit: int = PAGE_MAX) -> ArrivalPage:
        """One page of the run's delivery attempts numbered above `after`, oldest first."""
        params: dict[str, str | int] = {"run": run, "after": after, "limit": limit}
        response = self.http.get("/ledger/arrivals", params=params)
        response.raise_for_status()
        page = response.json()
        return ArrivalPage(page["arrivals"], int(page["next"]), bool(page["more"]))

    def deliveries(self, run: str) -> int:
        """Delivery attempts of the run on any topic: cheap, for watching a drain."""
        response = self.http.get("/ledger/summary", params={"run": run})
        response.raise_for_status()
        return int(response.json()["deliveries"])

    def wait_for(self, run: str, done: Callable[[Records], bool], timeout: float = 15.0) -> Records:
        """Poll the records until `done(records)`; on timeout return what is there.

        The caller judges the records, so a timeout ends in a verdict that names what
        was lost rather than in a bare timeout.
        """
        return poll(
            lambda: self.records(run),
            done,
            timeout=timeout,
            interval=0.1,
            on_timeout="return",
            sleep=self.sleep,
        )

    def wait_for_deliveries(self, run: str, count: int, timeout: float) -> int:
        """Poll until the run has `count` deliveries or `timeout` passes; return what it has."""
        return poll(
            lambda: self.deliveries(run),
            lambda seen: seen >= count,
            timeout=timeout,
            interval=0.25,
            on_timeout="return",
            sleep=self.sleep,
        )


@dataclass(frozen=True)
class ArrivalPage:
    """Attempts as GET /ledger/arrivals answers them; `next` is the cursor to read on from."""

    arrivals: Records
    next: int
    more: bool


class ArrivalCursor:
    """Reads one run's delivery attempts as they arrive, each exactly once."""

    def __init__(self, ledger: LedgerClient, run: str, page_size: int = PAGE_MAX) -> None:
        self.ledger = ledger
        self.run = run
        self.page_size = page_size
        self.after = 0

    def new(self) -> Records:
        """Every attempt since the last call, page after page until the ledger has no more.

        The cursor moves only when the whole read succeeded: after an error the next call
        reads the same attempts again, so none is skipped and none is handed out twice.
        """
        arrivals: Records = []
        after = self.after
        while True:
            page = self.ledger.arrivals(self.run, after, self.page_size)
            arrivals += page.arrivals
            after = page.next
            if not page.more or not page.arrivals:
                self.after = after
                return arrivals


def arrivals_until_settled(
    service1_url: str, run: str, expected: int, *, quiet: float, timeout: float,
    since: float | None = None, interval: float = 0.2,
) -> list[tuple[int, float]]:  # fmt: skip
    """(seq, seconds since `since`) for each of the run's delivery attempts, read by cursor
    until `expected` distinct messages arrived and none came for `quiet` seconds, or
    `timeout` passed (what arrived by then is returned)."""
    start = time.monotonic() if since is None else since
    found: list[tuple[int, float]] = []
    seqs: set[int] = set()
    last = [time.monotonic()]
    ledger = LedgerClient(service1_url)
    cursor = ArrivalCursor(ledger, run)

    def read() -> bool:
        now = time.monotonic()
        new = cursor.new()
        if new:
            last[0] = now
            found.extend((int(a["seq"]), now - start) for a in new)
            seqs.update(int(a["seq"]) for a in new)
        return len(seqs) >= expected and now - last[0] >= quiet

    try:
        remaining = max(0.0, timeout - (time.monotonic() - start))
        poll(read, timeout=remaining, interval=interval, on_timeout="return")
    finally:
        ledger.close()
    return found
