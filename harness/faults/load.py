"""Steady open-model publish load with a verdict per call.

Each message is published at its intended time whether or not earlier calls have
answered (open model: a stalled system does not slow the load down, so it cannot hide
its stall). Every call is classified the way the total-queue checker needs it:
2xx -> ok; an HTTP error answer or a connection that was never made -> failed (nothing was
published); a timeout or a connection lost mid-call -> indeterminate (it may have been).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from harness.verdict import Attempt, Outcome

PUBSUB = "messagebus"
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
Extra = Callable[[int, float], dict[str, Any]]  # (seq, intended time) -> more message fields


@dataclass(frozen=True)
class Call:
    """One publish call: when it was meant to go out, how it ended and how long it took."""

    seq: int
    topic: str
    intended_at: float  # epoch seconds; also the message's sent_at
    outcome: Outcome
    seconds: float
    detail: str = ""

    def attempt(self) -> Attempt:
        return Attempt(self.seq, self.topic, self.outcome)


def classify(status: int | None, error: BaseException | None) -> tuple[Outcome, str]:
    if error is None:
        assert status is not None
        return (Outcome.OK, "") if 200 <= status < 300 else (Outcome.FAILED, f"HTTP {status}")
    if isinstance(error, NEVER_SENT):
        return Outcome.FAILED, type(error).__name__
    return Outcome.INDETERMINATE, type(error).__name__


@dataclass
class OpenLoad:
    """`rate` publishes a second on `topic` for `seconds`, bounded.

    Through service-1's publish API, or with `via_dapr` straight to a sidecar's publish
    API in the envelope service-1 would have used (so a scenario can publish while
    service-1's own sidecar is frozen).
    """

    url: str
    run: str
    topic: str = "t1"
    rate: float = 50.0
    seconds: float = 8.0
    timeout: float = 2.0
    extra: Extra | None = None
    via_dapr: bool = False
    headers: dict[str, str] = field(default_factory=dict)  # the token the route asks for
    calls: list[Call] = field(default_factory=list)
    started_at: float = 0.0
    _thread: threading.Thread | None = None
    _sent: dict[int, tuple[float, float]] = field(default_factory=dict)  # seq -> intended, began

    @property
    def planned(self) -> int:
        return int(self.rate * self.seconds)

    def start(self) -> None:
        self.started_at = self.started_at or time.time()  # the caller may fix the start
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()

    def join(self) -> list[Call]:
        """Wait for the last call (bounded: the schedule plus one timeout). A call sent
        that has no answer by then is indeterminate: it may have been published."""
        if self._thread is not None:
            self._thread.join(self.seconds + self.timeout + 10)
        answered = {c.seq for c in self.calls}
        now = time.monotonic()
        unanswered = [
            Call(seq, self.topic, intended, Outcome.INDETERMINATE, now - began, "no answer")
            for seq, (intended, began) in list(self._sent.items())
            if seq not in answered
        ]
        return sorted([*self.calls, *unanswered], key=lambda c: c.seq)

    def attempts(self) -> list[Attempt]:
        return [call.attempt() for call in self.calls]

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=int(self.rate * self.timeout) + 20)
        async with httpx.AsyncClient(
            base_url=self.url,
            timeout=self.timeout,
            limits=limits,
            trust_env=False,
            headers=self.headers,
        ) as client:
            loop = asyncio.get_running_loop()
            start, tasks = loop.time(), []
            for index in range(self.planned):
                delay = start + index / self.rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                intended = self.started_at + index / self.rate
                tasks.append(asyncio.create_task(self._publish(client, index + 1, intended)))
            await asyncio.gather(*tasks)

    async def _publish(self, client: httpx.AsyncClient, seq: int, intended: float) -> None:
        body = {"run": self.run, "seq": seq, "sent_at": intended}
        if self.extra is not None:
            body.update(self.extra(seq, intended))
        path = f"/publish/{self.topic}"
        if self.via_dapr:
            path = f"/v1.0/publish/{PUBSUB}/{self.topic}"
            body = {"messageType": self.topic, "message": body}
        began = time.monotonic()
        self._sent[seq] = (intended, began)
        status, error = None, None
        try:
            response = await client.post(path, json=body)
            status = response.status_code
        except httpx.HTTPError as exc:
            error = exc
        outcome, detail = classify(status, error)
        self.calls.append(
            Call(seq, self.topic, intended, outcome, time.monotonic() - began, detail)
        )
