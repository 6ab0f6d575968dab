"""Request bodies: size limits, content types and JSON that can be stored and sent on."""

from __future__ import annotations

import json
import math
from collections import Counter
from contextlib import aclosing
from typing import Any

from starlette.requests import ClientDisconnect, Request

from system_under_test.common.errors import ApiError

JSON_TYPES = ("application/json",)
CLOUDEVENT_JSON_TYPES = ("application/cloudevents+json", "application/json")


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
