"""service-1's routes as an OpenAPI 3.1 document, served at GET /openapi.json.

Written beside the routes (app.py) rather than generated, so that it states the contract of
docs/architecture.md: which body each route takes (a null field counts as absent), which
token guards it, and that every refusal is a JSON `{"error": ...}` with a 4xx status. The
fuzz run (fuzz/) generates its bad input from it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from system_under_test.service1 import features

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}},
}
MESSAGE = {
    "type": "object",
    "properties": {
        "run": {"type": ["string", "null"]},
        "seq": {"type": ["integer", "null"], "minimum": -(2**63), "maximum": 2**63 - 1},
        "sent_at": {"type": ["number", "null"]},
    },
    "additionalProperties": True,
}
# Only what service-1 relies on: the rest of the envelope is recorded as it came.
CLOUDEVENT = {
    "type": "object",
    "required": ["id", "data"],
    "properties": {
        "id": {"type": "string", "minLength": 1},
        "data": {"not": {"type": "null"}},
    },
}
DELIVERY_ANSWER = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"enum": ["SUCCESS", "RETRY", "DROP"]}, "error": {"type": "string"}},
}
RUN_QUERY = [{"name": "run", "in": "query", "required": True, "schema": {"type": "string"}}]
CURSOR_QUERY = [
    *RUN_QUERY,
    {
        "name": "after",
        "in": "query",
        "required": False,
        "description": "the `next` of the previous page; 0 (the default) reads from the start",
        "schema": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
    },
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": "most attempts in one page (default 1000)",
        "schema": {"type": "integer", "minimum": 1, "maximum": 10_000},
    },
]
ARRIVAL = {
    "type": "object",
    "required": ["attempt", "id", "topic", "route", "seq", "sent_at", "received_at"],
    "properties": {
        "attempt": {"type": "integer"},
        "id": {"type": "string"},
        "topic": {"type": "string"},
        "route": {"type": "string"},
        "seq": {"type": ["integer", "null"]},
        "sent_at": {"type": ["number", "null"]},
        "received_at": {"type": "number"},
    },
}
ARRIVALS_PAGE = {
    "type": "object",
    "required": ["run", "arrivals", "next", "more"],
    "properties": {
        "run": {"type": "string"},
        "arrivals": {"type": "array", "items": ARRIVAL},
        "next": {"type": "integer", "minimum": 0},
        "more": {"type": "boolean"},
    },
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _answers(ok: dict[str, Any], *refusals: int) -> dict[str, Any]:
    answers: dict[str, Any] = {"200": {"description": "done", "content": _json(ok)}}
    for status in refusals:
        answers[str(status)] = {"description": "refused", "content": _json(ERROR)}
    return answers


def _delivery(summary: str, path_params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "security": [{"appToken": []}],
            "parameters": path_params or [],
            "requestBody": {
                "required": True,
                "content": {
                    "application/cloudevents+json": {"schema": CLOUDEVENT},
                    "application/json": {"schema": CLOUDEVENT},
                },
            },
            "responses": _answers(DELIVERY_ANSWER, 401, 404),
        }
    }


PUBLISH_BULK = {
    "type": "object",
    "required": ["messages"],
    "properties": {"messages": {"type": "array", "items": MESSAGE}},
}
FEATURE_PUBLISH_QUERY = [
    {"name": "type", "in": "query", "required": False, "schema": {"type": "string"}},
    {"name": "raw", "in": "query", "required": False, "schema": {"enum": ["true", "false"]}},
    {"name": "ttl", "in": "query", "required": False, "schema": {"type": "string"}},
]


def _feature_publish(summary: str, body: dict[str, Any], params: list[Any]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "security": [{"suiteToken": []}],
            "parameters": params,
            "requestBody": {"required": True, "content": _json(body)},
            "responses": _answers({"type": "object"}, 400, 401, 403, 404, 413, 415),
        }
    }


def _feature_delivery(path: str) -> dict[str, Any]:
    """A feature topic's delivery route: a CloudEvent, a bulk batch or a raw payload's
    wrapper, always one JSON object (features/ says which)."""
    body = {"type": "object"}
    return {
        "post": {
            "summary": f"a delivery to {path} (features/)",
            "security": [{"appToken": []}],
            "requestBody": {
                "required": True,
                "content": {"application/cloudevents+json": {"schema": body}, **_json(body)},
            },
            "responses": _answers({"type": "object"}, 400, 401, 413, 415),
        }
    }


def _feature_paths(topic_param: list[dict[str, Any]]) -> dict[str, Any]:
    """The routes of service-1's feature topics (system_under_test/service1/features/)."""
    paths: dict[str, Any] = {
        "/features/publish/{topic}": _feature_publish(
            "publish to a feature topic, with Dapr metadata",
            MESSAGE,
            topic_param + FEATURE_PUBLISH_QUERY,
        ),
        "/features/publish-bulk/{topic}": _feature_publish(
            "publish to a feature topic through the bulk API", PUBLISH_BULK, topic_param
        ),
    }
    for route in features.routes:
        if route.path in paths:
            continue
        if "GET" in (route.methods or ()):
            summary = f"state of {route.path}"
            paths[route.path] = {"get": {"summary": summary, "responses": _answers({})}}
        else:
            paths[route.path] = _feature_delivery(route.path)
    return paths


