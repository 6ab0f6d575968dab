"""A small client for the services' own HTTP APIs (publish, ledger, state, received)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import httpx

Records = list[dict[str, Any]]


def new_run_id(prefix: str = "run") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class SuiteClient:
    """Talks to service-1 and service-2 of any target."""

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

    def close(self) -> None:
        self.service1.close()
        self.service2.close()

    def publish(self, topic: str, run: str, seq: int, **fields: Any) -> httpx.Response:
        body = {"run": run, "seq": seq, "sent_at": time.time(), **fields}
        return self.service1.post(f"/publish/{topic}", json=body)

    def publish_ok(self, topic: str, run: str, seq: int, **fields: Any) -> dict[str, Any]:
        response = self.publish(topic, run, seq, **fields)
        if response.status_code != 200:
            status = response.status_code
            raise AssertionError(f"publish {topic} seq {seq}: {status} {response.text}")
        return response.json()

    def ledger(self, run: str) -> list[dict[str, Any]]:
        response = self.service1.get("/ledger", params={"run": run})
        response.raise_for_status()
        return response.json()["records"]

    def wait_for_ledger(
        self, run: str, done: Callable[[Records], bool], timeout: float = 15.0
    ) -> Records:
        """Poll the ledger until `done(records)`; on timeout return what is there.

        The caller judges the records, so a timeout ends in a verdict that names what
        was lost rather than in a bare timeout.
        """
        deadline = time.monotonic() + timeout
        records = self.ledger(run)
        while not done(records) and time.monotonic() < deadline:
            time.sleep(0.1)
            records = self.ledger(run)
        return records

    def received_by_service2(self, run: str) -> list[dict[str, Any]]:
        response = self.service2.get("/received", params={"run": run})
        response.raise_for_status()
        return response.json()["records"]

    def state(self) -> Any:
        response = self.service1.get("/state")
        response.raise_for_status()
        return response.json()["value"]
