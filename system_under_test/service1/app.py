"""service-1: publishes to messagebus, subscribes to t1/t2, invokes service-2, keeps a ledger.

Run: python -m uvicorn system_under_test.service1.app:app --host 127.0.0.1 --port 6060
Settings come from the environment (see settings.py); daprd is reached at DAPR_HTTP_ENDPOINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from system_under_test.common.bodies import read_json_object
from system_under_test.common.daprd import DaprClient, connected
from system_under_test.common.errors import EXCEPTION_HANDLERS, ApiError, DaprError
from system_under_test.common.metrics import metrics_response
from system_under_test.common.settings import configure_logging, settings_or_exit
from system_under_test.common.tokens import (
    new_traceparent,
    requires_app_token,
    requires_suite_token,
)
from system_under_test.service1 import features
from system_under_test.service1.admission import RETRY_AFTER_SECONDS, Backlog
from system_under_test.service1.control import DeliveryControl, InvalidControl, parse_control
from system_under_test.service1.delivery import (
    CloudEvent,
    RejectedDelivery,
    delivery_of,
    read_cloud_event,
    rejected_delivery_of,
)
from system_under_test.service1.ledger import Ledger
from system_under_test.service1.openapi import openapi
from system_under_test.service1.settings import Service1Settings, dead_letter_topic

log = logging.getLogger("service-1")

SUCCESS = "SUCCESS"
RETRY = "RETRY"
DROP = "DROP"


class Service1Metrics:
    """Prometheus metrics in a registry of their own, so app instances never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.deliveries = Counter(
            "service1_deliveries",
            "Deliveries to subscriber routes, by subscribed topic and the app's answer",
            ["topic", "answer"],
            registry=self.registry,
        )
        self.publishes = Counter(
            "service1_publishes",
            "POST /publish calls, by topic and outcome (ok, error; refused: admission.py)",
            ["topic", "outcome"],
            registry=self.registry,
        )
        self.invocation_seconds = Histogram(
            "service1_invocation_seconds",
            "service-2 invocations through daprd, by method and outcome (ok, error)",
            ["method", "outcome"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )


@dataclass
class Service1:
    """What handlers need; `daprd` and `ledger` exist while the app is running (lifespan)."""

    settings: Service1Settings
    transport: httpx.AsyncBaseTransport | None = None
    metrics: Service1Metrics = field(default_factory=Service1Metrics)
    dapr: DaprClient | None = None
    opened_ledger: Ledger | None = None
    backlog: Backlog = field(init=False)

    def __post_init__(self) -> None:
        self.backlog = Backlog(self.settings.publish_max_backlog)

    @classmethod
    def of(cls, request: Request) -> Service1:
        service: Service1 = request.app.state.deps
        return service

    @property
    def daprd(self) -> DaprClient:
        assert self.dapr is not None, "service-1 is not running (lifespan not entered)"
        return self.dapr

    @property
    def ledger(self) -> Ledger:
        assert self.opened_ledger is not None, "service-1 is not running (lifespan not entered)"
        return self.opened_ledger


# --- publishing -----------------------------------------------------------------------------


@requires_suite_token
async def publish(request: Request) -> Response:
    service = Service1.of(request)
    settings = service.settings
    topic = request.path_params["topic"]
    if topic not in settings.topics:
        raise ApiError(404, f"unknown topic {topic!r}", topics=list(settings.topics))
    waiting = service.backlog.full()
    if waiting is not None:
        service.metrics.publishes.labels(topic, "refused").inc()
        return JSONResponse(
            {"error": f"publishing paused: {waiting} published messages have not arrived yet "
                      f"(PUBLISH_MAX_BACKLOG={settings.publish_max_backlog})"},
            status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )  # fmt: skip
    body = await read_json_object(request, settings.max_body_bytes)
    check_message_fields(body)
    traceparent = new_traceparent()
    envelope = {"messageType": topic, "message": body}
    service.backlog.publishing()
    try:
        await service.daprd.publish(
            settings.pubsub_name, topic, envelope, headers={"traceparent": traceparent}
        )
    except BaseException as err:
        service.backlog.not_published()
        if isinstance(err, DaprError):
            service.metrics.publishes.labels(topic, "error").inc()
        raise
    service.metrics.publishes.labels(topic, "ok").inc()
    return JSONResponse(
        {
            "message": "published",
            "topic": topic,
            "run": body.get("run"),
            "seq": body.get("seq"),
            "traceparent": traceparent,
        }
    )


def check_message_fields(body: dict[str, Any]) -> None:
    """The fields the suite gives a meaning must have the contract's types."""
    run, seq, sent_at = body.get("run"), body.get("seq"), body.get("sent_at")
    if run is not None and not isinstance(run, str):
        raise ApiError(400, "field 'run' must be a string")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)):
        raise ApiError(400, "field 'seq' must be an integer")
    if seq is not None and not -(1 << 63) <= seq < 1 << 63:
        raise ApiError(400, "field 'seq' must fit in 64 bits")
    if sent_at is not None and (isinstance(sent_at, bool) or not isinstance(sent_at, int | float)):
        raise ApiError(400, "field 'sent_at' must be a number (Unix epoch seconds)")


