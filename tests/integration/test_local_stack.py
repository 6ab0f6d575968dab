"""The local stack for real: every component answers, and nothing outlives it.

Each test runs its own stack on moved ports and its own run directory, so it can run
beside a stack somebody started with `python -m harness up`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import redis

from harness.errors import HarnessError
from harness.local_stack import LocalStack
from harness.ports import is_port_free
from harness.processes import default_sigint, group_alive
from harness.settings import REPO_ROOT, StackSettings
from harness.wait import poll, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def stack_env(tmp_path: Path, offset: int) -> dict[str, str]:
    return {
        **os.environ,
        "HARNESS_PORT_OFFSET": str(offset),
        "HARNESS_RUN_DIR": str(tmp_path / "stack"),
        "T2_DELAY_SECONDS": "0",
    }


def harness_cli(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def all_ports_free(settings: StackSettings) -> bool:
    return all(is_port_free(port) for port in settings.ports().values())


def assert_nothing_left(settings: StackSettings, pids: list[int]) -> None:
    wait_until(lambda: all_ports_free(settings), timeout=5, what="every port free")
    alive = [pid for pid in pids if group_alive(pid)]
    assert alive == [], f"process groups still alive: {alive}"


def test_every_component_answers_for_real_and_teardown_leaves_nothing(tmp_path):
    settings = StackSettings.from_env(stack_env(tmp_path, 300))
    stack = LocalStack(settings, quiet=True)
    with stack:
        pids = [pid for pid in stack.pids().values() if pid]
        assert len(pids) == 6
        publish = httpx.post(
            f"{settings.url(settings.sidecar1.http)}/v1.0/publish/messagebus/t2",
            json={"messageType": "t2", "message": {"run": "direct", "seq": 1}},
            headers=stack.tokens.dapr_headers(),
        )
        assert publish.status_code == 204, publish.text
        assert stack.tokens.enabled, "the stack starts with tokens by default"
        token_file = settings.run_dir / "tokens.json"
        assert token_file.stat().st_mode & 0o777 == 0o600
        streams = redis.Redis(host=settings.host, port=settings.redis_port)
        entries = streams.xrange("t2")
        assert any(b"direct" in value for _, fields in entries for value in fields.values())

        query = f"{settings.url(settings.prometheus_port)}/api/v1/query"
        result = httpx.get(query, params={"query": 'count({__name__=~"dapr_.+"})'}).json()
        assert float(result["data"]["result"][0]["value"][1]) > 10
        targets = httpx.get(f"{settings.url(settings.prometheus_port)}/api/v1/targets").json()
        assert {t["health"] for t in targets["data"]["activeTargets"]} == {"up"}
    assert_nothing_left(settings, pids)


def test_up_status_down_from_the_command_line(tmp_path):
    env = stack_env(tmp_path, 400)
    settings = StackSettings.from_env(env)
    up = harness_cli(env, "up")
    assert up.returncode == 0, up.stderr
    assert "local stack ready in" in up.stdout
    try:
        again = harness_cli(env, "up")
        assert again.returncode == 1
        assert "already running" in again.stderr and "nothing changed" in again.stderr
        status = harness_cli(env, "status")
        assert status.returncode == 0
        assert status.stdout.count(" up ") == 6, status.stdout
        logs = harness_cli(env, "logs", "daprd-service-1", "-n", "200")
        assert "dapr initialized" in logs.stdout
    finally:
        down = harness_cli(env, "down")
    assert down.returncode == 0 and "stopped in" in down.stdout
    assert all_ports_free(settings)
    assert harness_cli(env, "status").returncode == 1


def test_a_taken_port_is_named_and_nothing_starts(tmp_path):
    env = stack_env(tmp_path, 500)
    settings = StackSettings.from_env(env)
    with socket.socket() as squatter:
        squatter.bind((settings.host, settings.sidecar2.metrics))
        squatter.listen()
        up = harness_cli(env, "up")
    assert up.returncode == 2
    assert up.stderr.startswith(
        f"error: port {settings.sidecar2.metrics} (daprd-service-2 metrics)"
    )
    assert f"pid {os.getpid()}" in up.stderr
    assert all_ports_free(settings)
    assert not (settings.run_dir / "stack.json").exists()


def test_a_component_that_dies_at_start_is_named_and_the_rest_is_stopped(tmp_path):
    # TOPICS is read by service-1 alone, so service-1 is the one component that dies; a
    # setting both services read (MAX_BODY_BYTES) let whichever died first be named.
    env = {**stack_env(tmp_path, 600), "TOPICS": "t1,state"}
    settings = StackSettings.from_env(env)
    stack = LocalStack(settings, quiet=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOPICS", "t1,state")
        with pytest.raises(HarnessError, match=r"^service-1 exited with code \d+") as failure:
            stack.start()
    assert "TOPICS: 'state' is taken" in str(failure.value), "the error should carry the log tail"
    assert stack.components["service-2"].process.exit_code() is not None, "the rest is stopped"
    assert_nothing_left(settings, [pid for pid in stack.pids().values() if pid])


OWNER = """
import sys, time
from harness.local_stack import LocalStack
with LocalStack(quiet=True) as stack:
    print(" ".join(str(p) for p in stack.pids().values()), flush=True)
    time.sleep(120)
"""


@pytest.mark.parametrize("how", ["ctrl-c", "kill -9"])
def test_nothing_outlives_its_owner(tmp_path, how):
    env = stack_env(tmp_path, 700 if how == "ctrl-c" else 800)
    settings = StackSettings.from_env(env)
    owner = subprocess.Popen(  # Ctrl-C must reach it even when we were started in the background
        [sys.executable, "-c", OWNER], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True,
        preexec_fn=default_sigint,  # noqa: PLW1509 - the test starts no threads
    )  # fmt: skip
    try:
        line = owner.stdout.readline() if owner.stdout else ""
        pids = [int(pid) for pid in line.split()]
        assert len(pids) == 6, f"the owner did not start the stack: {line!r}"
        owner.send_signal(signal.SIGINT if how == "ctrl-c" else signal.SIGKILL)
        owner.wait(timeout=15)
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        if owner.stdout:
            owner.stdout.close()
    assert_nothing_left(settings, pids)


def test_killing_the_supervisor_of_up_stops_the_stack(tmp_path):
    env = stack_env(tmp_path, 900)
    settings = StackSettings.from_env(env)
    up = harness_cli(env, "up")
    assert up.returncode == 0, up.stderr
    from harness.supervisor import read_state

    state = read_state(settings)
    assert state is not None and state.components
    os.kill(state.supervisor_pid, signal.SIGKILL)
    poll(lambda: all_ports_free(settings), timeout=10, interval=0.1, on_timeout="return")
    assert_nothing_left(settings, list(state.components.values()))
