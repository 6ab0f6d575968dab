"""What service-1 and service-2 share: settings parsing, JSON bodies, tokens, the daprd client.

Both services are thin on purpose: every call to Dapr goes through `DaprClient`, every request
body through `read_json_object`, and every failure ends as a JSON answer, never a traceback.
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import math
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import aclosing
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger(__name__)

TOKEN_HEADER = "dapr-api-token"
JSON_TYPES = ("application/json",)
CLOUDEVENT_JSON_TYPES = ("application/cloudevents+json", "application/json")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")

Handler = Callable[[Request], Awaitable[Response]]
T = TypeVar("T")


# --- settings -------------------------------------------------------------------------------


class SettingsError(ValueError):
    """A setting from the environment that makes no sense; its text fits on one line."""


def env_text(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name)
    return default if raw is None or raw.strip() == "" else raw.strip()


def env_int(
    env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int | None = None
) -> int:
    raw = env_text(env, name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and at most {maximum}"
        raise SettingsError(f"{name}={value} must be at least {minimum}{upper}")
    return value


def env_float(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env_text(env, name, "")
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if not value >= minimum or value == float("inf"):  # also refuses nan
        raise SettingsError(f"{name}={raw} must be a finite number of at least {minimum}")
    return value


def env_list(env: Mapping[str, str], name: str, default: Iterable[str]) -> tuple[str, ...]:
    raw = env_text(env, name, "")
    if raw == "":
        return tuple(default)
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def env_log_level(env: Mapping[str, str]) -> str:
    level = env_text(env, "LOG_LEVEL", "info").lower()
    if level not in LOG_LEVELS:
        raise SettingsError(f"LOG_LEVEL={level!r} is not one of {', '.join(LOG_LEVELS)}")
    return level


def dapr_http_endpoint(env: Mapping[str, str], default_port: int) -> str:
    """DAPR_HTTP_ENDPOINT wins; else DAPR_HTTP_PORT (set by `dapr run`) on loopback."""
    explicit = env_text(env, "DAPR_HTTP_ENDPOINT", "")
    if explicit:
        parts = urlsplit(explicit)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SettingsError(f"DAPR_HTTP_ENDPOINT={explicit!r} is not an http(s) URL")
        return explicit.rstrip("/")
    port = env_int(env, "DAPR_HTTP_PORT", default_port, 1, 65535)
    return f"http://127.0.0.1:{port}"


def settings_or_exit(load: Callable[[], T], service: str) -> T:
    """Read settings for a process entry point; a bad value ends it with one line."""
    try:
        return load()
    except SettingsError as err:
        raise SystemExit(f"{service}: bad setting: {err}") from None


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every daprd call at INFO


# --- request bodies -------------------------------------------------------------------------


class ApiError(Exception):
    """A request the service refuses: rendered as JSON {"error": ...} with a 4xx status."""

    def __init__(self, status_code: int, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.status_code = status_code
        self.error = error
        self.extra = extra

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.error, **self.extra}, status_code=self.status_code)


def clip(text: str, limit: int = 120) -> str:
    """Text cut to a readable length, for error texts."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def shorten(value: Any, limit: int = 80) -> str:
    """repr() of a value cut to a readable length, for error texts."""
    return clip(repr(value), limit)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def require_content_type(request: Request, accepted: tuple[str, ...]) -> None:
    if media_type(request) not in accepted:
        given = request.headers.get("content-type") or "none"
        raise ApiError(415, f"content type must be {' or '.join(accepted)}, got {given!r}")


