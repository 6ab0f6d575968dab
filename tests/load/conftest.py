"""The local stack for the load integration tests: use a running one, or start one and stop it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from harness.settings import REPO_ROOT, StackSettings
from harness.supervisor import running_state
from harness.wait import wait_until


def harness(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", command],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="session")
def local_stack() -> Iterator[StackSettings]:
    settings = StackSettings.from_env()
    state = running_state(settings)
    if state is not None:  # someone else's stack: use it, leave it running
        wait_until(
            lambda: (s := running_state(settings)) is not None and s.status == "ready",
            timeout=60,
            what="the running local stack ready",
        )
        yield settings
        return
    up = harness("up")
    assert up.returncode == 0, f"python -m harness up failed:\n{up.stderr}"
    try:
        yield settings
    finally:
        down = harness("down")
        assert down.returncode == 0, down.stderr
