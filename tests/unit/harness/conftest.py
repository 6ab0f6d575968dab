"""Fixtures shared by the harness' unit tests: a run directory of its own, a fake supervisor."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from harness.settings import StackSettings


@pytest.fixture
def settings(tmp_path, monkeypatch) -> StackSettings:
    monkeypatch.setenv("HARNESS_RUN_DIR", str(tmp_path))
    return StackSettings.from_env()


@pytest.fixture
def fake_supervisor() -> Iterator[int]:
    """A process whose command line looks like the stack supervisor's."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "_supervise"])
    yield sleeper.pid
    sleeper.kill()
    sleeper.wait()
