"""The one parser of the harness' environment: every setting the harness reads goes through it.

A bad value raises `SettingsError` (a `HarnessError`) naming the variable and the value, so
every command shows it as one line. The services in `system_under_test/` keep their own
parser in `system_under_test/common.py`: the system under test never imports the harness.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import overload

from harness.errors import SettingsError

MAX_SECONDS = 3600.0


def env_str(env: Mapping[str, str], name: str, default: str = "") -> str:
    """The stripped value, or `default` when unset or blank."""
    return env.get(name, "").strip() or default


def env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None


@overload
def env_seconds(
    env: Mapping[str, str], name: str, default: float, maximum: float = MAX_SECONDS
) -> float: ...


@overload
def env_seconds(
    env: Mapping[str, str], name: str, default: None, maximum: float = MAX_SECONDS
) -> float | None: ...


def env_seconds(
    env: Mapping[str, str], name: str, default: float | None, maximum: float = MAX_SECONDS
) -> float | None:
    """A duration in seconds within 0..maximum; `default` (may be None) when unset or blank."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if not 0 <= value <= maximum:  # also refuses nan and inf, which would wait forever
        raise SettingsError(f"{name}={raw!r} must be a number of seconds in 0..{maximum:g}")
    return value


def env_pairs(env: Mapping[str, str], name: str) -> dict[str, str]:
    """'a=x,b=y' -> {'a': 'x', 'b': 'y'}; empty items are skipped, one without '=' refused."""
    pairs = {}
    for item in env.get(name, "").split(","):
        if item.strip():
            key, sep, value = item.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise SettingsError(f"{name}: {item.strip()!r} is not KEY=VALUE")
            pairs[key.strip()] = value.strip()
    return pairs


def env_choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str | None:
    """One of `choices`, or None when unset or blank."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if raw not in choices:
        raise SettingsError(f"{name}={raw!r} must be {' or '.join(choices)}")
    return raw


def env_flag(env: Mapping[str, str], name: str) -> bool:
    """A switch: 1/true/yes/on or 0/false/no/off (unset or blank is off)."""
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{name}={env[name]!r} is not a switch: use 1 or 0")
