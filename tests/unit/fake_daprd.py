"""An in-memory stand-in for daprd's HTTP API, as an httpx MockTransport, for unit tests.

It keeps state per store, records publishes, and hands invocations to Python callables per
app id. `fail(...)` makes an operation answer like daprd does when it fails.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

Invoked = Callable[[str, httpx.Request], httpx.Response]

_PUBLISH = re.compile(r"^/v1\.0/publish/(?P<pubsub>[^/]+)/(?P<topic>[^/]+)$")
_INVOKE = re.compile(r"^/v1\.0/invoke/(?P<app>[^/]+)/method/(?P<method>.+)$")
_STATE_ITEM = re.compile(r"^/v1\.0/state/(?P<store>[^/]+)/(?P<key>[^/]+)$")
_STATE_BULK = re.compile(r"^/v1\.0/state/(?P<store>[^/]+)$")


@dataclass(frozen=True)
class Published:
    pubsub: str
    topic: str
    data: Any
    headers: httpx.Headers


class FakeDaprd:
    """daprd's publish, invoke and state APIs, answered from memory."""

    def __init__(self, api_token: str = "") -> None:
        self.api_token = api_token
        self.state: dict[str, dict[str, Any]] = {}
        self.published: list[Published] = []
        self.requests: list[httpx.Request] = []
        self.apps: dict[str, Invoked] = {}
        self._failures: dict[str, httpx.Response] = {}
        self.transport = httpx.MockTransport(self.handle)

    def fail(self, operation: str, status: int, error_code: str, message: str) -> None:
        """Make 'publish', 'invoke' or 'state' answer with a daprd error from now on."""
        body = {"errorCode": error_code, "message": message}
        self._failures[operation] = httpx.Response(status, json=body)

    def recover(self, operation: str) -> None:
        self._failures.pop(operation, None)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.api_token and request.headers.get("dapr-api-token") != self.api_token:
            return _error(401, "ERR_UNAUTHORIZED", "invalid api token")
        path = request.url.path
        if match := _PUBLISH.match(path):
            return self._failures.get("publish") or self._publish(request, **match.groupdict())
        if match := _INVOKE.match(path):
            return self._failures.get("invoke") or self._invoke(request, **match.groupdict())
        if (match := _STATE_ITEM.match(path)) or (match := _STATE_BULK.match(path)):
            return self._failures.get("state") or self._state(request, **match.groupdict())
        return _error(404, "ERR_NOT_FOUND", f"fake daprd has no {request.method} {path}")

    def _publish(self, request: httpx.Request, pubsub: str, topic: str) -> httpx.Response:
        data = json.loads(request.content)
        self.published.append(Published(pubsub, topic, data, request.headers))
        return httpx.Response(204)

    def _invoke(self, request: httpx.Request, app: str, method: str) -> httpx.Response:
        target = self.apps.get(app)
        if target is None:
            return _error(500, "ERR_DIRECT_INVOKE", f"app {app} not found")
        return target(method, request)

    def _state(self, request: httpx.Request, store: str, key: str | None = None) -> httpx.Response:
        items = self.state.setdefault(store, {})
        if request.method == "GET" and key is not None:
            if key not in items:
                return httpx.Response(204)
            return httpx.Response(200, json=items[key])
        if request.method == "DELETE" and key is not None:
            items.pop(key, None)
            return httpx.Response(204)
        if request.method == "POST" and key is None:
            for item in json.loads(request.content):
                items[item["key"]] = item["value"]
            return httpx.Response(204)
        return _error(405, "ERR_METHOD", f"fake daprd: no {request.method} on state")


def _error(status: int, error_code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"errorCode": error_code, "message": message})
