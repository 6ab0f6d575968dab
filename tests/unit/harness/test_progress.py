"""Progress lines of long steps reach the terminal while the step runs, also under pytest."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from harness import progress
from harness.settings import REPO_ROOT

SLOW_STEP_TEST = textwrap.dedent(
    """
    import pathlib, subprocess, sys
    import pytest
    from harness.progress import say, wait_with_ticks

    GO_ON = str(pathlib.Path(__file__).with_name("go-on"))
    WAIT = f"import pathlib, time\\nwhile not pathlib.Path({GO_ON!r}).exists(): time.sleep(0.05)"

    @pytest.fixture(scope="session")
    def slow_step():
        say("fake", "step started")
        with subprocess.Popen([sys.executable, "-c", WAIT]) as proc:
            wait_with_ticks(proc, lambda line: say("fake", line), "waiting", every=0.2)
        say("fake", "step done")

    def test_after_the_slow_step(slow_step):
        print("captured output that stays hidden")
    """
)


def test_ticks_while_a_child_runs() -> None:
    lines: list[str] = []
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.7)"]) as proc:
        code = progress.wait_with_ticks(proc, lines.append, "sleeping", every=0.2)
    assert code == 0
    assert lines and all(line.startswith("still sleeping (") for line in lines)


def test_say_goes_to_the_installed_sink() -> None:
    seen: list[str] = []
    with progress.sink_installed(seen.append):
        progress.say("daprd", "compiling")
    assert seen == ["[daprd] compiling"]


def _reader(stream, into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line.rstrip("\n"))
    into.put("<eof>")


def _wait_for(lines: queue.Queue[str], wanted: str, seen: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not any(wanted in line for line in seen):
        left = deadline - time.monotonic()
        assert left > 0, f"{wanted!r} did not appear live; output so far:\n" + "\n".join(seen)
        try:
            seen.append(lines.get(timeout=left))
        except queue.Empty:
            continue


def test_progress_is_live_under_pytest_capture(tmp_path: Path) -> None:
    """The slow step waits until the progress lines were seen, so they must come live."""
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["e2e.progress"]\n')
    (tmp_path / "test_slow.py").write_text(SLOW_STEP_TEST)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(tmp_path)]
    with subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
        seen: list[str] = []
        try:
            _wait_for(lines, "[fake] step started", seen, timeout=60)
            _wait_for(lines, "[fake] still waiting (", seen, timeout=30)
        finally:
            (tmp_path / "go-on").touch()
        _wait_for(lines, "<eof>", seen, timeout=60)
        assert proc.wait(timeout=30) == 0, "\n".join(seen)
    output = "\n".join(seen)
    assert "[fake] step done" in output
    assert "1 passed" in output
    assert "captured output that stays hidden" not in output
