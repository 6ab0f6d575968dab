"""A subscriber that does nothing but note each arrival, for measuring daprd rather than our app.

It sits behind service-1's daprd (`HARNESS_SERVICE1_APP=loadtests.lean_subscriber:app`) and
subscribes to t1 and t2 on messagebus (the stack waits for both). A delivery is checked for
the app token, its run, seq and sent_at are kept in memory with the time it arrived, and it is
answered SUCCESS at once: no invocation, no state, no ledger, no disk. `GET /arrivals?run=`
hands the records of one run to the benchmark; `GET /arrivals/count?run=` says how many there are.
`GET /metrics` counts deliveries per topic, for the stack's Prometheus, which scrapes service-1.
"""

from __future__ import annotations

import hmac
import json
import os
import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PUBSUB = "messagebus"
TOPICS = ("t1", "t2")
TOKEN_HEADER = "dapr-api-token"
SUCCESS = b'{"status":"SUCCESS"}'
DELIVERIES = Counter("lean_subscriber_deliveries", "Deliveries answered SUCCESS", ["topic"])
APP_TOKEN = os.environ.get("APP_API_TOKEN", "").encode()  # read once: the stack sets it


class Arrivals:
    """run -> records of what arrived; one process, one event loop, so no lock is needed."""

    by_run: dict[str, list[dict[str, Any]]] = {}


def from_daprd(request: Request) -> bool:
    given = request.headers.get(TOKEN_HEADER, "").encode()
    return not APP_TOKEN or hmac.compare_digest(given, APP_TOKEN)


def arrival(topic: str, envelope: Any, received_at: float) -> dict[str, Any] | None:
    """The record of one delivered CloudEvent, or None when its data is not one of our messages."""
    data = envelope.get("data") if isinstance(envelope, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("run"), str):
        return None
    return {
        "run": data["run"],
        "seq": data.get("seq"),
        "topic": topic,
        "sent_at": data.get("sent_at"),
        "received_at": received_at,
    }


async def deliver(request: Request) -> Response:
    received_at = time.time()
    topic = request.path_params["topic"]
    if topic not in TOPICS:
        return JSONResponse({"error": f"not subscribed to {topic!r}"}, 404)
    if not from_daprd(request):
        return JSONResponse({"error": f"missing or wrong {TOKEN_HEADER} header"}, 401)
    try:
        envelope = json.loads(await request.body())
    except ValueError:
        envelope = None
    record = arrival(topic, envelope, received_at)
    if record is not None:  # anything else is not ours: acknowledged, not kept
        Arrivals.by_run.setdefault(record["run"], []).append(record)
    DELIVERIES.labels(topic).inc()
    return Response(SUCCESS, media_type="application/json")


async def subscribe(request: Request) -> Response:
    if not from_daprd(request):
        return JSONResponse({"error": f"missing or wrong {TOKEN_HEADER} header"}, 401)
    return JSONResponse([{"pubsubname": PUBSUB, "topic": t, "route": f"/{t}"} for t in TOPICS])


async def arrivals(request: Request) -> Response:
    return JSONResponse(Arrivals.by_run.get(request.query_params.get("run", ""), []))


async def arrivals_count(request: Request) -> Response:
    run = request.query_params.get("run", "")
    return JSONResponse({"count": len(Arrivals.by_run.get(run, []))})


async def metrics(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/dapr/subscribe", subscribe, methods=["GET"]),
        Route("/arrivals", arrivals, methods=["GET"]),
        Route("/arrivals/count", arrivals_count, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/{topic:str}", deliver, methods=["POST"]),
    ]
)
