"""The target of a load run or benchmark: local addresses only, stopped only if we started it.

Starting and stopping belong to the target itself: enter it, `with loopback_target() as
target:`, and a failed start is one line (`harness.targets.TargetStartError`).
"""

from __future__ import annotations

from harness.loopback import require_loopback
from harness.targets import Target, open_target


def loopback_target() -> Target:
    """open_target(), refused unless service-1 and Prometheus are on this machine."""
    target = open_target()
    require_loopback(target.service1_url, "service-1 url")
    require_loopback(target.prometheus_url, "prometheus url")
    return target
