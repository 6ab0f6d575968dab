"""Publish admission: service-1 refuses new publishes while too many it published are still on
their way.

Past the stack's knee, publishing and delivering share the CPU of service-1 and its sidecar:
a service that takes every publish builds a backlog without bound, and every message waits
behind all the ones before it. With PUBLISH_MAX_BACKLOG above 0, service-1 counts the
messages it published on its topics that have not arrived back yet and refuses a publish
(503 with Retry-After) while that count is at the limit: the broker then holds at most that
many, publishing goes at the pace deliveries make room, and end-to-end latency stays bounded.
A message that never arrives (lost, expired) would hold its place for good, so when nothing
arrived for QUIET_RESET_SECONDS while messages were counted, the count starts again from 0.
0, the default, admits every publish.
"""

from __future__ import annotations

import time
from collections.abc import Callable

QUIET_RESET_SECONDS = 10.0
RETRY_AFTER_SECONDS = 1


class Backlog:
    """Messages published and not arrived yet (a redelivery or a message published around
    service-1 arrives unannounced: the count never goes below 0)."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.clock = clock
        self.waiting = 0
        self.moved_at = clock()  # the latest arrival, or the first publish after an empty count

    def publishing(self) -> None:
        """Count a publish before daprd has it, so that its arrival can never come first."""
        if not self.waiting:
            self.moved_at = self.clock()
        self.waiting += 1

    def not_published(self) -> None:
        self.waiting = max(0, self.waiting - 1)

    def arrived(self) -> None:
        self.waiting = max(0, self.waiting - 1)
        self.moved_at = self.clock()

    def full(self) -> int | None:
        """The count that refuses a publish now; None when publishing is admitted."""
        if self.limit <= 0:
            return None
        if self.waiting and self.clock() - self.moved_at > QUIET_RESET_SECONDS:
            self.waiting = 0  # nothing arrives: what is still counted will not
        return self.waiting if self.waiting >= self.limit else None
