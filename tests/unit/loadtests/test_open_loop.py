"""The open-loop generator: its schedule never waits for answers, latency counts from the slot."""

from __future__ import annotations

import asyncio

import pytest

from harness.verdict import Outcome
from loadtests.latency import Schedule
from loadtests.open_loop import Call, due_slots, run_open_loop


def test_due_slots_are_every_slot_up_to_now_within_the_limit() -> None:
    schedule = Schedule(10.0, 100.0)  # a slot every 10 ms
    assert due_slots(schedule, 9.999, 5) == []
    assert due_slots(schedule, 10.025, 5) == pytest.approx([10.0, 10.01, 10.02])
    assert due_slots(schedule, 11.0, 2) == pytest.approx([10.03, 10.04])  # the limit holds
    assert schedule.due() == pytest.approx(10.05)


def test_latency_counts_from_the_intended_time() -> None:
    late = Call(0, intended_at=1.0, sent_at=1.5, done_at=1.502, outcome=Outcome.OK)
    assert late.latency_ms == pytest.approx(502.0)
    assert late.service_ms == pytest.approx(2.0)


def test_a_slow_answer_does_not_move_the_schedule() -> None:
    """The first call hangs for 50 ms; the others still start on their own slots."""

    async def send(index: int, intended_at: float, sent_at: float) -> Outcome:
        await asyncio.sleep(0.05 if index == 0 else 0.0)
        return Outcome.OK

    calls = asyncio.run(run_open_loop(send, 20, 1000.0, in_flight=4))
    assert [c.index for c in calls] == list(range(20))
    assert calls[0].latency_ms >= 50.0
    assert all(c.intended_at == pytest.approx(calls[0].intended_at + c.index / 1000) for c in calls)
    assert max(c.sent_at for c in calls[1:]) < calls[0].done_at  # sent while call 0 hung


def test_calls_past_the_in_flight_limit_wait_and_that_wait_is_latency() -> None:
    async def send(index: int, intended_at: float, sent_at: float) -> Outcome:
        await asyncio.sleep(0.02)
        return Outcome.OK

    calls = asyncio.run(run_open_loop(send, 4, 1000.0, in_flight=1))
    assert calls[3].sent_at - calls[3].intended_at >= 0.05  # waited for three calls
    assert calls[3].latency_ms > calls[3].service_ms + 50
