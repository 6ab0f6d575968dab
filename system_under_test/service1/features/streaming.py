"""Streaming subscription: service-1 reads topic `streamed` over a gRPC stream it opens to daprd.

It uses the official Dapr Python SDK's streaming `Subscription` on daprd's gRPC port
(DAPR_GRPC_PORT; without it there is no stream). The API token (DAPR_API_TOKEN) goes on the
stream call itself: the SDK client's channel interceptor does not put it on stream-stream
calls (daprd 1.18.3 answers UNAUTHENTICATED), so `TokenStub` adds it. The stream is opened
in the background once daprd answers and reopened if it ends; `GET /features/streaming`
says whether it is open, so a check can wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
from dapr.aio.clients.grpc.subscription import Subscription
from dapr.proto import api_service_v1
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from system_under_test.service1.delivery import published_message
from system_under_test.service1.features.receiving import PUBSUB, SUCCESS, record
from system_under_test.service1.ledger import Delivery

log = logging.getLogger("service-1.streaming")

TOPIC = "streamed"
ROUTE = "grpc-stream"  # what the ledger shows as the route: there is no HTTP route
RETRY_SECONDS = 0.5


@dataclass
class StreamState:
    open: bool = False
    received: int = 0


def delivery_of_message(message: Any, received_at: float) -> Delivery:
    data = message.data()
    inner = published_message(data)
    seq, run = inner.get("seq"), inner.get("run")
    return Delivery(
        event_id=message.id(),
        topic=message.topic(),
        route=ROUTE,
        run=run if isinstance(run, str) else None,
        seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
        received_at=received_at,
        envelope={
            "source": message.source(),
            "type": message.type(),
            "specversion": message.spec_version(),
            "datacontenttype": message.data_content_type(),
            "topic": message.topic(),
            "pubsubname": message.pubsub_name(),
        },
    )


async def wait_for_daprd(http: httpx.AsyncClient) -> None:
    """Until daprd's API answers. The SDK client's constructor checks that too, but with a
    blocking loop of up to 60 s that would stall service-1's event loop while daprd is down."""
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if (await http.get("/v1.0/healthz/outbound")).is_success:
                return
        await asyncio.sleep(RETRY_SECONDS)


async def consume(service: Any, state: StreamState, topic: str = TOPIC) -> None:
    """Keep one stream open on `topic`; record and acknowledge each message."""
    settings = service.settings
    address = f"127.0.0.1:{settings.dapr_grpc_port}"
    async with httpx.AsyncClient(
        base_url=settings.dapr_http_endpoint, timeout=2.0, trust_env=False
    ) as http:
        while True:
            await wait_for_daprd(http)
            await stream_once(service, state, topic, address)


class TokenStub:
    """The one call the SDK's `Subscription` makes, with the API token on it."""

    def __init__(self, channel: grpc.aio.Channel, token: str) -> None:
        self._stub = api_service_v1.DaprStub(channel)
        self._metadata = [("dapr-api-token", token)] if token else None

    def SubscribeTopicEventsAlpha1(self, requests: Any) -> Any:
        return self._stub.SubscribeTopicEventsAlpha1(requests, metadata=self._metadata)


async def stream_once(service: Any, state: StreamState, topic: str, address: str) -> None:
    """Open the stream and read it until it ends; a failed open is retried by the caller."""
    channel = grpc.aio.insecure_channel(address)
    subscription = Subscription(TokenStub(channel, service.settings.dapr_api_token), PUBSUB, topic)
    try:
        await subscription.start()
    except Exception as err:  # noqa: BLE001 - daprd not up yet, or gone: try again shortly
        log.debug("stream on %s not open yet: %s", topic, err)
        await channel.close()
        await asyncio.sleep(RETRY_SECONDS)
        return
    state.open = True
    log.info("stream open on %s/%s", PUBSUB, topic)
    try:
        while (message := await subscription.next_message()) is not None:
            record(service, delivery_of_message(message, time.time()), SUCCESS)
            state.received += 1
            await subscription.respond_success(message)
    except Exception as err:  # noqa: BLE001 - the stream ends; the caller opens a new one
        log.warning("stream on %s ended: %s", topic, err)
    finally:
        state.open = False
        with contextlib.suppress(Exception):
            await subscription.close()
        await channel.close()


@contextlib.asynccontextmanager
async def streaming(app: Starlette, topic: str = TOPIC) -> AsyncIterator[None]:
    """Run the stream for as long as the app runs."""
    state = StreamState()
    app.state.streaming = state
    if not app.state.deps.settings.dapr_grpc_port:
        yield
        return
    task = asyncio.create_task(consume(app.state.deps, state, topic))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def stream_status(request: Request) -> Response:
    state: StreamState = request.app.state.streaming
    return JSONResponse({"topic": TOPIC, "open": state.open, "received": state.received})


routes = [Route("/features/streaming", stream_status, methods=["GET"])]
