"""The target of a load run or benchmark: local addresses only, stopped only if we started it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from harness.loopback import require_loopback
from harness.target import Target, open_target


def loopback_target() -> Target:
    """open_target(), refused unless service-1 and Prometheus are on this machine."""
    target = open_target()
    require_loopback(target.service1_url, "service-1 url")
    require_loopback(target.prometheus_url, "prometheus url")
    return target


@contextmanager
def started(target: Target) -> Iterator[Target]:
    """Attach to a running stack or start one; stop it afterwards only if this started it."""
    target.start()
    try:
        yield target
    finally:
        target.stop()