# --- subscriptions and deliveries -----------------------------------------------------------


@requires_app_token
async def dapr_subscribe(request: Request) -> Response:
    settings = Service1.of(request).settings
    subscriptions: list[dict[str, Any]] = [
        {"pubsubname": settings.pubsub_name, "topic": topic, "route": f"/{topic}"}
        | ({"deadLetterTopic": dead_letter_topic(topic)} if settings.dead_letter_topics else {})
        for topic in settings.topics
    ]
    subscriptions += [
        {
            "pubsubname": settings.pubsub_name,
            "topic": dead_letter_topic(topic),
            "route": f"/dead-letter/{topic}",
        }
        for topic in settings.topics
    ]
    subscriptions += features.subscriptions()
    return JSONResponse(subscriptions)


Answer = tuple[str, Response]
Behaviour = Callable[[Service1, CloudEvent], Awaitable[Answer]]


async def forward_to_service2(service: Service1, event: CloudEvent) -> Answer:
    """t1: pass the message to service-2 through Dapr and keep its answer in the state store."""
    settings = service.settings
    started = time.perf_counter()
    try:
        answer = await service.daprd.invoke(
            settings.service2_app_id, "t1", payload=event.data, headers=event.trace_headers()
        )
    except DaprError as err:
        service.metrics.invocation_seconds.labels("t1", "error").observe(
            time.perf_counter() - started
        )
        if refused_by_service2(err):
            return drop(f"service-2 refused the message: {err}")
        return retry(f"service-2 invocation failed: {err}")
    service.metrics.invocation_seconds.labels("t1", "ok").observe(time.perf_counter() - started)
    try:
        await service.daprd.save_state(settings.state_store_name, settings.state_key, answer)
    except DaprError as err:
        return retry(f"saving service-2's answer failed: {err}")
    return SUCCESS, JSONResponse({"status": SUCCESS})


async def wait_then_succeed(service: Service1, event: CloudEvent) -> Answer:
    """t2: the tutorial's slow consumer."""
    control = parse_control(event.message.get("control"))  # validated on arrival
    delay = service.settings.t2_delay_seconds
    if control is not None and control.delay_seconds is not None:
        delay = control.delay_seconds
    await asyncio.sleep(delay)
    message = event.message
    log.info("t2 event %s run=%s seq=%s", event.event_id, message.get("run"), message.get("seq"))
    return SUCCESS, JSONResponse({"status": SUCCESS})


async def succeed(service: Service1, event: CloudEvent) -> Answer:
    return SUCCESS, JSONResponse({"status": SUCCESS})


def refused_by_service2(err: DaprError) -> bool:
    """service-2 itself answered 4xx: the message is wrong, and a retry gets the same answer.

    daprd passes the app's status and body through; its own refusals carry a Dapr errorCode
    (a wrong token, an access policy) and stay retriable, since they are not the message's fault.
    """
    return err.status is not None and 400 <= err.status < 500 and err.error_code is None


def drop(error: str) -> Answer:
    log.warning("answering DROP: %s", error)
    return DROP, JSONResponse({"status": DROP, "error": error})


def retry(error: str) -> Answer:
    log.warning("answering RETRY: %s", error)
    return RETRY, JSONResponse({"status": RETRY, "error": error})


BEHAVIOURS: dict[str, Behaviour] = {"t1": forward_to_service2, "t2": wait_then_succeed}


def topic_route(topic: str) -> Route:
    """POST /<topic> for one configured topic: t1 and t2 have their behaviour, others succeed."""
    behaviour = BEHAVIOURS.get(topic, succeed)

    @requires_app_token
    async def receive_event(request: Request) -> Response:
        return await handle_delivery(request, topic, f"/{topic}", behaviour, controllable=True)

    return Route(f"/{topic}", receive_event, methods=["POST"])


