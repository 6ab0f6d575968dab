"""Who may call a route, and the W3C trace context a publish starts.

Two tokens guard the services. daprd's calls (deliveries, invocations, `/dapr/subscribe`)
carry the app token (`APP_API_TOKEN`, header `dapr-api-token`). The services' own API is for
the suite: a publish (which also carries the test control) and a state write or delete change
something, so with `SUITE_API_TOKEN` set they need the `suite-api-token` header. Reads
(ledger, received, state, pings, health, metrics) change nothing and stay open, so a
dashboard or a person can look. Keeping the two apart means a suite client cannot forge a
delivery.
"""

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
SUITE_TOKEN_HEADER = "suite-api-token"

Handler = Callable[[Request], Awaitable[Response]]


def _requires(header: str, setting: str) -> Callable[[Handler], Handler]:
    """A route guard: with the setting non-empty, only a caller sending it in `header` gets in."""

    def guard(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: Request) -> Response:
            expected: str = getattr(request.app.state.deps.settings, setting)
            if expected:
                given = request.headers.get(header, "")
                if not hmac.compare_digest(given.encode(), expected.encode()):
                    log.warning("refused %s %s: no %s", request.method, request.url.path, header)
                    return JSONResponse({"error": f"missing or wrong {header} header"}, 401)
            return await handler(request)

        return guarded

    return guard


requires_app_token = _requires(TOKEN_HEADER, "app_api_token")
requires_suite_token = _requires(SUITE_TOKEN_HEADER, "suite_api_token")


def new_traceparent() -> str:
    """A fresh sampled W3C traceparent: version 00, random trace id and parent id."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
