"""A background process that owns a running local stack.

`python -m harness up` starts it detached and returns once it reports ready; `down`
sends it SIGTERM. Its children die with it (PDEATHSIG), so even `kill -9` of the
supervisor leaves nothing behind. The state file tells other commands what runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.local_stack import LocalStack
from harness.processes import group_alive, pid_alive, stop_group
from harness.settings import REPO_ROOT, StackSettings
from harness.wait import poll

STATE_FILE = "stack.json"


@dataclass(frozen=True)
class StackState:
    """What the state file says about a stack started by `up`."""

    supervisor_pid: int
    status: str  # starting | ready | failed
    error: str = ""
    components: dict[str, int] | None = None
    t2_delay_seconds: float = 10.0
    up_seconds: float = 0.0

    def alive(self) -> bool:
        """The supervisor still runs (and its pid was not reused by another program)."""
        if not pid_alive(self.supervisor_pid):
            return False
        try:
            cmdline = Path(f"/proc/{self.supervisor_pid}/cmdline").read_bytes()
        except OSError:
            return False
        return b"_supervise" in cmdline


def state_path(settings: StackSettings) -> Path:
    return settings.run_dir / STATE_FILE


def read_state(settings: StackSettings) -> StackState | None:
    try:
        raw: dict[str, Any] = json.loads(state_path(settings).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return StackState(**raw)


def write_state(settings: StackSettings, state: StackState) -> None:
    path = state_path(settings)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state.__dict__, indent=2))
    tmp.replace(path)


def running_state(settings: StackSettings) -> StackState | None:
    """The state of a live stack started by `up`; a stale file is removed."""
    state = read_state(settings)
    if state is None:
        return None
    if not state.alive():
        state_path(settings).unlink(missing_ok=True)
        return None
    return state


def spawn(settings: StackSettings, timeout: float) -> StackState:
    """Start the supervisor detached and wait until it reports ready or failed."""
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    state_path(settings).unlink(missing_ok=True)
    with (settings.run_dir / "supervisor.log").open("ab") as log:
        proc = subprocess.Popen(  # our own module
            [sys.executable, "-m", "harness", "_supervise"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
            start_new_session=True,  # outlives `up`, so Ctrl-C must be passed on by hand
        )
    try:
        return _wait_for_report(settings, proc, timeout)
    except BaseException:  # a failure, a timeout or Ctrl-C: nothing stays half-started
        stop_group(proc.pid)
        proc.wait()
        state_path(settings).unlink(missing_ok=True)
        raise


def _wait_for_report(
    settings: StackSettings, proc: subprocess.Popen[bytes], timeout: float
) -> StackState:
    def report() -> StackState | None:
        """The ready state, None while starting; a failure or a dead supervisor raises."""
        state = read_state(settings)
        if state and state.status == "ready":
            return state
        if state and state.status == "failed":
            raise HarnessError(state.error)
        if proc.poll() is not None:
            raise HarnessError(
                f"the stack supervisor exited with code {proc.returncode}; "
                f"see {settings.run_dir / 'supervisor.log'}"
            )
        return None

    ready = poll(report, timeout=timeout, interval=0.05, on_timeout="return")
    if ready is None:
        raise HarnessError(f"the stack did not report ready within {timeout:g}s")
    return ready


def terminate(settings: StackSettings, timeout: float = 10.0) -> bool:
    """Stop a stack started by `up`; False when none was running."""
    state = running_state(settings)
    if state is None:
        return False
    os.kill(state.supervisor_pid, signal.SIGTERM)
    gone = poll(lambda: not state.alive(), timeout=timeout, interval=0.02, on_timeout="return")
    if not gone:
        stop_group(state.supervisor_pid, grace=0)
    for pid in (state.components or {}).values():
        if pid and group_alive(pid):
            stop_group(pid, grace=0)
    state_path(settings).unlink(missing_ok=True)
    return True


def supervise() -> int:
    """Body of the `_supervise` process: run the stack until SIGTERM or SIGINT."""
    settings = StackSettings.from_env()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    stack = LocalStack(settings)
    pid = os.getpid()
    write_state(settings, StackState(pid, "starting", t2_delay_seconds=settings.t2_delay_seconds))
    try:
        stack.start()
    except (HarnessError, OSError) as exc:
        write_state(settings, StackState(pid, "failed", error=str(exc)))
        return 1
    pids = {name: p for name, p in stack.pids().items() if p}
    write_state(
        settings,
        StackState(pid, "ready", components=pids, t2_delay_seconds=settings.t2_delay_seconds,
                   up_seconds=round(stack.timings["up"], 3)),
    )  # fmt: skip
    try:
        stop.wait()
    finally:
        stack.stop()
        state_path(settings).unlink(missing_ok=True)
    return 0