@requires_app_token
async def receive_dead_letter(request: Request) -> Response:
    service = Service1.of(request)
    topic = request.path_params["topic"]
    if topic not in service.settings.topics:
        raise ApiError(404, f"no dead-letter subscription for topic {topic!r}")
    route = f"/dead-letter/{topic}"
    return await handle_delivery(request, dead_letter_topic(topic), route, succeed, False)


async def handle_delivery(
    request: Request, topic: str, route: str, behaviour: Behaviour, controllable: bool
) -> Response:
    """Record the arrival, follow the test control if any, else run the topic's behaviour."""
    service = Service1.of(request)
    received_at = time.time()
    try:
        event, control = await read_delivery(request, service.settings.max_body_bytes, controllable)
    except RejectedDelivery as rejected:
        return reject(service, rejected, request, topic, route, received_at)

    ledger = service.ledger
    attempt = ledger.received(delivery_of(event, topic, route, received_at))
    if topic in service.settings.topics:
        service.backlog.arrived()
    response: Response
    try:
        if control is not None and control.applies_to(ledger.attempts(event.event_id, topic)):
            answer, response = control.answer, control.response()
        else:
            answer, response = await behaviour(service, event)
    except Exception:  # the catch-all handler answers 500; a cancelled one stays pending
        ledger.answered(attempt, "500")
        service.metrics.deliveries.labels(topic, "500").inc()
        raise
    ledger.answered(attempt, answer)
    service.metrics.deliveries.labels(topic, answer).inc()
    log.info("delivery %s on %s -> %s", event.event_id, topic, answer)
    return response


async def read_delivery(
    request: Request, max_bytes: int, controllable: bool
) -> tuple[CloudEvent, DeliveryControl | None]:
    """The CloudEvent and its test control; an invalid control rejects the delivery."""
    event = await read_cloud_event(request, max_bytes)
    if not controllable:
        return event, None
    try:
        return event, parse_control(event.message.get("control"))
    except InvalidControl as err:
        known = {**event.envelope, "id": event.event_id, "data": event.data}
        raise RejectedDelivery(str(err), known) from None


def reject(
    service: Service1,
    rejected: RejectedDelivery,
    request: Request,
    topic: str,
    route: str,
    received_at: float,
) -> Response:
    delivery = rejected_delivery_of(rejected, request, topic, route, received_at)
    service.ledger.rejected(delivery, rejected.error)
    service.metrics.deliveries.labels(topic, "REJECTED").inc()
    log.warning("rejected delivery %s on %s: %s", delivery.event_id, topic, rejected.error)
    return JSONResponse({"status": "DROP", "error": rejected.error})


# --- ledger ---------------------------------------------------------------------------------


def required_run(request: Request) -> str:
    run = request.query_params.get("run")
    if not run:
        raise ApiError(400, "query parameter 'run' is required")
    return run


async def ledger_records(request: Request) -> Response:
    run = required_run(request)
    # A big run takes a while to fold: off the event loop, so deliveries keep flowing.
    records = await asyncio.to_thread(Service1.of(request).ledger.records, run)
    return JSONResponse({"run": run, "records": records})


ARRIVALS_PAGE = 1000  # default page of GET /ledger/arrivals
ARRIVALS_PAGE_MAX = 10_000
_WHOLE_NUMBER = re.compile(r"[0-9]{1,19}")  # ASCII digits only: int() also takes "1_0" and "١"


def query_int(request: Request, name: str, default: int, lowest: int, highest: int) -> int:
    """A whole-number query parameter within [lowest, highest]; anything else is a 400."""
    text = request.query_params.get(name)
    if text is None:
        return default
    if _WHOLE_NUMBER.fullmatch(text) is None or not lowest <= int(text) <= highest:
        raise ApiError(
            400, f"query parameter {name!r} must be a whole number from {lowest} to {highest}"
        )
    return int(text)


async def ledger_arrivals(request: Request) -> Response:
    """The run's attempts after the cursor `after`: what a runner polls during a load."""
    run = required_run(request)
    after = query_int(request, "after", 0, 0, 2**63 - 1)
    limit = query_int(request, "limit", ARRIVALS_PAGE, 1, ARRIVALS_PAGE_MAX)
    page = await asyncio.to_thread(Service1.of(request).ledger.arrivals, run, after, limit)
    return JSONResponse({"run": run, **page})


