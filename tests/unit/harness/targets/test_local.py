"""The local target without a stack: its addresses, and what it says when the stack is gone."""

from __future__ import annotations

import os

import pytest

from harness.errors import HarnessError
from harness.settings import StackSettings
from harness.supervisor import StackState, write_state
from harness.targets import TargetStartError
from harness.targets.local import LocalTarget


def test_addresses_follow_the_settings(tmp_path):
    settings = StackSettings.from_env({"HARNESS_PORT_OFFSET": "100", "T2_DELAY_SECONDS": "3"})
    target = LocalTarget(settings)
    assert target.service1_url == "http://127.0.0.1:6160"
    assert target.service2_url == "http://127.0.0.1:7170"
    assert target.prometheus_url == "http://127.0.0.1:9195"
    assert target.daprd_metrics_urls == {
        "service-1": "http://127.0.0.1:9191/metrics",
        "service-2": "http://127.0.0.1:9192/metrics",
    }
    assert target.t2_delay_seconds == 3.0


def test_attaches_to_a_stack_started_by_up(settings, fake_supervisor):
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    write_state(settings, StackState(fake_supervisor, "ready", t2_delay_seconds=2.0))
    with LocalTarget(settings) as target:
        assert target.owned is None, "a stack started by `up` is not ours to stop"
        assert target.t2_delay_seconds == 2.0
        assert target.problems() == []
    assert os.path.exists(f"/proc/{fake_supervisor}")


def test_a_stack_still_starting_is_a_start_error(settings, fake_supervisor):
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    write_state(settings, StackState(fake_supervisor, "starting"))
    starting = "^the local target did not start: a local stack is starting"
    with pytest.raises(TargetStartError, match=starting), LocalTarget(settings):
        pass  # pragma: no cover


def test_a_component_of_up_that_died_is_named(settings, fake_supervisor):
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    gone = 2**22 - 1  # above any pid this machine hands out
    write_state(settings, StackState(fake_supervisor, "ready", components={"redis": gone}))
    assert LocalTarget(settings).problems() == [f"redis (pid {gone}) is gone"]


def test_a_stack_that_went_away_is_a_problem(settings):
    assert LocalTarget(settings).problems() == [
        "the local stack started by `up` is no longer running"
    ]


def test_log_tails_are_read_from_the_run_directory(settings):
    logs = settings.run_dir / "logs"
    logs.mkdir(parents=True)
    (logs / "redis.log").write_text("one\ntwo\nthree\n")
    assert LocalTarget(settings).logs_tail(2) == {"redis": "two\nthree\n"}


def test_start_errors_are_harness_errors():
    assert issubclass(TargetStartError, HarnessError)
