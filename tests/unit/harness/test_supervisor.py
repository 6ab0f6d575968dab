"""The state file of a stack started by `up`, and the CLI's answers that need no stack."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from harness import cli
from harness.errors import HarnessError
from harness.settings import StackSettings
from harness.supervisor import StackState, read_state, running_state, state_path, write_state
from harness.target import open_target
from harness.wait import WaitTimeout, wait_until


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_RUN_DIR", str(tmp_path))
    return StackSettings.from_env()


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


@pytest.fixture
def fake_supervisor():
    """A process whose command line looks like the stack supervisor's."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "_supervise"])
    yield sleeper.pid
    sleeper.kill()
    sleeper.wait()


def test_a_second_up_says_so_and_changes_nothing(settings, fake_supervisor, capsys):
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    write_state(settings, StackState(fake_supervisor, "ready"))
    assert cli.main(["up"]) == 1
    assert "already running" in capsys.readouterr().err
    assert read_state(settings) == StackState(fake_supervisor, "ready")


def test_a_reused_pid_is_not_taken_for_the_supervisor(settings):
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    write_state(settings, StackState(os.getpid(), "ready"))  # alive, but not a supervisor
    assert running_state(settings) is None


def test_down_without_a_stack_is_a_calm_no_op(settings, capsys):
    assert cli.main(["down"]) == 0
    assert "nothing to stop" in capsys.readouterr().out


def test_status_without_a_stack_exits_non_zero(settings, capsys):
    assert cli.main(["status"]) == 1
    assert "not running" in capsys.readouterr().out


def test_a_bad_setting_is_one_line_and_exit_2(settings, monkeypatch, capsys):
    monkeypatch.setenv("DAPR_VERSION", "latest")
    monkeypatch.setenv("DAPRD", "/nonexistent/daprd")
    assert cli.main(["up"]) == 2
    err = capsys.readouterr().err
    assert err == "error: DAPR_VERSION='latest' is not a Dapr release number like 1.18.3\n"


def test_unknown_target_is_refused():
    with pytest.raises(HarnessError, match="E2E_TARGET='minikube' is not a target"):
        open_target({"E2E_TARGET": "minikube"})


def test_wait_until_returns_the_value_and_times_out_with_the_last_one():
    values = iter([0, 0, 3])
    assert wait_until(lambda: next(values), timeout=5, interval=0.01) == 3
    with pytest.raises(WaitTimeout, match="ready not met within"):
        wait_until(lambda: 0, timeout=0.05, interval=0.01, what="ready")


@pytest.mark.parametrize("lines", ["-5", "0", "many"])
def test_logs_refuses_a_bad_line_count(settings, lines, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["logs", "redis", "-n", lines])
    assert exited.value.code == 2
    assert "-n/--lines" in capsys.readouterr().err
