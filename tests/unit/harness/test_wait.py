"""The one polling loop: what it returns, when it raises, and that its clock is injectable."""

from __future__ import annotations

import pytest

from harness.wait import WaitTimeout, poll, wait_until


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_poll_returns_the_first_value_that_is_done():
    values = iter([1, 2, 3, 4])
    clock = FakeClock()
    got = poll(lambda: next(values), lambda v: v >= 3, timeout=10, interval=1,
               sleep=clock.sleep, clock=clock)  # fmt: skip
    assert got == 3
    assert clock.sleeps == [1, 1]


def test_poll_raises_with_the_last_value_on_timeout():
    clock = FakeClock()
    with pytest.raises(WaitTimeout, match=r"ledger complete not met within 2s \(last: 0\)") as err:
        poll(lambda: 0, timeout=2, interval=1, what="ledger complete", sleep=clock.sleep,
             clock=clock)  # fmt: skip
    assert err.value.last == 0


def test_poll_can_return_the_last_value_instead():
    clock = FakeClock()
    values = iter(range(100))
    got = poll(lambda: next(values), lambda v: v > 50, timeout=3, interval=1,
               on_timeout="return", sleep=clock.sleep, clock=clock)  # fmt: skip
    assert got == 3


def test_poll_reads_once_even_with_no_time():
    assert poll(lambda: "x", lambda v: False, timeout=0, on_timeout="return") == "x"


def test_exceptions_are_retried_only_when_asked():
    calls = iter([ConnectionError("refused"), ConnectionError("refused"), "up"])

    def read():
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    clock = FakeClock()
    assert (
        poll(read, timeout=5, retry_on=(ConnectionError,), sleep=clock.sleep, clock=clock) == "up"
    )
    with pytest.raises(ZeroDivisionError):
        poll(lambda: 1 / 0, timeout=5, retry_on=(ConnectionError,))


def test_a_retried_exception_at_the_deadline_is_named():
    clock = FakeClock()

    def refuse():
        raise ConnectionError("refused")

    with pytest.raises(WaitTimeout, match="refused"):
        poll(refuse, timeout=1, retry_on=(ConnectionError,), sleep=clock.sleep, clock=clock)
    with pytest.raises(ConnectionError):
        poll(refuse, timeout=1, retry_on=(ConnectionError,), on_timeout="return",
             sleep=clock.sleep, clock=clock)  # fmt: skip


def test_wait_until_treats_any_exception_as_not_yet():
    values = iter([ValueError(), 0, 7])

    def read():
        value = next(values)
        if isinstance(value, Exception):
            raise value
        return value

    assert wait_until(read, timeout=5, interval=0.001) == 7


def test_wait_until_returns_the_value_and_times_out_with_the_last_one():
    values = iter([0, 0, 3])
    assert wait_until(lambda: next(values), timeout=5, interval=0.01) == 3
    with pytest.raises(WaitTimeout, match="ready not met within"):
        wait_until(lambda: 0, timeout=0.05, interval=0.01, what="ready")
