"""Run ids and service-1's delivery ledger: the one client the e2e gate, the load runs and the
benchmarks read deliveries with.

A run id tags every message of one test or load run; the ledger answers the records of one
run (docs/architecture.md). Judging the records is harness.verdict's job.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from harness.wait import poll

Records = list[dict[str, Any]]
Sleep = Callable[[float], object]


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
