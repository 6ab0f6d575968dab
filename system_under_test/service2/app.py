"""service-2: the target of service-1's Dapr invocations; remembers each call per run.

Run: python -m uvicorn system_under_test.service2.app:app --host 127.0.0.1 --port 7070
Settings come from the environment (see settings.py); daprd is reached at DAPR_HTTP_ENDPOINT.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Counter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from system_under_test.common.bodies import CLOUDEVENT_JSON_TYPES, read_json_object
from system_under_test.common.daprd import DaprClient, connected
from system_under_test.common.errors import EXCEPTION_HANDLERS, ApiError
from system_under_test.common.metrics import metrics_response
from system_under_test.common.settings import configure_logging, settings_or_exit
from system_under_test.common.tokens import requires_app_token, requires_suite_token
from system_under_test.service2.openapi import openapi
from system_under_test.service2.settings import Service2Settings

log = logging.getLogger("service-2")


class ReceivedCalls:
    """The t1 calls received, per run, in memory: service-2 has no ledger of its own.

    Bounded, so a long-lived service-2 under load does not grow without end (an hour's soak
    at 20 msgs/s grew it by 24 MB): the newest `max_runs` runs, and the first
    `max_per_run` calls of each; the calls past that are counted, not kept.
    """

    def __init__(self, max_runs: int = 1000, max_per_run: int = 10_000) -> None:
        self._by_run: OrderedDict[str | None, list[dict[str, Any]]] = OrderedDict()
        self._not_kept: dict[str | None, int] = {}
        self.max_runs, self.max_per_run = max_runs, max_per_run

    def add(self, run: str | None, seq: int | None, traceparent: str | None) -> None:
        if run not in self._by_run:
            self._by_run[run] = []
            while len(self._by_run) > self.max_runs:
                self._not_kept.pop(self._by_run.popitem(last=False)[0], None)
        kept = self._by_run[run]
        if len(kept) >= self.max_per_run:
            self._not_kept[run] = self._not_kept.get(run, 0) + 1
            return
        kept.append(
            {"run": run, "seq": seq, "traceparent": traceparent, "received_at": time.time()}
        )

    def of_run(self, run: str) -> list[dict[str, Any]]:
        return list(self._by_run.get(run, ()))

    def not_kept(self, run: str) -> int:
        return self._not_kept.get(run, 0)


class Service2Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.invocations = Counter(
            "service2_invocations_received",
            "Invocations received through Dapr, by method",
            ["method"],
            registry=self.registry,
        )


@dataclass
class Service2:
    settings: Service2Settings
    transport: httpx.AsyncBaseTransport | None = None
    metrics: Service2Metrics = field(default_factory=Service2Metrics)
    received: ReceivedCalls = field(default_factory=ReceivedCalls)
    dapr: DaprClient | None = None

    @classmethod
    def of(cls, request: Request) -> Service2:
        service: Service2 = request.app.state.deps
        return service

    @property
    def daprd(self) -> DaprClient:
        assert self.dapr is not None, "service-2 is not running (lifespan not entered)"
        return self.dapr


def run_and_seq(body: dict[str, Any]) -> tuple[str | None, int | None]:
    """run and seq of service-1's message: {"messageType", "message": {...}} or the bare message.

    Either may be missing; present with the wrong type (at either level), the message is wrong
    and the call is refused with 422, which tells service-1 that a retry would be refused too.
    """
    wrapped = body.get("message")
    if wrapped is not None and not isinstance(wrapped, dict):
        raise ApiError(422, "field 'message' must be an object")
    for level in (body, wrapped or {}):
        check_run_and_seq(level.get("run"), level.get("seq"))
    message: dict[str, Any] = body if wrapped is None else wrapped
    return message.get("run"), message.get("seq")


def check_run_and_seq(run: Any, seq: Any) -> None:
    if run is not None and not isinstance(run, str):
        raise ApiError(422, "field 'run' must be a string")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)):
        raise ApiError(422, "field 'seq' must be an integer")


@requires_app_token
async def receive_t1(request: Request) -> Response:
    service = Service2.of(request)
    body = await read_json_object(request, service.settings.max_body_bytes, CLOUDEVENT_JSON_TYPES)
    run, seq = run_and_seq(body)
    service.received.add(run, seq, request.headers.get("traceparent"))
    service.metrics.invocations.labels("t1").inc()
    log.info("t1 call run=%s seq=%s", run, seq)
    return JSONResponse({"message": "received", "run": run, "seq": seq})


@requires_app_token
async def ping(request: Request) -> Response:
    service = Service2.of(request)
    service.metrics.invocations.labels("ping").inc()
    return JSONResponse({"message": "pong", "app_id": service.settings.app_id})


@requires_app_token
async def dapr_subscribe(request: Request) -> Response:
    return JSONResponse([])  # daprd asks every app; service-2 subscribes to nothing


async def received(request: Request) -> Response:
    run = request.query_params.get("run")
    if not run:
        raise ApiError(400, "query parameter 'run' is required")
    calls = Service2.of(request).received
    records, not_kept = calls.of_run(run), calls.not_kept(run)
    return JSONResponse(
        {"run": run, "count": len(records), "records": records, "not_kept": not_kept}
    )


async def get_state(request: Request) -> Response:
    service = Service2.of(request)
    settings = service.settings
    value = await service.daprd.get_state(settings.state_store_name, settings.state_key)
    return JSONResponse({"key": settings.state_key, "value": value})


@requires_suite_token
async def save_state(request: Request) -> Response:
    service = Service2.of(request)
    settings = service.settings
    body = await read_json_object(request, settings.max_body_bytes)
    if "value" not in body:
        raise ApiError(400, "body must have a 'value' field")
    await service.daprd.save_state(settings.state_store_name, settings.state_key, body["value"])
    return JSONResponse({"message": "saved", "key": settings.state_key, "value": body["value"]})


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def metrics(request: Request) -> Response:
    return metrics_response(Service2.of(request).metrics.registry)


routes = [
    Route("/t1", receive_t1, methods=["POST"]),
    Route("/ping", ping, methods=["GET"]),
    Route("/dapr/subscribe", dapr_subscribe, methods=["GET"]),
    Route("/received", received, methods=["GET"]),
    Route("/state", get_state, methods=["GET"]),
    Route("/state", save_state, methods=["POST"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
]


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    service: Service2 = app.state.deps
    settings = service.settings
    async with connected(settings, service.transport) as dapr:
        service.dapr = dapr
        log.info("up: daprd %s", settings.dapr_http_endpoint)
        try:
            yield
        finally:
            service.dapr = None


def create_app(
    settings: Service2Settings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> Starlette:
    """service-2 as a Starlette app; tests pass settings and a MockTransport for daprd."""
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=EXCEPTION_HANDLERS)
    app.state.deps = Service2(settings=settings or Service2Settings.from_env(), transport=transport)
    return app


def _app_from_environment() -> Starlette:
    settings = settings_or_exit(Service2Settings.from_env, "service-2")
    configure_logging(settings.log_level)
    return create_app(settings)


app = _app_from_environment()
