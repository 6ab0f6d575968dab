"""How the local stack waits for its components, with stand-ins for the processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.local_stack import Component, LocalStack
from harness.settings import StackSettings


class StandIn:
    """What `_wait_ready` asks of a ManagedProcess."""

    def __init__(self, log: Path, exit_code: int | None = None) -> None:
        self.log = log
        self.code = exit_code

    def exit_code(self) -> int | None:
        return self.code

    def log_tail(self, lines: int = 40) -> str:
        return self.log.read_text() if self.log.exists() else ""


def stack_of(tmp_path: Path, timeout: str, **components: Component) -> LocalStack:
    env = {"HARNESS_RUN_DIR": str(tmp_path), "HARNESS_READY_TIMEOUT": timeout}
    stack = LocalStack(StackSettings.from_env(env), quiet=True)
    stack.components = components
    return stack


def ready_after(checks: int):
    calls = iter(range(checks + 1))
    return lambda: next(calls, checks) >= checks


def test_returns_once_every_component_is_ready(tmp_path):
    stack = stack_of(
        tmp_path,
        "5",
        redis=Component(StandIn(tmp_path / "redis.log"), ready_after(2)),  # type: ignore[arg-type]
        prometheus=Component(StandIn(tmp_path / "p.log"), ready_after(0)),  # type: ignore[arg-type]
    )
    stack._wait_ready(["redis", "prometheus"])


def test_a_late_component_is_named_with_its_log_tail(tmp_path):
    (tmp_path / "late.log").write_text("still loading\n")
    stack = stack_of(
        tmp_path,
        "0.2",
        redis=Component(StandIn(tmp_path / "redis.log"), lambda: True),  # type: ignore[arg-type]
        late=Component(StandIn(tmp_path / "late.log"), lambda: False),  # type: ignore[arg-type]
    )
    with pytest.raises(HarnessError, match=r"^late did not get ready within 0.2s; log ") as caught:
        stack._wait_ready(["redis", "late"])
    assert caught.value.args[0].endswith("still loading")


def test_a_refused_connection_means_not_ready_yet(tmp_path):
    def refused() -> bool:
        raise ConnectionRefusedError

    stack = stack_of(
        tmp_path,
        "0.1",
        web=Component(StandIn(tmp_path / "web.log"), refused),  # type: ignore[arg-type]
    )
    with pytest.raises(HarnessError, match="^web did not get ready within 0.1s"):
        stack._wait_ready(["web"])


def test_a_dead_component_is_named_at_once(tmp_path):
    (tmp_path / "dead.log").write_text("bind: address in use\n")
    stack = stack_of(
        tmp_path,
        "30",
        dead=Component(StandIn(tmp_path / "dead.log", 1), lambda: False),  # type: ignore[arg-type]
    )
    with pytest.raises(HarnessError, match=r"(?s)^dead exited with code 1; log .*address in use"):
        stack._wait_ready(["dead"])


def test_a_broken_component_is_named_at_once_with_the_reason(tmp_path):
    (tmp_path / "daprd.log").write_text("level=error msg=no resolver\n")
    stack = stack_of(
        tmp_path,
        "30",
        daprd=Component(
            StandIn(tmp_path / "daprd.log"),  # type: ignore[arg-type]
            lambda: False,
            lambda: "its name resolver failed",
        ),
    )
    said = r"(?s)^daprd cannot get ready: its name resolver failed; log .*no resolver"
    with pytest.raises(HarnessError, match=said):
        stack._wait_ready(["daprd"])


class Logged:
    """What `_resolver_started` asks of a ManagedProcess."""

    def __init__(self, text: str) -> None:
        self.text = text

    def log_since_start(self) -> str:
        return self.text


RESOLVER_STARTED = 'level=info msg="Initialized name resolution to sqlite"\n'
RESOLVER_FAILED = (
    'level=error msg="[INIT_COMPONENT_FAILURE]: initialization error occurred for nr '
    '(sqlite/v1): failed to perform migrations: database is locked"\n'
)


@pytest.mark.parametrize(
    ("level", "log", "started"),
    [
        ("info", RESOLVER_STARTED, True),
        ("info", "", False),
        ("debug", RESOLVER_FAILED, False),
        ("warn", "", True),  # the line saying it started is not logged at warn
        ("warn", RESOLVER_FAILED, False),
    ],
)
def test_daprd_has_its_name_resolver_when_its_log_says_so(tmp_path, level, log, started):
    env = {"HARNESS_RUN_DIR": str(tmp_path), "HARNESS_DAPR_LOG_LEVEL": level}
    stack = LocalStack(StackSettings.from_env(env), quiet=True)
    assert stack._resolver_started(Logged(log)) is started  # type: ignore[arg-type]