async def read_body(request: Request, max_bytes: int) -> bytes:
    """Read the body, refusing it from Content-Length or from what actually arrives."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, f"Content-Length {shorten(declared)} is not a number")
        if int(declared) > max_bytes:
            raise ApiError(413, f"body of {declared} bytes is over the limit of {max_bytes}")
    chunks: list[bytes] = []
    size = 0
    try:
        async with aclosing(request.stream()) as stream:
            async for chunk in stream:
                size += len(chunk)
                if size > max_bytes:
                    raise ApiError(413, f"body is over the limit of {max_bytes} bytes")
                chunks.append(chunk)
    except ClientDisconnect:
        raise ApiError(400, "client disconnected while sending the body") from None
    return b"".join(chunks)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses as inf, which no JSON answer can carry
        raise ValueError(f"number {clip(text)} is out of range")
    return value


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):  # which one counts differs between parsers: refuse both
        counts = Counter(key for key, _ in pairs)
        twice = next(key for key, count in counts.items() if count > 1)
        raise ValueError(f"key {clip(repr(twice), 60)} appears twice")
    return value


def parse_json(raw: bytes) -> Any:
    """json.loads that refuses what we could not store or send on: NaN, inf, lone surrogates,
    duplicate keys, and text that is not UTF-8 (RFC 8259; json.loads would guess UTF-16)."""
    try:
        value = json.loads(
            raw.decode("utf-8"),
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            object_pairs_hook=_refuse_duplicate_keys,
        )
        # Escaped lone surrogates parse fine but break UTF-8 encoding (responses, sqlite).
        if b"\\u" in raw:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError) as err:  # JSONDecodeError and UnicodeError included
        raise ApiError(400, f"malformed JSON: {clip(str(err))}") from None
    return value


async def read_json_object(
    request: Request, max_bytes: int, accepted: tuple[str, ...] = JSON_TYPES
) -> dict[str, Any]:
    require_content_type(request, accepted)
    value = parse_json(await read_body(request, max_bytes))
    if not isinstance(value, dict):
        raise ApiError(400, f"body must be a JSON object, got {type(value).__name__}")
    return value


# --- tokens and tracing ---------------------------------------------------------------------


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


# --- daprd ----------------------------------------------------------------------------------


def _dapr_error_text(action: str, status: int | None, error_code: str | None, message: str) -> str:
    if status is None:
        return f"{action}: daprd unreachable: {message}"
    code = f" {error_code}" if error_code else ""
    return f"{action}: daprd answered {status}{code}: {message}"


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
    def from_response(cls, action: str, response: httpx.Response) -> DaprError:
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


def make_http_client(
    endpoint: str,
    dapr_api_token: str,
    timeout_seconds: float,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """The one pooled client an app keeps for its daprd; tests pass a MockTransport."""
    return httpx.AsyncClient(
        base_url=endpoint,
        headers={TOKEN_HEADER: dapr_api_token} if dapr_api_token else {},
        timeout=timeout_seconds,
        transport=transport,
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=50),
        trust_env=False,  # daprd is a sidecar on loopback: never route it through a proxy
    )


class DaprClient:
    """The few daprd HTTP APIs the services use, each failure raised as DaprError."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def _send(self, action: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.HTTPError as err:
            raise DaprError(action, None, None, f"{type(err).__name__}: {err}") from err
        if not response.is_success:
            raise DaprError.from_response(action, response)
        return response

    async def publish(
        self, pubsub: str, topic: str, payload: Any, headers: Mapping[str, str]
    ) -> None:
        await self._send(
            f"publish to {pubsub}/{topic}",
            "POST",
            f"/v1.0/publish/{pubsub}/{topic}",
            json=payload,
            headers=dict(headers),
        )

    async def invoke(
        self,
        app_id: str,
        method: str,
        *,
        http_method: str = "POST",
        payload: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        action = f"invoke {app_id}/{method}"
        extra: dict[str, Any] = {} if payload is None else {"json": payload}
        response = await self._send(
            action,
            http_method,
            f"/v1.0/invoke/{app_id}/method/{method}",
            headers=dict(headers or {}),
            **extra,
        )
        return _json_answer(action, response)

    async def get_state(self, store: str, key: str) -> Any:
        action = f"read {store}/{key}"
        response = await self._send(action, "GET", f"/v1.0/state/{store}/{key}")
        return _json_answer(action, response)

    async def save_state(self, store: str, key: str, value: Any) -> None:
        items = [{"key": key, "value": value}]
        await self._send(f"save {store}/{key}", "POST", f"/v1.0/state/{store}", json=items)

    async def delete_state(self, store: str, key: str) -> None:
        await self._send(f"delete {store}/{key}", "DELETE", f"/v1.0/state/{store}/{key}")


def _json_answer(action: str, response: httpx.Response) -> Any:
    """The JSON in a daprd answer; an empty body (204, missing state) is None."""
    if not response.content:
        return None
    try:
        return parse_json(response.content)
    except ApiError as err:
        raise DaprError(action, response.status_code, None, err.error) from None


# --- responses ------------------------------------------------------------------------------


def metrics_response(registry: CollectorRegistry) -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


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
