"""service-2's routes as an OpenAPI 3.1 document, served at GET /openapi.json.

Written beside the routes (app.py); every refusal is a JSON `{"error": ...}` with a 4xx
status. The fuzz run (fuzz/) generates its bad input from it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
MESSAGE: dict[str, Any] = {
    "type": ["object", "null"],  # null counts as absent, here and in the fields
    "properties": {"run": {"type": ["string", "null"]}, "seq": {"type": ["integer", "null"]}},
}
ANYTHING = {"type": "object"}
# service-1's wrapped message {"messageType", "message": {...}}, or a bare message
T1_BODY = {"type": "object", "properties": {**MESSAGE["properties"], "message": MESSAGE}}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _answers(*refusals: int) -> dict[str, Any]:
    answers: dict[str, Any] = {"200": {"description": "done", "content": _json(ANYTHING)}}
    for status in refusals:
        answers[str(status)] = {"description": "refused", "content": _json(ERROR)}
    return answers


DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "service-2", "version": "1"},
    "paths": {
        "/t1": {
            "post": {
                "summary": "service-1's invocation with a t1 message",
                "security": [{"appToken": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": T1_BODY},
                        "application/cloudevents+json": {"schema": T1_BODY},
                    },
                },
                "responses": _answers(400, 401, 413, 415, 422),
            }
        },
        "/ping": {
            "get": {"summary": "pong", "security": [{"appToken": []}], "responses": _answers(401)}
        },
        "/dapr/subscribe": {
            "get": {
                "summary": "no subscriptions",
                "security": [{"appToken": []}],
                "responses": _answers(401),
            }
        },
        "/received": {
            "get": {
                "summary": "the t1 calls of a run (its first 10,000; `not_kept` counts the rest)",
                "parameters": [
                    {"name": "run", "in": "query", "required": True, "schema": {"type": "string"}}
                ],
                "responses": _answers(400),
            }
        },
        "/state": {
            "get": {"summary": "read its own key", "responses": _answers()},
            "post": {
                "summary": "write its own key",
                "security": [{"suiteToken": []}],
                "requestBody": {
                    "required": True,
                    "content": _json({"type": "object", "required": ["value"]}),
                },
                "responses": _answers(400, 401, 413, 415),
            },
        },
        "/healthz": {"get": {"summary": "health", "responses": _answers()}},
    },
    "components": {
        "securitySchemes": {
            "appToken": {"type": "apiKey", "in": "header", "name": "dapr-api-token"},
            "suiteToken": {"type": "apiKey", "in": "header", "name": "suite-api-token"},
        }
    },
}


async def openapi(request: Request) -> Response:
    return JSONResponse(DOCUMENT)
