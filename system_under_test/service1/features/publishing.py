"""Publishing to the feature topics: plain, with Dapr metadata, and through the bulk API.

`POST /features/publish/{topic}` takes the message (run, seq, sent_at, ...) as its body and
these query parameters, each passed to daprd as publish metadata:
`type` (the CloudEvent type, for routing rules), `raw=true` (no CloudEvent envelope) and
`ttl` (seconds until the message expires). `POST /features/publish-bulk/{topic}` takes
`{"messages": [...]}` and publishes them in one bulk call. daprd's refusals come back as
502 with daprd's status and errorCode (a 403 ERR_PUBSUB_FORBIDDEN for a scoped-out topic).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from system_under_test.common import ApiError, DaprClient, read_json_object
from system_under_test.service1.features.receiving import PUBSUB, service_of

JSON = "application/json"


class FeatureDaprClient(DaprClient):
    """daprd's publish APIs with the metadata and bulk calls the feature topics need."""

    async def publish_with(self, topic: str, body: bytes, metadata: dict[str, str]) -> None:
        params = {f"metadata.{name}": value for name, value in metadata.items()}
        await self._send(
            f"publish to {PUBSUB}/{topic}",
            "POST",
            f"/v1.0/publish/{PUBSUB}/{topic}",
            content=body,
            params=params,
            headers={"content-type": JSON},
        )

    async def bulk_publish(self, topic: str, events: list[Any]) -> list[dict[str, Any]]:
        """One bulk call; answers the entries daprd could not publish (none on success)."""
        entries = [
            {"entryId": str(index), "event": event, "contentType": JSON}
            for index, event in enumerate(events)
        ]
        response = await self._send(
            f"bulk publish to {PUBSUB}/{topic}",
            "POST",
            f"/v1.0/publish/bulk/{PUBSUB}/{topic}",
            json=entries,
        )
        if not response.content:
            return []
        failed: list[dict[str, Any]] = response.json().get("failedEntries") or []
        return failed


def feature_dapr(request: Request) -> FeatureDaprClient:
    return FeatureDaprClient(service_of(request).daprd._http)


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


async def publish(request: Request) -> Response:
    topic = request.path_params["topic"]
    message = await read_json_object(request, service_of(request).settings.max_body_bytes)
    body = json.dumps(envelope(topic, message)).encode()
    await feature_dapr(request).publish_with(topic, body, publish_metadata(request))
    return JSONResponse({"message": "published", "topic": topic, "seq": message.get("seq")})


async def publish_bulk(request: Request) -> Response:
    topic = request.path_params["topic"]
    body = await read_json_object(request, service_of(request).settings.max_body_bytes)
    messages = body.get("messages")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise ApiError(400, "body must be {'messages': [object, ...]}")
    failed = await feature_dapr(request).bulk_publish(topic, [envelope(topic, m) for m in messages])
    return JSONResponse({"message": "published", "topic": topic, "failedEntries": failed})


routes = [
    Route("/features/publish/{topic}", publish, methods=["POST"]),
    Route("/features/publish-bulk/{topic}", publish_bulk, methods=["POST"]),
]
