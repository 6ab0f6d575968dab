"""The state file of a stack started by `up`, and how `up` and `down` wait for the supervisor."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from harness.errors import HarnessError
from harness.supervisor import (
    StackState,
    _wait_for_report,
    read_state,
    running_state,
    state_path,
    terminate,
    write_state,
)


def test_state_round_trips(settings):
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    state = StackState(os.getpid(), "ready", components={"redis": 1}, t2_delay_seconds=2.5)
    write_state(settings, state)
    assert read_state(settings) == state


def test_a_stale_state_file_is_removed(settings):
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    write_state(settings, StackState(2**22 + 12345, "ready"))
    assert running_state(settings) is None
    assert not state_path(settings).exists()


def test_a_reused_pid_is_not_taken_for_the_supervisor(settings):
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    write_state(settings, StackState(os.getpid(), "ready"))  # alive, but not a supervisor
    assert running_state(settings) is None


class FakeSupervisorProcess:
    """What `_wait_for_report` asks of the supervisor's Popen."""

    def __init__(self, returncode: int | None = None) -> None:
        self.returncode = returncode

    def poll(self) -> int | None:
        return self.returncode


def test_the_report_ready_is_returned(settings):
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    write_state(settings, StackState(1, "ready", up_seconds=1.5))
    state = _wait_for_report(settings, FakeSupervisorProcess(), timeout=5)  # type: ignore[arg-type]
    assert state.up_seconds == 1.5


def test_a_failed_start_raises_its_error(settings):
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    write_state(settings, StackState(1, "failed", error="redis exited with code 1"))
    with pytest.raises(HarnessError, match="^redis exited with code 1$"):
        _wait_for_report(settings, FakeSupervisorProcess(), timeout=5)  # type: ignore[arg-type]


def test_a_supervisor_that_died_is_named(settings):
    with pytest.raises(HarnessError, match="supervisor exited with code 3; see .*supervisor.log"):
        _wait_for_report(settings, FakeSupervisorProcess(3), timeout=5)  # type: ignore[arg-type]


def test_no_report_in_time_is_one_line(settings):
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    write_state(settings, StackState(1, "starting"))
    with pytest.raises(HarnessError, match=r"^the stack did not report ready within 0.1s$"):
        _wait_for_report(settings, FakeSupervisorProcess(), timeout=0.1)  # type: ignore[arg-type]


def test_terminate_without_a_stack_is_false(settings):
    assert terminate(settings) is False


def test_terminate_kills_a_supervisor_that_ignores_sigterm(settings):
    ignoring = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    supervisor = subprocess.Popen(
        [sys.executable, "-c", ignoring, "_supervise"],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert supervisor.stdout is not None and supervisor.stdout.readline() == b"ready\n"
        settings.run_dir.mkdir(parents=True, exist_ok=True)
        write_state(settings, StackState(supervisor.pid, "ready"))
        assert terminate(settings, timeout=0.2) is True
        assert supervisor.wait(timeout=5) == -9
        assert not state_path(settings).exists()
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()
        if supervisor.stdout is not None:
            supervisor.stdout.close()
