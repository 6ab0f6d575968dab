"""The client of the service's own daprd sidecar: the few HTTP APIs the services call."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol

import httpx
from httpx_aiohttp import AiohttpTransport

from system_under_test.common.bodies import parse_json
from system_under_test.common.errors import ApiError, DaprError
from system_under_test.common.tokens import TOKEN_HEADER

MAX_PARSED_URLS = 1024


def daprd_transport(transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncBaseTransport:
    """The one connection pool an app keeps for its daprd: aiohttp's; tests pass a MockTransport.

    httpcore's pool (httpx's own) looks at every idle connection on each request (a poll() per
    connection) and goes through anyio for each read and write: that made it half of
    service-1's CPU under load, and aiohttp on uvloop does the same calls for a fraction.
    """
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=50)
    # trust_env off: daprd is a sidecar on loopback, never reached through a proxy
    return transport or AiohttpTransport(limits=limits, trust_env=False)


class DaprdSettings(Protocol):
    """What a service's settings say about its daprd."""

    dapr_http_endpoint: str
    dapr_api_token: str
    dapr_timeout_seconds: float


@asynccontextmanager
async def connected(
    settings: DaprdSettings, transport: httpx.AsyncBaseTransport | None = None
) -> AsyncIterator[DaprClient]:
    """The app's client of its daprd, on its one pool, for as long as the app runs."""
    async with daprd_transport(transport) as pool:
        yield DaprClient(
            settings.dapr_http_endpoint,
            settings.dapr_api_token,
            settings.dapr_timeout_seconds,
            pool,
        )


class DaprClient:
    """The few daprd HTTP APIs the services use, each failure raised as DaprError.

    Requests go straight to the transport: httpx's client layer above it (base URL merging,
    cookies, redirects, auth) does nothing a sidecar's API needs, and cost a fifth of
    service-1's CPU per message.
    """

    def __init__(
        self,
        endpoint: str,
        dapr_api_token: str,
        timeout_seconds: float,
        transport: httpx.AsyncBaseTransport,
    ) -> None:
        self._base_url = httpx.URL(endpoint)
        self._headers = {TOKEN_HEADER: dapr_api_token} if dapr_api_token else {}
        self._timeout = dict.fromkeys(("connect", "read", "write", "pool"), timeout_seconds)
        self._transport = transport
        self._urls: dict[str, httpx.URL] = {}

    def _url(self, path: str) -> httpx.URL:
        """The absolute URL of a daprd path, parsed once per path."""
        url = self._urls.get(path)
        if url is None:
            if len(self._urls) >= MAX_PARSED_URLS:  # paths come from settings: never here
                self._urls.clear()
            url = self._urls[path] = self._base_url.join(path)
        return url

    async def _send(
        self,
        action: str,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        **content: Any,
    ) -> httpx.Response:
        """One call; `content`: httpx.Request's json=, content= or params=."""
        headers = {**self._headers, **(headers or {})}
        extensions = {"timeout": self._timeout}
        request = httpx.Request(method, self._url(path), headers=headers, extensions=extensions,
                                **content)  # fmt: skip
        try:
            response = await self._transport.handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
        except httpx.HTTPError as err:
            # aiohttp's own error when there is one: the transport maps a refused connection
            # to httpx's ConnectTimeout, which would misname it
            named = err.__cause__ if isinstance(err.__cause__, Exception) else err
            raise DaprError(action, None, None, f"{type(named).__name__}: {err}") from err
        if not response.is_success:
            raise DaprError.from_response(action, response)
        return response

    async def publish(
        self, pubsub: str, topic: str, payload: Any, headers: Mapping[str, str]
    ) -> None:
        await self._send(
            f"publish to {pubsub}/{topic}",
            "POST",
            f"/v1.0/publish/{pubsub}/{topic}",
            json=payload,
            headers=dict(headers),
        )

    async def publish_with_metadata(
        self, pubsub: str, topic: str, body: bytes, metadata: Mapping[str, str]
    ) -> None:
        """A JSON body published with Dapr's publish metadata (`metadata.<name>` parameters)."""
        await self._send(
            f"publish to {pubsub}/{topic}",
            "POST",
            f"/v1.0/publish/{pubsub}/{topic}",
            content=body,
            params={f"metadata.{name}": value for name, value in metadata.items()},
            headers={"content-type": "application/json"},
        )

    async def bulk_publish(self, pubsub: str, topic: str, events: list[Any]) -> list[Any]:
        """One call of the bulk publish API; answers the entries daprd could not publish."""
        entries = [
            {"entryId": str(index), "event": event, "contentType": "application/json"}
            for index, event in enumerate(events)
        ]
        response = await self._send(
            f"bulk publish to {pubsub}/{topic}",
            "POST",
            f"/v1.0/publish/bulk/{pubsub}/{topic}",
            json=entries,
        )
        if not response.content:
            return []
        answer = _json_answer(f"bulk publish to {pubsub}/{topic}", response)
        failed = answer.get("failedEntries") if isinstance(answer, dict) else None
        return list(failed or [])

    async def invoke(
        self,
        app_id: str,
        method: str,
        *,
        http_method: str = "POST",
        payload: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        action = f"invoke {app_id}/{method}"
        extra: dict[str, Any] = {} if payload is None else {"json": payload}
        response = await self._send(
            action,
            http_method,
            f"/v1.0/invoke/{app_id}/method/{method}",
            headers=dict(headers or {}),
            **extra,
        )
        return _json_answer(action, response)

    async def get_state(self, store: str, key: str) -> Any:
        action = f"read {store}/{key}"
        response = await self._send(action, "GET", f"/v1.0/state/{store}/{key}")
        return _json_answer(action, response)

    async def save_state(self, store: str, key: str, value: Any) -> None:
        items = [{"key": key, "value": value}]
        await self._send(f"save {store}/{key}", "POST", f"/v1.0/state/{store}", json=items)

    async def delete_state(self, store: str, key: str) -> None:
        await self._send(f"delete {store}/{key}", "DELETE", f"/v1.0/state/{store}/{key}")


def _json_answer(action: str, response: httpx.Response) -> Any:
    """The JSON in a daprd answer; an empty body (204, missing state) is None."""
    if not response.content:
        return None
    try:
        return parse_json(response.content)
    except ApiError as err:
        raise DaprError(action, response.status_code, None, err.error) from None
