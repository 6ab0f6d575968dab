"""Stopping process groups: SIGTERM first, SIGKILL for what is left after the grace time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.processes import ManagedProcess, group_alive, stop_all, stop_group
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
