"""Publish admission: service-1 refuses new publishes while its deliveries lag behind.

Past the stack's knee, publishing and delivering share the CPU of service-1 and its sidecar:
a service that takes every publish starves its own deliveries, consumption collapses and the
backlog grows without bound. With PUBLISH_MAX_LAG_SECONDS above 0, a publish is refused
(503 with Retry-After) while the latest delivery of a configured topic arrived more than that
many seconds after it was sent, and publishing resumes once deliveries catch up or have
stopped for LAG_FRESH_SECONDS. 0, the default, admits every publish.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

LAG_FRESH_SECONDS = 2.0  # an older lag says nothing about the stack now
RETRY_AFTER_SECONDS = 1


class DeliveryLag:
    """The lag of the latest delivery (arrival minus the message's `sent_at`)."""

    def __init__(self, limit_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit_seconds
        self.clock = clock
        self.lag = 0.0
        self.seen_at = -math.inf

    def arrived(self, sent_at: float | None, received_at: float) -> None:
        if sent_at is not None:
            self.lag, self.seen_at = received_at - sent_at, received_at

    def behind(self) -> float | None:
        """The lag that refuses a publish now; None when publishing is admitted."""
        if self.limit <= 0 or self.clock() - self.seen_at > LAG_FRESH_SECONDS:
            return None
        return self.lag if self.lag > self.limit else None
