"""Bulk subscribe: topic `bulk` arrives in batches, and each entry is answered on its own.

An entry whose message carries `"control": {"answer": "DROP"}` (or "RETRY") gets that status;
every other entry SUCCESS. Dropped entries go to `bulk-dead-letter`. The batch reader is
shared with ttl.py, which also subscribes in bulk.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from system_under_test.common.bodies import (
    CLOUDEVENT_JSON_TYPES,
    parse_json,
    read_body,
    require_content_type,
)
from system_under_test.common.errors import ApiError
from system_under_test.common.tokens import requires_app_token
from system_under_test.service1.delivery import ENVELOPE_KEYS, published_message
from system_under_test.service1.features.receiving import (
    PUBSUB,
    SUCCESS,
    Handler,
    record,
    service_of,
)
from system_under_test.service1.ledger import Delivery

TOPIC = "bulk"
ROUTE = "/features/bulk"
DEAD_LETTER = "bulk-dead-letter"
ENTRY_ANSWERS = ("SUCCESS", "RETRY", "DROP")


def bulk_subscription(topic: str, route: str, max_messages: int, max_await_ms: int) -> dict:
    return {
        "pubsubname": PUBSUB,
        "topic": topic,
        "route": route,
        "bulkSubscribe": {
            "enabled": True,
            "maxMessagesCount": max_messages,
            "maxAwaitDurationMs": max_await_ms,
        },
    }


BATCH_SIZE = 8  # a bulk publish of 8 arrives as exactly one bulk call
BATCH_WINDOW_MS = 5000


def subscriptions() -> list[dict[str, Any]]:
    subscription = bulk_subscription(TOPIC, ROUTE, BATCH_SIZE, BATCH_WINDOW_MS)
    return [{**subscription, "deadLetterTopic": DEAD_LETTER}]


def entry_answer(message: dict[str, Any]) -> str:
    control = message.get("control")
    answer = control.get("answer") if isinstance(control, dict) else None
    return answer if answer in ENTRY_ANSWERS else SUCCESS


def entry_delivery(entry: dict[str, Any], topic: str, route: str, received_at: float) -> Delivery:
    event = entry.get("event")
    event = event if isinstance(event, dict) else {}
    message = published_message(event.get("data"))
    seq, run = message.get("seq"), message.get("run")
    return Delivery(
        event_id=str(event.get("id") or entry.get("entryId")),
        topic=topic,
        route=route,
        run=run if isinstance(run, str) else None,
        seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
        sent_at=message.get("sent_at") if isinstance(message.get("sent_at"), float) else None,
        received_at=received_at,
        traceparent=event.get("traceparent"),
        envelope={key: event.get(key) for key in ENVELOPE_KEYS},
    )


async def read_entries(request: Request) -> list[dict[str, Any]]:
    require_content_type(request, CLOUDEVENT_JSON_TYPES)  # daprd sends application/json
    body = parse_json(await read_body(request, service_of(request).settings.max_body_bytes))
    entries = body.get("entries") if isinstance(body, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ApiError(400, "a bulk delivery must be {'entries': [object, ...]}")
    return entries


def bulk_receiver(topic: str, route: str) -> Handler:
    """Record every entry of a batch and answer a status per entryId."""

    @requires_app_token
    async def receive(request: Request) -> Response:
        service = service_of(request)
        received_at = time.time()
        statuses = []
        for entry in await read_entries(request):
            delivery = entry_delivery(entry, topic, route, received_at)
            answer = entry_answer(published_message((entry.get("event") or {}).get("data")))
            record(service, delivery, answer)
            statuses.append({"entryId": entry.get("entryId"), "status": answer})
        return JSONResponse({"statuses": statuses})

    return receive


routes = [Route(ROUTE, bulk_receiver(TOPIC, ROUTE), methods=["POST"])]
