"""A small client for the services' own HTTP APIs (publish, ledger, state, received)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, cast

import httpx

from harness.errors import HarnessError
from harness.ledger import LedgerClient


class SuiteClient:
    """Talks to service-1 and service-2 of any target; `ledger` reads service-1's ledger."""

    def __init__(
        self,
        service1_url: str,
        service2_url: str,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """`headers`: the target's suite token (harness.tokens), sent with every call."""
        # trust_env=False: an http_proxy variable must never reroute loopback traffic
        self.service1 = httpx.Client(
            base_url=service1_url, timeout=timeout, trust_env=False, headers=headers
        )
        self.service2 = httpx.Client(
            base_url=service2_url, timeout=timeout, trust_env=False, headers=headers
        )
        self.ledger = LedgerClient(service1_url, timeout=timeout)

    def close(self) -> None:
        self.service1.close()
        self.service2.close()
        self.ledger.close()

    def publish(self, topic: str, run: str, seq: int, **fields: Any) -> httpx.Response:
        body = {"run": run, "seq": seq, "sent_at": time.time(), **fields}
        return self.service1.post(f"/publish/{topic}", json=body)

    def publish_ok(self, topic: str, run: str, seq: int, **fields: Any) -> dict[str, Any]:
        response = self.publish(topic, run, seq, **fields)
        if response.status_code != 200:
            status = response.status_code
            raise AssertionError(f"publish {topic} seq {seq}: {status} {response.text}")
        return cast(dict[str, Any], response.json())

    def received_by_service2(self, run: str) -> list[dict[str, Any]]:
        """Every call of the run; a run longer than service-2 keeps is refused, not cut."""
        response = self.service2.get("/received", params={"run": run})
        response.raise_for_status()
        answer = response.json()
        if answer.get("not_kept"):
            kept, more = answer["count"], answer["not_kept"]
            raise HarnessError(f"service-2 kept {kept} calls of run {run} and only counted "
                               f"{more} more: too long to check")  # fmt: skip
        return cast(list[dict[str, Any]], answer["records"])

    def state(self) -> Any:
        response = self.service1.get("/state")
        response.raise_for_status()
        return response.json()["value"]
