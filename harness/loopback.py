"""The suite only ever talks to this machine: one rule for every URL it is given."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from harness.errors import HarnessError

SCHEMES = ("http", "https")


def is_loopback_host(host: str) -> bool:
    """127.0.0.0/8, ::1 and `localhost`."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_loopback(url: str, what: str) -> str:
    """Return `url` without a trailing slash; raise one line when it leaves this machine."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        raise HarnessError(f"{what} {url!r} is not a URL") from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise HarnessError(f"{what} {url!r} is not an http URL")
    if not is_loopback_host(parts.hostname):
        raise HarnessError(
            f"{what} {url!r} is refused: the suite only reaches 127.0.0.1, ::1 or localhost"
        )
    return url.strip().rstrip("/")