def document(topics: tuple[str, ...]) -> dict[str, Any]:
    anything = {"type": "object"}
    topic_param = [{"name": "topic", "in": "path", "required": True, "schema": {"type": "string"}}]
    paths: dict[str, Any] = {
        "/dapr/subscribe": {
            "get": {
                "summary": "daprd asks for the subscriptions",
                "security": [{"appToken": []}],
                "responses": _answers({"type": "array"}, 401),
            }
        },
        "/publish/{topic}": {
            "post": {
                "summary": "publish a message to a topic through daprd",
                "security": [{"suiteToken": []}],
                "parameters": topic_param,
                "requestBody": {"required": True, "content": _json(MESSAGE)},
                # 503: publishing paused while the backlog is full (PUBLISH_MAX_BACKLOG)
                "responses": _answers(anything, 400, 401, 404, 413, 415, 503),
            }
        },
        "/state": {
            "get": {"summary": "read dapr-series", "responses": _answers(anything)},
            "post": {
                "summary": "write dapr-series",
                "security": [{"suiteToken": []}],
                "requestBody": {
                    "required": True,
                    "content": _json({"type": "object", "required": ["value"]}),
                },
                "responses": _answers(anything, 400, 401, 413, 415),
            },
            "delete": {
                "summary": "delete dapr-series",
                "security": [{"suiteToken": []}],
                "responses": _answers(anything, 401),
            },
        },
        "/ping": {"get": {"summary": "pong", "responses": _answers(anything)}},
        "/s2/ping": {"get": {"summary": "ping service-2", "responses": _answers(anything)}},
        "/healthz": {"get": {"summary": "health", "responses": _answers(anything)}},
        "/ledger": {
            "get": {
                "summary": "the run's delivery records",
                "parameters": RUN_QUERY,
                "responses": _answers(anything, 400),
            }
        },
        "/ledger/arrivals": {
            "get": {
                "summary": "the run's delivery attempts after a cursor, oldest first",
                "parameters": CURSOR_QUERY,
                "responses": _answers(ARRIVALS_PAGE, 400),
            }
        },
        "/ledger/summary": {
            "get": {
                "summary": "the run's deliveries counted",
                "parameters": RUN_QUERY,
                "responses": _answers(anything, 400),
            }
        },
        "/dead-letter/{topic}": _delivery("a dead-lettered delivery", topic_param),
    }
    for topic in topics:
        paths[f"/{topic}"] = _delivery(f"a delivery on {topic}")
    paths.update(_feature_paths(topic_param))
    return {
        "openapi": "3.1.0",
        "info": {"title": "service-1", "version": "1"},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "appToken": {"type": "apiKey", "in": "header", "name": "dapr-api-token"},
                "suiteToken": {"type": "apiKey", "in": "header", "name": "suite-api-token"},
            }
        },
    }


async def openapi(request: Request) -> Response:
    return JSONResponse(document(request.app.state.deps.settings.topics))
