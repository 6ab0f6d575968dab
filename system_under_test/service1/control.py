"""Test control: a message can ask the subscriber to answer badly for its first N deliveries.

`"control": {"answer": "RETRY" | "DROP" | "404" | "500", "times": N}` in the published
message. `"delay_seconds": S` (alone or beside them) replaces T2_DELAY_SECONDS for that one
t2 message, so a burst can cross t2 without waiting the tutorial's 10 s per message.
Deliveries are counted per CloudEvent id from the ledger, so the count survives a
restart of service-1 just as the broker's redeliveries do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse

from system_under_test.common.bodies import shorten

ANSWERS = ("RETRY", "DROP", "404", "500")
MAX_TIMES = 1000


class InvalidControl(ValueError):
    """A control object the subscriber cannot follow: the delivery is rejected."""


MAX_DELAY_SECONDS = 60.0


@dataclass(frozen=True)
class DeliveryControl:
    answer: str | None = None
    times: int = 0
    delay_seconds: float | None = None

    def applies_to(self, attempt_number: int) -> bool:
        return self.answer is not None and attempt_number <= self.times

    def response(self) -> JSONResponse:
        if self.answer in ("RETRY", "DROP"):
            return JSONResponse({"status": self.answer})
        return JSONResponse(
            {"error": f"test control: answering {self.answer}"}, status_code=int(self.answer)
        )


def parse_control(raw: Any) -> DeliveryControl | None:
    """The control object of a message, None without one; InvalidControl when malformed."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidControl(f"control must be an object, got {type(raw).__name__}")
    unknown = sorted(set(raw) - {"answer", "times", "delay_seconds"})
    if unknown:
        raise InvalidControl(f"control has unknown keys: {shorten(unknown)}")
    delay = parse_delay(raw.get("delay_seconds"))
    if "answer" not in raw and "times" not in raw and delay is not None:
        return DeliveryControl(delay_seconds=delay)
    answer, times = raw.get("answer"), raw.get("times")
    if answer not in ANSWERS:
        expected = ", ".join(ANSWERS)
        raise InvalidControl(f"control.answer must be one of {expected}, got {shorten(answer)}")
    if isinstance(times, bool) or not isinstance(times, int) or not 1 <= times <= MAX_TIMES:
        raise InvalidControl(
            f"control.times must be a whole number 1..{MAX_TIMES}, got {shorten(times)}"
        )
    return DeliveryControl(answer=answer, times=times, delay_seconds=delay)


def parse_delay(raw: Any) -> float | None:
    if raw is None:
        return None
    if (
        isinstance(raw, bool)
        or not isinstance(raw, int | float)
        or not 0 <= raw <= MAX_DELAY_SECONDS
    ):
        raise InvalidControl(
            f"control.delay_seconds must be a number 0..{MAX_DELAY_SECONDS:g}, got {shorten(raw)}"
        )
    return float(raw)
