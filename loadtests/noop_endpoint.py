"""A publish endpoint that does nothing, for measuring load generators rather than service-1.

`POST /publish/{topic}` answers 200 with a short JSON at once, reading nothing but the body
off the socket; `GET /count` says how many publishes it has answered, so a benchmark counts the
requests of a stretch of time at the endpoint, the same way for every generator. Served by
uvicorn in a process of its own (loadtests/served_app.py).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PUBLISHED = b'{"message":"published"}'


class Counter:
    answered = 0


async def publish(request: Request) -> Response:
    await request.body()  # as service-1 reads it: the generator sends it all either way
    Counter.answered += 1
    return Response(PUBLISHED, media_type="application/json")


async def count(request: Request) -> Response:
    return JSONResponse({"requests": Counter.answered})


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/publish/{topic}", publish, methods=["POST"]),
        Route("/count", count, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
)
