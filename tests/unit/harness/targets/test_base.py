"""`with target:` for every target: a failed start is one line, and what it left is stopped."""

from __future__ import annotations

import pytest

from harness.errors import HarnessError
from harness.targets.base import Lifecycle, TargetStartError


class Recorder(Lifecycle):
    """A target of our own whose start fails as told, recording what was called."""

    name = "recorded"

    def __init__(self, failure: BaseException | None = None) -> None:
        self.failure = failure
        self.calls: list[str] = []

    def start(self) -> None:
        self.calls.append("start")
        if self.failure is not None:
            raise self.failure

    def stop(self) -> None:
        self.calls.append("stop")


def test_a_target_is_started_and_always_stopped():
    target = Recorder()
    with pytest.raises(ZeroDivisionError), target as entered:
        assert entered is target
        assert target.calls == ["start"]
        raise ZeroDivisionError  # a failing test body
    assert target.calls == ["start", "stop"]


def test_a_failed_start_is_one_line_and_keeps_the_log_tail_apart():
    failure = HarnessError("service-1 exited with code 1; log /run/service-1.log:\nTOPICS: bad\n")
    target = Recorder(failure)
    with pytest.raises(TargetStartError) as caught, target:
        pass  # pragma: no cover - start raises first
    assert str(caught.value) == (
        "the recorded target did not start: service-1 exited with code 1; log /run/service-1.log"
    )
    assert caught.value.detail == "TOPICS: bad"
    assert caught.value.report() == f"{caught.value}\nTOPICS: bad"
    assert caught.value.__cause__ is failure
    assert isinstance(caught.value, HarnessError)
    assert target.calls == ["start", "stop"], "what a failed start left behind is stopped"


def test_an_os_error_at_start_is_a_start_error_too():
    target = Recorder(FileNotFoundError(2, "No such file or directory"))
    starting = r"^the recorded target did not start: .*No such file"
    with pytest.raises(TargetStartError, match=starting), target:
        pass  # pragma: no cover


def test_ctrl_c_at_start_stops_and_passes_through():
    target = Recorder(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt), target:
        pass  # pragma: no cover
    assert target.calls == ["start", "stop"]
