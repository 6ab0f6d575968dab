"""The suite token: who may use the services' own API where it changes something.

daprd's calls (deliveries, invocations, `/dapr/subscribe`) carry the app token and are
checked by `requires_app_token`. The services' own API is for the suite: a publish (which
also carries the test control) and a state write or delete change something, so with
SUITE_API_TOKEN set they need the `suite-api-token` header. Reads (ledger, received, state,
pings, health, metrics) change nothing and stay open, so a dashboard or a person can look.
"""

from __future__ import annotations

import functools
import hmac
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from system_under_test.common import Handler

SUITE_TOKEN_HEADER = "suite-api-token"

log = logging.getLogger(__name__)


def requires_suite_token(handler: Handler) -> Handler:
    """With SUITE_API_TOKEN set, only a caller with that token gets in."""

    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        expected = request.app.state.deps.settings.suite_api_token
        if expected:
            given = request.headers.get(SUITE_TOKEN_HEADER, "")
            if not hmac.compare_digest(given.encode(), expected.encode()):
                log.warning("refused %s %s: wrong suite token", request.method, request.url.path)
                return JSONResponse({"error": f"missing or wrong {SUITE_TOKEN_HEADER} header"}, 401)
        return await handler(request)

    return guarded
