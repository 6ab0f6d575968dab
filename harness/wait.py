"""The one polling loop of the suite: every wait for a condition goes through `poll()`.

A wait either raises `WaitTimeout` when time runs out (the condition is required) or returns
the last value it read (the caller judges it, so a timeout ends in a verdict that names what
is missing rather than in a bare timeout). `sleep` is injectable so that code running under
gevent (locust) can pass `gevent.sleep`, and tests can pass a fake clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal, TypeVar

T = TypeVar("T")

OnTimeout = Literal["raise", "return"]


class WaitTimeout(TimeoutError):
    """The condition did not hold in time; carries the last value seen."""

    def __init__(self, message: str, last: object = None) -> None:
        super().__init__(message)
        self.last = last


def _truthy(value: object) -> bool:
    return bool(value)


def poll(
    read: Callable[[], T],
    done: Callable[[T], bool] = _truthy,
    *,
    timeout: float,
    interval: float = 0.1,
    what: str = "condition",
    on_timeout: OnTimeout = "raise",
    retry_on: tuple[type[BaseException], ...] = (),
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Call `read()` until `done(value)`; return that value.

    On timeout: raise `WaitTimeout` naming `what` and the last value, or, with
    `on_timeout="return"`, return the last value read. Exceptions listed in `retry_on`
    count as "not yet" (a server still starting refuses connections); with
    `on_timeout="return"` a timeout after such an exception re-raises it.
    `read` runs at least once, also with a timeout of 0.
    """
    deadline = clock() + timeout
    while True:
        try:
            value = read()
        except retry_on as exc:
            failure: BaseException | None = exc
        else:
            failure = None
            if done(value):
                return value
        if clock() >= deadline:
            if on_timeout == "return" and failure is None:
                return value
            last: object = failure if failure is not None else value
            if on_timeout == "return" and failure is not None:
                raise failure
            raise WaitTimeout(f"{what} not met within {timeout:g}s (last: {last!r})", last)
        sleep(interval)


def wait_until(
    condition: Callable[[], T],
    timeout: float,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Poll `condition` until it returns something truthy; any exception means "not yet"."""
    return poll(condition, timeout=timeout, interval=interval, what=what, retry_on=(Exception,))
