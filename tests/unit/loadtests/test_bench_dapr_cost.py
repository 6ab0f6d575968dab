"""The Dapr cost benchmark refuses bad settings before anything starts."""

from __future__ import annotations

import pytest

from loadtests import bench_dapr_cost


def test_a_bad_stack_setting_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HARNESS_PORT_OFFSET", "many")
    monkeypatch.setattr(bench_dapr_cost, "loopback_target", lambda: pytest.fail("a target"))
    assert bench_dapr_cost.main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: HARNESS_PORT_OFFSET") and err.count("\n") == 1
