"""Answers Dapr's own tests probe, on topic `answers`: what daprd makes of odd 2xx replies.

The message's `"control": {"reply": ...}` picks the reply: `empty-json` (200 with `{}`),
`unknown-status` (200 with `{"status": "MAYBE"}`) or `not-json` (200 with a text body).
Dapr 1.18.3 (docs/delivery-semantics.md): `{}` and a non-JSON body are successes; an
unknown status is retried like RETRY and, once retries are spent, dead-lettered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from system_under_test.service1.delivery import CloudEvent
from system_under_test.service1.features.receiving import PUBSUB, SUCCESS, receiver

TOPIC = "answers"
ROUTE = "/features/answers"
DEAD_LETTER = "answers-dead-letter"

REPLIES: dict[str, tuple[str, Callable[[], Response]]] = {
    "empty-json": ("EMPTY-JSON", lambda: JSONResponse({})),
    "unknown-status": ("UNKNOWN-STATUS", lambda: JSONResponse({"status": "MAYBE"})),
    "not-json": ("NOT-JSON", lambda: PlainTextResponse("thanks")),
}


def reply_to(event: CloudEvent) -> tuple[str, Response]:
    control = event.message.get("control")
    reply = control.get("reply") if isinstance(control, dict) else None
    if reply in REPLIES:
        word, make_response = REPLIES[reply]
        return word, make_response()
    return SUCCESS, JSONResponse({"status": SUCCESS})


def subscriptions() -> list[dict[str, Any]]:
    return [{"pubsubname": PUBSUB, "topic": TOPIC, "route": ROUTE, "deadLetterTopic": DEAD_LETTER}]


routes = [Route(ROUTE, receiver(TOPIC, ROUTE, reply_to), methods=["POST"])]
