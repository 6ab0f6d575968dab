"""Recording a delivery on a feature topic in service-1's ledger, as the t1/t2 routes do.

Feature handlers answer at once, so each arrival is recorded together with its answer.
Dead-letter topics of the feature topics are subscribed here.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from system_under_test.common.tokens import requires_app_token
from system_under_test.service1.delivery import (
    CloudEvent,
    RejectedDelivery,
    delivery_of,
    read_cloud_event,
    rejected_delivery_of,
)
from system_under_test.service1.ledger import Delivery, Ledger

PUBSUB = "featurebus"
SUCCESS = "SUCCESS"
DEAD_LETTER_TOPICS = ("bulk-dead-letter", "answers-dead-letter")

Handler = Callable[[Request], Awaitable[Response]]
# What a feature answers for one event: the word the ledger keeps and the HTTP answer.
Answerer = Callable[[CloudEvent], tuple[str, Response]]


def service_of(request: Request) -> Any:
    return request.app.state.deps


def ledger_of(service: Any) -> Ledger:
    """service-1's ledger (the one place that knows where the app keeps it)."""
    ledger: Ledger = service.ledger
    return ledger


def record(service: Any, delivery: Delivery, answer: str) -> None:
    ledger = ledger_of(service)
    ledger.answered(ledger.received(delivery), answer)


def succeed(event: CloudEvent) -> tuple[str, Response]:
    return SUCCESS, JSONResponse({"status": SUCCESS})


def receiver(topic: str, route: str, answer: Answerer = succeed) -> Handler:
    """A route handler that records each CloudEvent on `topic` and answers with `answer`."""

    @requires_app_token
    async def receive(request: Request) -> Response:
        service = service_of(request)
        received_at = time.time()
        try:
            event = await read_cloud_event(request, service.settings.max_body_bytes)
        except RejectedDelivery as rejected:
            delivery = rejected_delivery_of(rejected, request, topic, route, received_at)
            ledger_of(service).rejected(delivery, rejected.error)
            return JSONResponse({"status": "DROP", "error": rejected.error})
        word, response = answer(event)
        record(service, delivery_of(event, topic, route, received_at), word)
        return response

    return receive


def dead_letter_route(topic: str) -> str:
    return f"/features/dead-letter/{topic}"


def subscriptions() -> list[dict[str, Any]]:
    return [
        {"pubsubname": PUBSUB, "topic": topic, "route": dead_letter_route(topic)}
        for topic in DEAD_LETTER_TOPICS
    ]


routes = [
    Route(dead_letter_route(topic), receiver(topic, dead_letter_route(topic)), methods=["POST"])
    for topic in DEAD_LETTER_TOPICS
]
