"""An open-loop generator: calls at a fixed rate that never wait for earlier answers.

Call k is due at start + k / rate (loadtests.latency.Schedule). The loop wakes, starts every
call that is due as an asyncio task and sleeps until the next one is due; a slow answer
holds one task, never the schedule. Latency is measured from the intended time, so a late
start (a busy event loop, a full connection pool) counts against the figures instead of
hiding (coordinated omission); the call's own time, from its actual start, is kept beside it.
One event loop does it; asyncio.sleep wakes late by under a millisecond, which the schedule
absorbs by starting every due call at once. At most `in_flight` calls are open at once (one per
pooled connection); a due call past that waits for a free one, and that wait counts as latency.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from harness.verdict import Outcome
from loadtests.latency import Schedule

# send(call index, intended time, actual start) -> how the call ended
Send = Callable[[int, float, float], Awaitable[Outcome]]
LEAD_SECONDS = 0.05  # the first slot, a little after the loop starts


@dataclass(frozen=True)
class Call:
    """One call of the run: when it was due, when it started and ended, how it ended."""

    index: int
    intended_at: float
    sent_at: float
    done_at: float
    outcome: Outcome

    @property
    def latency_ms(self) -> float:
        """From the intended time: what a client keeping the rate sees."""
        return (self.done_at - self.intended_at) * 1000.0

    @property
    def service_ms(self) -> float:
        """From the actual start: the call alone."""
        return (self.done_at - self.sent_at) * 1000.0


def due_slots(schedule: Schedule, now: float, limit: int) -> list[float]:
    """The intended times of every slot due by `now`, at most `limit`; the schedule moves on."""
    due: list[float] = []
    while len(due) < limit and schedule.due() <= now:
        due.append(schedule.take())
    return due


async def run_open_loop(
    send: Send,
    calls: int,
    rate: float,
    in_flight: int,
    clock: Callable[[], float] = time.time,
) -> list[Call]:
    """Make `calls` calls at `rate` per second, at most `in_flight` at a time; the calls, in
    index order, once all ended."""
    schedule = Schedule(clock() + LEAD_SECONDS, rate)
    # Due calls past the limit wait here, not in httpx's pool, whose queue of waiting
    # requests grows slower with each waiter (a few thousand brought 1,000/s down to 100/s).
    slots = asyncio.Semaphore(in_flight)

    async def one(index: int, intended_at: float) -> Call:
        async with slots:
            sent_at = clock()
            outcome = await send(index, intended_at, sent_at)
            return Call(index, intended_at, sent_at, clock(), outcome)

    tasks: list[asyncio.Task[Call]] = []
    while len(tasks) < calls:
        for intended_at in due_slots(schedule, clock(), calls - len(tasks)):
            tasks.append(asyncio.create_task(one(len(tasks), intended_at)))
        if len(tasks) < calls:
            await asyncio.sleep(schedule.wait(clock()))
    return list(await asyncio.gather(*tasks))
