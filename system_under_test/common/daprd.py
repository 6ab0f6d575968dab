"""The client of the service's own daprd sidecar: the few HTTP APIs the services call."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

import aiohttp
import httpx
from yarl import URL

from system_under_test.common.bodies import parse_json
from system_under_test.common.errors import ApiError, DaprError
from system_under_test.common.tokens import TOKEN_HEADER

MAX_PARSED_URLS = 1024
MAX_CONNECTIONS = 100


@dataclass(frozen=True)
class DaprdAnswer:
    """What daprd answered to one call: its status and its whole body."""

    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


class Unreachable(Exception):
    """daprd did not answer: refused, reset or timed out; the text names the client's error."""


Send = Callable[[str, str, Mapping[str, str], bytes | None], Awaitable[DaprdAnswer]]


class AiohttpSend:
    """Calls on aiohttp's pool, straight from bytes to bytes.

    Each layer above the socket cost service-1 CPU per message: httpcore's pool (a poll() per
    idle connection per request, anyio for each read and write), then httpx's client layer
    (URL merging, cookies, redirects), then httpx's request and response models over aiohttp.
    """

    def __init__(self, session: aiohttp.ClientSession, timeout_seconds: float) -> None:
        self._session = session
        seconds = timeout_seconds
        self._timeout = aiohttp.ClientTimeout(
            sock_connect=seconds, sock_read=seconds, connect=seconds
        )
        self._urls: dict[str, URL] = {}

    def _url(self, url: str) -> URL:
        """Parsed once per URL: yarl's parse is a visible cost at hundreds of calls a second."""
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= MAX_PARSED_URLS:  # paths come from settings: never here
                self._urls.clear()
            parsed = self._urls[url] = URL(url)
        return parsed

    async def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> DaprdAnswer:
        try:
            async with self._session.request(
                method, self._url(url), headers=headers, data=body,
                allow_redirects=False, timeout=self._timeout,
            ) as response:  # fmt: skip
                return DaprdAnswer(response.status, await response.read())
        except (aiohttp.ClientError, TimeoutError) as err:
            raise Unreachable(f"{type(err).__name__}: {err}") from err


def transport_send(transport: httpx.AsyncBaseTransport) -> Send:
    """Calls through an httpx transport: how unit tests stand in for daprd (a MockTransport)."""

    async def send(
        method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> DaprdAnswer:
        request = httpx.Request(method, url, headers=headers, content=body)
        try:
            response = await transport.handle_async_request(request)
            content = await response.aread()
        except httpx.HTTPError as err:
            raise Unreachable(f"{type(err).__name__}: {err}") from err
        return DaprdAnswer(response.status_code, content)

    return send


class DaprdSettings(Protocol):
    """What a service's settings say about its daprd."""

    dapr_http_endpoint: str
    dapr_api_token: str
    dapr_timeout_seconds: float


@asynccontextmanager
async def connected(
    settings: DaprdSettings, transport: httpx.AsyncBaseTransport | None = None
) -> AsyncIterator[DaprClient]:
    """The app's client of its daprd, on one pool for as long as the app runs.

    Tests pass an httpx transport (a MockTransport) in place of daprd.
    """
    if transport is not None:
        yield client_of(settings, transport_send(transport))
        return
    connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS, keepalive_timeout=5.0)
    # trust_env off: daprd is a sidecar on loopback, never reached through a proxy
    async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:
        yield client_of(settings, AiohttpSend(session, settings.dapr_timeout_seconds))


def client_of(settings: DaprdSettings, send: Send) -> DaprClient:
    return DaprClient(settings.dapr_http_endpoint, settings.dapr_api_token, send)


def json_body(payload: Any) -> bytes:
    """Compact UTF-8 JSON; NaN and infinities are refused, as JSON has no spelling for them."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8")


JSON_HEADERS = {"content-type": "application/json"}


class DaprClient:
    """The few daprd HTTP APIs the services use, each failure raised as DaprError."""

    def __init__(self, endpoint: str, dapr_api_token: str, send: Send) -> None:
        self._endpoint = endpoint.rstrip("/")
        self._headers = {TOKEN_HEADER: dapr_api_token} if dapr_api_token else {}
        self._send_call = send

    async def _send(
        self,
        action: str,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        payload: Any = None,
        body: bytes | None = None,
        params: Mapping[str, str] | None = None,
    ) -> DaprdAnswer:
        """One call: a JSON `payload`, or a `body` as it is; `params` go in the query string."""
        headers = {**self._headers, **(headers or {})}
        if payload is not None:
            body, headers = json_body(payload), {**JSON_HEADERS, **headers}
        url = f"{self._endpoint}{path}" + (f"?{urlencode(params)}" if params else "")
        try:
            answer = await self._send_call(method, url, headers, body)
        except Unreachable as err:
            raise DaprError(action, None, None, str(err)) from err
        if not answer.is_success:
            raise DaprError.from_response(action, answer)
        return answer

    async def publish(
        self, pubsub: str, topic: str, payload: Any, headers: Mapping[str, str]
    ) -> None:
        await self._send(
            f"publish to {pubsub}/{topic}",
            "POST",
            f"/v1.0/publish/{pubsub}/{topic}",
            payload=payload,
            headers=headers,
        )

    async def publish_with_metadata(
        self, pubsub: str, topic: str, body: bytes, metadata: Mapping[str, str]
    ) -> None:
        """A JSON body published with Dapr's publish metadata (`metadata.<name>` parameters)."""
        await self._send(
            f"publish to {pubsub}/{topic}",
            "POST",
            f"/v1.0/publish/{pubsub}/{topic}",
            body=body,
            params={f"metadata.{name}": value for name, value in metadata.items()},
            headers=JSON_HEADERS,
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
            payload=entries,
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
        response = await self._send(
            action,
            http_method,
            f"/v1.0/invoke/{app_id}/method/{method}",
            headers=headers,
            payload=payload,
        )
        return _json_answer(action, response)

    async def get_state(self, store: str, key: str) -> Any:
        action = f"read {store}/{key}"
        response = await self._send(action, "GET", f"/v1.0/state/{store}/{key}")
        return _json_answer(action, response)

    async def save_state(self, store: str, key: str, value: Any) -> None:
        items = [{"key": key, "value": value}]
        await self._send(f"save {store}/{key}", "POST", f"/v1.0/state/{store}", payload=items)

    async def delete_state(self, store: str, key: str) -> None:
        await self._send(f"delete {store}/{key}", "DELETE", f"/v1.0/state/{store}/{key}")


def _json_answer(action: str, response: DaprdAnswer) -> Any:
    """The JSON in a daprd answer; an empty body (204, missing state) is None."""
    if not response.content:
        return None
    try:
        return parse_json(response.content)
    except ApiError as err:
        raise DaprError(action, response.status_code, None, err.error) from None
