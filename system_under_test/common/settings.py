"""Settings from the environment: one reader per kind of value, each failing in one line."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar
from urllib.parse import urlsplit

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")

T = TypeVar("T")


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


def env_switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    """on/off (also 1/0, true/false, yes/no); unset or blank is `default`."""
    raw = env_text(env, name, "").lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={raw!r} must be on or off")


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
