"""Raw payloads: topic `raw` is published and subscribed with `rawPayload`, no CloudEvent.

The publisher's bytes go to Redis as they are; on delivery daprd wraps them for the route in
a CloudEvent of its own with the bytes in `data_base64`. The ledger keeps `payload: raw`
when those bytes are the published message itself, and `payload: cloudevent` when they are
a CloudEvent (the publisher forgot rawPayload).
"""

from __future__ import annotations

import base64
import binascii
import json
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
from system_under_test.common.tokens import requires_app_token
from system_under_test.service1.delivery import ENVELOPE_KEYS, published_message
from system_under_test.service1.features.receiving import PUBSUB, SUCCESS, record, service_of
from system_under_test.service1.ledger import Delivery

TOPIC = "raw"
ROUTE = "/features/raw"


def subscriptions() -> list[dict[str, Any]]:
    return [
        {"pubsubname": PUBSUB, "topic": TOPIC, "route": ROUTE, "metadata": {"rawPayload": "true"}}
    ]


def decode_payload(wrapper: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """('raw' | 'cloudevent' | 'unreadable', the published message) from daprd's wrapper."""
    try:
        payload = json.loads(base64.b64decode(wrapper.get("data_base64") or "", validate=True))
    except (binascii.Error, ValueError):
        return "unreadable", {}
    if not isinstance(payload, dict):
        return "unreadable", {}
    if "specversion" in payload:
        return "cloudevent", published_message(payload.get("data"))
    return "raw", published_message(payload)


@requires_app_token
async def receive(request: Request) -> Response:
    service = service_of(request)
    received_at = time.time()
    require_content_type(request, CLOUDEVENT_JSON_TYPES)
    wrapper = parse_json(await read_body(request, service.settings.max_body_bytes))
    if not isinstance(wrapper, dict):  # not a delivery daprd makes: unusable, never retried
        return JSONResponse({"status": "DROP", "error": "a delivery must be a JSON object"})
    kind, message = decode_payload(wrapper)
    seq, run = message.get("seq"), message.get("run")
    delivery = Delivery(
        event_id=str(wrapper.get("id") or f"raw-{received_at}"),
        topic=TOPIC,
        route=ROUTE,
        run=run if isinstance(run, str) else None,
        seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
        received_at=received_at,
        envelope={**{key: wrapper.get(key) for key in ENVELOPE_KEYS}, "payload": kind},
    )
    answer = SUCCESS if kind == "raw" else "DROP"
    record(service, delivery, answer)
    return JSONResponse({"status": answer})


routes = [Route(ROUTE, receive, methods=["POST"])]
