"""A user's own pubsub component (HARNESS_PUBSUB_COMPONENT) on a broker the user runs.

The "user's broker" is a redis-server this test starts on a port of its own; the stack
starts none for it. The delivery and broker checks pass through that component, and a
component whose broker cannot be reached stops the stack with daprd's own reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import yaml

from harness.ports import ensure_ports_free
from harness.processes import ManagedProcess
from harness.settings import REPO_ROOT, StackSettings
from harness.tools import ensure_tools
from harness.wait import poll
from tests.integration.test_e2e_goes_red import failed_tests, run_e2e

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OFFSET = 4800
USERS_REDIS_PORT = 12290  # none of the stack's ports at OFFSET or OFFSET + 100


def component(redis_port: int) -> dict:
    return {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "users-bus"},
        "spec": {"type": "pubsub.redis", "version": "v1", "metadata": [
            {"name": "redisHost", "value": f"127.0.0.1:{redis_port}"},
            {"name": "redisPassword", "value": ""},
        ]},
    }  # fmt: skip


def written(tmp_path: Path, redis_port: int) -> Path:
    path = tmp_path / "users-bus.yaml"
    path.write_text(yaml.safe_dump(component(redis_port)))
    return path


@pytest.fixture
def users_redis(tmp_path: Path) -> Iterator[redis.Redis]:
    assert USERS_REDIS_PORT not in StackSettings().shifted(OFFSET).ports().values()
    ensure_ports_free({"the user's redis": USERS_REDIS_PORT})
    binary = ensure_tools(["redis-server"])["redis-server"]
    argv = [binary, "--port", str(USERS_REDIS_PORT), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(tmp_path)]  # fmt: skip
    server = ManagedProcess("users-redis", argv, tmp_path / "users-redis.log")
    server.start()
    client = redis.Redis(port=USERS_REDIS_PORT, socket_timeout=2)
    try:
        poll(lambda: _pings(client), timeout=10.0, interval=0.1)
        yield client
    finally:
        client.close()
        server.stop()


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def test_the_gate_runs_through_the_users_component(tmp_path: Path, users_redis) -> None:
    selection = "test_broker or test_t1_messages_arrive or test_delivery_semantics"
    env = {"HARNESS_PUBSUB_COMPONENT": str(written(tmp_path, USERS_REDIS_PORT))}
    result = run_e2e(tmp_path, OFFSET, selection, env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert failed_tests(output) == set()
    assert users_redis.xlen("t1") > 0, "no message crossed the user's broker"


def test_a_broker_daprd_cannot_reach_is_named_with_daprds_reason(tmp_path: Path) -> None:
    closed = USERS_REDIS_PORT + 1
    ensure_ports_free({"a port nobody listens on": closed})
    env = {
        "HARNESS_PORT_OFFSET": str(OFFSET + 100),
        "HARNESS_RUN_DIR": str(tmp_path / "stack"),
        "HARNESS_PUBSUB_COMPONENT": str(written(tmp_path, closed)),
    }
    try:
        up = harness("up", env, timeout=120)
        status = harness("status", env, timeout=30)
    finally:  # a stack that came up against expectation must not outlive the test
        harness("down", env, timeout=60)
    first = next(line for line in up.stderr.splitlines() if line.startswith("error:"))
    assert up.returncode != 0
    assert "bus (pubsub.redis/v1)" in first, up.stderr[-2000:]  # messagebus or featurebus
    assert f"127.0.0.1:{closed}: connect: connection refused" in first, up.stderr[-2000:]
    assert "not running" in status.stdout + status.stderr


def harness(command: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", command], cwd=REPO_ROOT, env={**os.environ, **env},
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
