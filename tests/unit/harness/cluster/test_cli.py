"""`python -m harness.cluster`: bad input is one line and exit 2; nothing starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cluster.__main__ import main


def test_an_unknown_command_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["start"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == (
        "error: unknown command 'start': use up, down, status, env or run\n"
    )


def test_a_bad_offset_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_PORT_OFFSET", "40000")
    assert main(["status"]) == 2
    assert capsys.readouterr().err == "error: port 42379 for etcd must be in 1024..32767\n"


def test_status_without_a_cluster_says_so_and_exits_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HARNESS_CLUSTER_RUN_DIR", str(tmp_path / "cluster"))
    monkeypatch.delenv("HARNESS_PORT_OFFSET", raising=False)
    assert main(["status"]) == 1
    assert capsys.readouterr().out == "cluster: not running\n"
