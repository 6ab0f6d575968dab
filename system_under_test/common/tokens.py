"""The app token daprd presents, and the W3C trace context a publish starts."""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger(__name__)

TOKEN_HEADER = "dapr-api-token"

Handler = Callable[[Request], Awaitable[Response]]


def requires_app_token(handler: Handler) -> Handler:
    """Routes daprd calls: with APP_API_TOKEN set, only a caller with that token gets in."""

    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        expected = request.app.state.deps.settings.app_api_token
        if expected:
            given = request.headers.get(TOKEN_HEADER, "")
            if not hmac.compare_digest(given.encode(), expected.encode()):
                log.warning("refused %s %s: wrong token", request.method, request.url.path)
                return JSONResponse({"error": f"missing or wrong {TOKEN_HEADER} header"}, 401)
        return await handler(request)

    return guarded


def new_traceparent() -> str:
    """A fresh sampled W3C traceparent: version 00, random trace id and parent id."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
