"""A local stack of the load integration tests' own, on moved ports, so that no other test's
traffic can enter the counts they compare (Dapr's counters have no run id)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from harness.settings import REPO_ROOT, StackSettings

PORT_OFFSET = 200  # tests/integration uses 300 and up


def harness(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", command],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="session")
def stack_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment that points the harness (and so the load runner) at that stack."""
    env = {
        **os.environ,
        "HARNESS_PORT_OFFSET": str(PORT_OFFSET),
        "HARNESS_RUN_DIR": str(tmp_path_factory.mktemp("load-stack")),
    }
    up = harness("up", env)
    assert up.returncode == 0, f"python -m harness up failed:\n{up.stdout}\n{up.stderr}"
    try:
        yield env
    finally:
        down = harness("down", env)
        assert down.returncode == 0, down.stderr


@pytest.fixture(scope="session")
def stack_settings(stack_env: dict[str, str]) -> StackSettings:
    return StackSettings.from_env(stack_env)
