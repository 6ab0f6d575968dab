"""Reads service-1's delivery ledger for one run."""

from __future__ import annotations

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

    def close(self) -> None:
        self.http.close()
