"""Publishing to the feature topics: plain, with Dapr metadata, and through the bulk API.

`POST /features/publish/{topic}` takes the message (run, seq, sent_at, ...) as its body and
these query parameters, each passed to daprd as publish metadata:
`type` (the CloudEvent type, for routing rules), `raw=true` (no CloudEvent envelope) and
`ttl` (seconds until the message expires). `POST /features/publish-bulk/{topic}` takes
`{"messages": [...]}` and publishes them in one bulk call. Both need the suite token, like
every route that changes something. A refusal that is the caller's doing comes back with
daprd's status and errorCode (403 ERR_PUBSUB_FORBIDDEN for a scoped-out topic); any other
daprd failure is a 502.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from system_under_test.common.bodies import read_json_object
from system_under_test.common.errors import ApiError, DaprError
from system_under_test.common.tokens import requires_suite_token
from system_under_test.service1.features.receiving import PUBSUB, service_of

# Topic names as service-1's settings allow them: a path trick never reaches daprd.
TOPIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# daprd's refusals that are the caller's doing, passed on with daprd's errorCode.
CALLER_ERRORS = {400, 403, 404}


def topic_of(request: Request) -> str:
    topic: str = request.path_params["topic"]
    if not TOPIC_NAME.match(topic):
        raise ApiError(400, f"topic {topic[:100]!r} is not a plain topic name ([A-Za-z0-9._-])")
    return topic


@contextmanager
def refusals_as_answers() -> Iterator[None]:
    """daprd refusing a publish the caller asked for (a scoped-out topic: 403
    ERR_PUBSUB_FORBIDDEN) is the caller's 4xx, carrying daprd's status and errorCode."""
    try:
        yield
    except DaprError as err:
        if err.status not in CALLER_ERRORS:
            raise
        raise ApiError(
            err.status, f"daprd refused to {err.action}", daprd_status=err.status,
            errorCode=err.error_code, message=err.message,
        ) from None  # fmt: skip


def envelope(topic: str, message: dict[str, Any]) -> dict[str, Any]:
    """The same wrapper service-1 publishes on t1/t2."""
    return {"messageType": topic, "message": message}


def publish_metadata(request: Request) -> dict[str, str]:
    query = request.query_params
    metadata: dict[str, str] = {}
    if query.get("type"):
        metadata["cloudevent.type"] = query["type"]
    if query.get("raw") == "true":
        metadata["rawPayload"] = "true"
    if query.get("ttl"):
        if not query["ttl"].isdigit() or int(query["ttl"]) < 1:
            raise ApiError(400, "query parameter 'ttl' must be a whole number of seconds >= 1")
        metadata["ttlInSeconds"] = query["ttl"]
    return metadata


@requires_suite_token
async def publish(request: Request) -> Response:
    topic, service = topic_of(request), service_of(request)
    message = await read_json_object(request, service.settings.max_body_bytes)
    body = json.dumps(envelope(topic, message)).encode()
    with refusals_as_answers():
        await service.daprd.publish_with_metadata(PUBSUB, topic, body, publish_metadata(request))
    return JSONResponse({"message": "published", "topic": topic, "seq": message.get("seq")})


@requires_suite_token
async def publish_bulk(request: Request) -> Response:
    topic, service = topic_of(request), service_of(request)
    body = await read_json_object(request, service.settings.max_body_bytes)
    messages = body.get("messages")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise ApiError(400, "body must be {'messages': [object, ...]}")
    with refusals_as_answers():
        failed = await service.daprd.bulk_publish(
            PUBSUB, topic, [envelope(topic, m) for m in messages]
        )
    return JSONResponse({"message": "published", "topic": topic, "failedEntries": failed})


routes = [
    Route("/features/publish/{topic}", publish, methods=["POST"]),
    Route("/features/publish-bulk/{topic}", publish_bulk, methods=["POST"]),
]