async def ledger_summary(request: Request) -> Response:
    run = required_run(request)
    return JSONResponse(await asyncio.to_thread(Service1.of(request).ledger.summary, run))


# --- state, pings, health, metrics ----------------------------------------------------------


async def get_state(request: Request) -> Response:
    service = Service1.of(request)
    settings = service.settings
    value = await service.daprd.get_state(settings.state_store_name, settings.state_key)
    return JSONResponse({"key": settings.state_key, "value": value})


@requires_suite_token
async def save_state(request: Request) -> Response:
    service = Service1.of(request)
    settings = service.settings
    body = await read_json_object(request, settings.max_body_bytes)
    if "value" not in body:
        raise ApiError(400, "body must have a 'value' field")
    await service.daprd.save_state(settings.state_store_name, settings.state_key, body["value"])
    return JSONResponse({"message": "saved", "key": settings.state_key, "value": body["value"]})


@requires_suite_token
async def delete_state(request: Request) -> Response:
    service = Service1.of(request)
    settings = service.settings
    await service.daprd.delete_state(settings.state_store_name, settings.state_key)
    return JSONResponse({"message": "deleted", "key": settings.state_key})


async def ping(request: Request) -> Response:
    return JSONResponse({"message": "pong", "app_id": Service1.of(request).settings.app_id})


async def ping_service2(request: Request) -> Response:
    service = Service1.of(request)
    started = time.perf_counter()
    try:
        answer = await service.daprd.invoke(
            service.settings.service2_app_id, "ping", http_method="GET"
        )
    except DaprError:
        service.metrics.invocation_seconds.labels("ping", "error").observe(
            time.perf_counter() - started
        )
        raise
    service.metrics.invocation_seconds.labels("ping", "ok").observe(time.perf_counter() - started)
    return JSONResponse({"message": "pong", "answer": answer})


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def metrics(request: Request) -> Response:
    return metrics_response(Service1.of(request).metrics.registry)


# --- the app --------------------------------------------------------------------------------

routes = [
    Route("/dapr/subscribe", dapr_subscribe, methods=["GET"]),
    Route("/publish/{topic}", publish, methods=["POST"]),
    Route("/state", get_state, methods=["GET"]),
    Route("/state", save_state, methods=["POST"]),
    Route("/state", delete_state, methods=["DELETE"]),
    Route("/ping", ping, methods=["GET"]),
    Route("/s2/ping", ping_service2, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
    Route("/ledger", ledger_records, methods=["GET"]),
    Route("/ledger/summary", ledger_summary, methods=["GET"]),
    Route("/ledger/arrivals", ledger_arrivals, methods=["GET"]),
    Route("/dead-letter/{topic}", receive_dead_letter, methods=["POST"]),
    *features.routes,
]  # create_app adds POST /<topic> for each configured topic


async def checkpoint_every(ledger: Ledger, seconds: float) -> None:
    """Keep the WAL short, with the disk sync in a worker thread instead of the event loop."""
    while True:
        await asyncio.sleep(seconds)
        try:
            if not await asyncio.to_thread(ledger.checkpoint):
                log.info("ledger WAL not restarted: readers were busy")
        except sqlite3.Error as err:
            log.warning("ledger checkpoint failed: %s", err)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    service: Service1 = app.state.deps
    settings = service.settings
    ledger = Ledger.open(settings.ledger_path)
    checkpoints = asyncio.create_task(checkpoint_every(ledger, 1.0))
    try:
        async with connected(settings, service.transport) as dapr:
            service.dapr = dapr
            service.opened_ledger = ledger
            log.info("up: daprd %s, ledger %s", settings.dapr_http_endpoint, settings.ledger_path)
            async with features.streaming.streaming(app):
                yield
    finally:
        service.dapr, service.opened_ledger = None, None
        checkpoints.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await checkpoints
        ledger.close()


def create_app(
    settings: Service1Settings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> Starlette:
    """service-1 as a Starlette app; tests pass settings and a MockTransport for daprd."""
    settings = settings or Service1Settings.from_env()
    all_routes = [*routes, *(topic_route(topic) for topic in settings.topics)]
    app = Starlette(routes=all_routes, lifespan=lifespan, exception_handlers=EXCEPTION_HANDLERS)
    app.state.deps = Service1(settings=settings, transport=transport)
    return app


def _app_from_environment() -> Starlette:
    settings = settings_or_exit(Service1Settings.from_env, "service-1")
    configure_logging(settings.log_level)
    return create_app(settings)


app = _app_from_environment()
