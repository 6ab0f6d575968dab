"""The CLI's answers that need no running stack: a second `up`, `down`, `status`, bad input."""

from __future__ import annotations

import pytest

from harness import cli
from harness.supervisor import StackState, read_state, write_state


def test_a_second_up_says_so_and_changes_nothing(settings, fake_supervisor, capsys):
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    write_state(settings, StackState(fake_supervisor, "ready"))
    assert cli.main(["up"]) == 1
    assert "already running" in capsys.readouterr().err
    assert read_state(settings) == StackState(fake_supervisor, "ready")


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


@pytest.mark.parametrize("lines", ["-5", "0", "many"])
def test_logs_refuses_a_bad_line_count(settings, lines, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["logs", "redis", "-n", lines])
    assert exited.value.code == 2
    assert "-n/--lines" in capsys.readouterr().err
