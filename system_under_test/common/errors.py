"""The errors a service answers with, and the handlers that turn each into a JSON answer."""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A request the service refuses: rendered as JSON {"error": ...} with a 4xx status."""

    def __init__(self, status_code: int, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.status_code = status_code
        self.error = error
        self.extra = extra

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.error, **self.extra}, status_code=self.status_code)


def _dapr_error_text(action: str, status: int | None, error_code: str | None, message: str) -> str:
    if status is None:
        return f"{action}: daprd unreachable: {message}"
    code = f" {error_code}" if error_code else ""
    return f"{action}: daprd answered {status}{code}: {message}"


class Answer(Protocol):
    """An HTTP answer as the services' daprd client reads it."""

    @property
    def status_code(self) -> int: ...

    @property
    def content(self) -> bytes: ...

    @property
    def text(self) -> str: ...


class DaprError(Exception):
    """daprd refused a call (status and errorCode as it sent them) or could not be reached."""

    def __init__(
        self, action: str, status: int | None, error_code: str | None, message: str
    ) -> None:
        super().__init__(_dapr_error_text(action, status, error_code, message))
        self.action = action
        self.status = status
        self.error_code = error_code
        self.message = message

    @classmethod
    def from_response(cls, action: str, response: Answer) -> DaprError:
        error_code, message = None, response.text[:500]
        try:
            body = json.loads(response.content)
        except ValueError:
            body = None
        if isinstance(body, dict):
            error_code = body.get("errorCode") if isinstance(body.get("errorCode"), str) else None
            message = str(body.get("message", message))[:500]
        return cls(action, response.status_code, error_code, message)

    def as_json(self) -> dict[str, Any]:
        return {
            "error": f"daprd failed to {self.action}",
            "daprd_status": self.status,
            "errorCode": self.error_code,
            "message": self.message,
        }


async def on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    log.warning("refused %s %s -> %d: %s", request.method, request.url.path, exc.status_code, exc)
    return exc.response()


async def on_dapr_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DaprError)
    log.warning("%s %s -> 502: %s", request.method, request.url.path, exc)
    return JSONResponse(exc.as_json(), status_code=502)


async def on_http_exception(request: Request, exc: Exception) -> Response:
    """Routing errors (404, 405) as JSON like everything else."""
    assert isinstance(exc, HTTPException)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    # Starlette re-raises after this so the server logs the traceback; the caller gets JSON.
    log.error("%s %s failed: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
    return JSONResponse({"error": f"internal error: {type(exc).__name__}"}, status_code=500)


EXCEPTION_HANDLERS = {
    ApiError: on_api_error,
    DaprError: on_dapr_error,
    HTTPException: on_http_exception,
    Exception: on_unexpected,
}
