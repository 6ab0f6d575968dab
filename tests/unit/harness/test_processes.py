"""Stopping process groups: SIGTERM first, SIGKILL for what is left after the grace time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.processes import ManagedProcess, group_alive, stop_all, stop_group, tree_cpu_seconds
from harness.wait import wait_until

IGNORES_SIGTERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(60)"
)


def started(code: str, log: Path) -> ManagedProcess:
    process = ManagedProcess(log.stem, [sys.executable, "-c", code], log)
    process.start()
    return process


def test_stop_group_ends_a_group_that_obeys_sigterm():
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    stop_group(child.pid, grace=5)
    assert child.wait(timeout=5) == -15
    assert not group_alive(child.pid)


def test_stop_group_kills_a_group_that_ignores_sigterm():
    child = subprocess.Popen(
        [sys.executable, "-c", IGNORES_SIGTERM], stdout=subprocess.PIPE, start_new_session=True
    )
    assert child.stdout is not None and child.stdout.readline() == b"ready\n"
    stop_group(child.pid, grace=0.2)
    assert child.wait(timeout=5) == -9
    child.stdout.close()


def test_stop_group_of_a_gone_group_is_a_no_op():
    child = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    child.wait()
    stop_group(child.pid, grace=0.1)


def test_stop_all_terms_the_willing_and_kills_the_rest(tmp_path):
    willing = started("import time; time.sleep(60)", tmp_path / "willing.log")
    stubborn = started(IGNORES_SIGTERM, tmp_path / "stubborn.log")
    # the handler must be in place before SIGTERM arrives
    wait_until(lambda: "ready" in stubborn.log_tail(), timeout=10, what="handler in place")
    stop_all([willing, stubborn], grace=0.3)
    assert willing.exit_code() == -15
    assert stubborn.exit_code() == -9
    assert willing.gone() and stubborn.gone()


BUSY_PARENT_OF_BUSY_CHILD = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'while True: pass'])\n"
    "print(child.pid, flush=True)\n"
    "end = time.process_time() + 0.3\n"
    "while time.process_time() < end: pass\n"
    "print('spun', flush=True)\n"
    "time.sleep(60)\n"
)


def test_tree_cpu_seconds_adds_the_children_of_a_process(tmp_path: Path):
    parent = subprocess.Popen(
        [sys.executable, "-c", BUSY_PARENT_OF_BUSY_CHILD],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert parent.stdout.readline() == b"spun\n"
        own = tree_cpu_seconds(child)
        wait_until(lambda: tree_cpu_seconds(child) > own + 0.2, timeout=20)
        child_before = tree_cpu_seconds(child)
        assert tree_cpu_seconds(parent.pid) >= child_before + 0.25  # and the parent's own 0.3 s
    finally:
        stop_group(parent.pid, grace=1)
        parent.wait(timeout=5)
        assert parent.stdout is not None
        parent.stdout.close()
    assert tree_cpu_seconds(parent.pid) == 0.0  # gone: nothing to read


def test_the_log_since_start_leaves_out_earlier_runs(tmp_path):
    process = started("print('first run')", tmp_path / "twice.log")
    assert process.popen is not None and process.popen.wait(5) == 0
    process.argv = [sys.executable, "-c", "print('second run')"]
    process.start()
    assert process.popen.wait(5) == 0
    assert process.log_since_start() == "second run\n"
    assert process.log_tail() == "first run\nsecond run\n", "the log keeps both"
