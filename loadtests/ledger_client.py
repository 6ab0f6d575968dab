"""Reads service-1's delivery ledger for one run."""

from __future__ import annotations

import time
from typing import Any

import httpx


class LedgerClient:
    def __init__(self, service1_url: str, timeout: float = 15.0) -> None:
        self.http = httpx.Client(base_url=service1_url, timeout=timeout, trust_env=False)

    def records(self, run: str) -> list[dict[str, Any]]:
        response = self.http.get("/ledger", params={"run": run})
        response.raise_for_status()
        records: list[dict[str, Any]] = response.json()["records"]
        return records

    def deliveries(self, run: str) -> int:
        """Delivery attempts of the run on any topic: cheap, for watching a drain."""
        response = self.http.get("/ledger/summary", params={"run": run})
        response.raise_for_status()
        return int(response.json()["deliveries"])

    def wait_for_deliveries(self, run: str, count: int, timeout: float) -> int:
        """Poll until the run has `count` deliveries or `timeout` passes; return what it has."""
        deadline = time.monotonic() + timeout
        seen = self.deliveries(run)
        while seen < count and time.monotonic() < deadline:
            time.sleep(0.25)
            seen = self.deliveries(run)
        return seen

    def close(self) -> None:
        self.http.close()
