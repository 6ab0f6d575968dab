"""The services' daprd client on its real pool (aiohttp), against a recording server."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from system_under_test.common.daprd import DaprClient, connected
from system_under_test.common.errors import DaprError
from system_under_test.common.tokens import TOKEN_HEADER


@dataclass
class Settings:
    dapr_http_endpoint: str
    dapr_api_token: str = ""
    dapr_timeout_seconds: float = 5.0


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def with_daprd(
    answer: web.Response, use: Callable[[DaprClient], Awaitable[Any]], token: str = ""
) -> tuple[list[dict[str, Any]], Any]:
    """Runs `use` against a server that records each request and gives `answer`."""
    seen: list[dict[str, Any]] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "headers": dict(request.headers),
                "body": await request.read(),
            }
        )
        return answer

    async def run() -> Any:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", record)
        async with TestServer(app, host="127.0.0.1") as server:
            endpoint = f"http://127.0.0.1:{server.port}"
            async with connected(Settings(endpoint, token)) as client:
                return await use(client)

    return seen, asyncio.run(run())


def test_a_refused_connection_is_named_as_such_not_as_a_timeout():
    async def read_state() -> None:
        async with connected(Settings(f"http://127.0.0.1:{closed_port()}")) as client:
            await client.get_state("statestore", "key")

    with pytest.raises(DaprError) as raised:
        asyncio.run(read_state())
    assert raised.value.status is None
    assert "ClientConnectorError" in str(raised.value)
    assert "Timeout" not in str(raised.value)


def test_a_publish_sends_compact_json_with_the_token_and_the_headers_given():
    seen, _ = with_daprd(
        web.Response(status=204),
        lambda dapr: dapr.publish("bus", "t1", {"seq": 1, "é": "ü"}, {"traceparent": "tp"}),
        token="secret",
    )
    [call] = seen
    assert (call["method"], call["path"]) == ("POST", "/v1.0/publish/bus/t1")
    assert call["body"] == '{"seq":1,"é":"ü"}'.encode()
    assert call["headers"]["Content-Type"] == "application/json"
    assert call["headers"][TOKEN_HEADER] == "secret"
    assert call["headers"]["traceparent"] == "tp"


def test_publish_metadata_goes_in_the_query_and_the_body_as_it_is():
    body = b'{"a": 1}'
    seen, _ = with_daprd(
        web.Response(status=204),
        lambda dapr: dapr.publish_with_metadata("bus", "t1", body, {"ttlInSeconds": "60"}),
    )
    [call] = seen
    assert call["query"] == {"metadata.ttlInSeconds": "60"}
    assert call["body"] == body
    assert TOKEN_HEADER not in call["headers"]


def test_an_invocation_answers_the_json_service_2_sent():
    answer = web.json_response({"ok": True})
    seen, result = with_daprd(answer, lambda dapr: dapr.invoke("service-2", "t1", payload=[1]))
    assert result == {"ok": True}
    assert seen[0]["path"] == "/v1.0/invoke/service-2/method/t1"
    assert json.loads(seen[0]["body"]) == [1]


def test_a_refusal_carries_daprs_status_and_error_code():
    refusal = web.json_response(
        {"errorCode": "ERR_PUBSUB_NOT_FOUND", "message": "no bus"}, status=404
    )

    with pytest.raises(DaprError) as raised:
        with_daprd(refusal, lambda dapr: dapr.publish("bus", "t1", {}, {}))
    assert (raised.value.status, raised.value.error_code) == (404, "ERR_PUBSUB_NOT_FOUND")
    assert raised.value.message == "no bus"


def test_a_missing_state_is_none_and_a_get_has_no_body():
    seen, value = with_daprd(web.Response(status=204), lambda dapr: dapr.get_state("store", "k"))
    assert value is None
    assert (seen[0]["method"], seen[0]["body"]) == ("GET", b"")


def test_a_payload_json_cannot_spell_is_refused_before_any_call():
    seen: list[Any] = []
    with pytest.raises(ValueError):
        seen, _ = with_daprd(
            web.Response(status=204), lambda dapr: dapr.save_state("store", "k", float("nan"))
        )
    assert seen == []
