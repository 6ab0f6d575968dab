"""Reading a pub/sub delivery from daprd: the CloudEvent, the message in it, its trace headers.

Anything the app cannot use raises RejectedDelivery; the route answers DROP so daprd sends it to
the dead-letter topic instead of retrying it forever.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from system_under_test.common.bodies import (
    CLOUDEVENT_JSON_TYPES,
    parse_json,
    read_body,
    require_content_type,
)
from system_under_test.common.errors import ApiError
from system_under_test.service1.ledger import Delivery

ENVELOPE_KEYS = ("source", "type", "specversion", "datacontenttype", "topic", "pubsubname")
_SQLITE_INT = 1 << 63
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
_TRACESTATE = re.compile(r"[\x20-\x7e]{1,512}")


class RejectedDelivery(Exception):
    """A delivery the app cannot use; carries what could be read of it for the ledger."""

    def __init__(self, error: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.body = body or {}


@dataclass(frozen=True)
class CloudEvent:
    event_id: str
    data: Any
    envelope: dict[str, Any]
    traceparent: str | None
    tracestate: str | None

    @property
    def message(self) -> dict[str, Any]:
        """The body given to POST /publish: data["message"], or data itself if not wrapped."""
        return published_message(self.data)

    def trace_headers(self) -> dict[str, str]:
        headers = {"traceparent": self.traceparent, "tracestate": self.tracestate}
        return {name: value for name, value in headers.items() if value}


async def read_cloud_event(request: Request, max_bytes: int) -> CloudEvent:
    body = await _read_delivery_body(request, max_bytes)
    event_id = body.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise RejectedDelivery("not a CloudEvent: no string 'id'", body)
    if body.get("data") is None:  # null data is nothing to pass on either
        raise RejectedDelivery("not a CloudEvent: no 'data'", body)
    return CloudEvent(
        event_id=event_id,
        data=body["data"],
        envelope={key: body.get(key) for key in ENVELOPE_KEYS},
        traceparent=_traceparent(request.headers.get("traceparent"))
        or _traceparent(body.get("traceparent")),
        tracestate=_tracestate(request.headers.get("tracestate"))
        or _tracestate(body.get("tracestate")),
    )


async def _read_delivery_body(request: Request, max_bytes: int) -> dict[str, Any]:
    """The JSON object daprd sent; even with a wrong content type it is read, for the ledger."""
    try:
        require_content_type(request, CLOUDEVENT_JSON_TYPES)
        wrong_type = None
    except ApiError as err:
        wrong_type = err.error
    try:
        body = parse_json(await read_body(request, max_bytes))
    except ApiError as err:
        raise RejectedDelivery(wrong_type or err.error) from None
    readable = body if isinstance(body, dict) else None
    if wrong_type:
        raise RejectedDelivery(wrong_type, readable)
    if readable is None:
        raise RejectedDelivery(f"body must be a JSON object, got {type(body).__name__}")
    return readable


def delivery_of(event: CloudEvent, topic: str, route: str, received_at: float) -> Delivery:
    message = event.message
    return Delivery(
        event_id=event.event_id,
        topic=topic,
        route=route,
        run=_text(message.get("run")),
        seq=_whole_number(message.get("seq")),
        sent_at=_finite_number(message.get("sent_at")),
        received_at=received_at,
        traceparent=event.traceparent,
        envelope=event.envelope,
    )


def rejected_delivery_of(
    rejected: RejectedDelivery, request: Request, topic: str, route: str, received_at: float
) -> Delivery:
    """What the ledger can keep of a rejected delivery: its id if it had one, else a new one."""
    body = rejected.body
    event_id = body.get("id")
    if not isinstance(event_id, str) or not event_id:
        event_id = f"rejected-{uuid.uuid4()}"
    message = published_message(body.get("data"))
    return Delivery(
        event_id=event_id,
        topic=topic,
        route=route,
        run=_text(message.get("run")),
        seq=_whole_number(message.get("seq")),
        sent_at=_finite_number(message.get("sent_at")),
        received_at=received_at,
        traceparent=_traceparent(request.headers.get("traceparent"))
        or _traceparent(body.get("traceparent")),
        envelope={key: body.get(key) for key in ENVELOPE_KEYS},
    )


def published_message(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        return {}
    inner = data.get("message")
    return inner if isinstance(inner, dict) else data


def _traceparent(value: Any) -> str | None:
    """A W3C traceparent, or None: it is passed on as a header, so anything else is dropped."""
    text = _text(value)
    return text if text is not None and _TRACEPARENT.fullmatch(text) else None


def _tracestate(value: Any) -> str | None:
    """A tracestate that can go on as a header (printable ASCII, W3C's 512 bytes), or None."""
    text = _text(value)
    return text if text is not None and _TRACESTATE.fullmatch(text) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _whole_number(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if -_SQLITE_INT <= value < _SQLITE_INT else None


def _finite_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too big for a float
        return None
    return number if math.isfinite(number) else None
