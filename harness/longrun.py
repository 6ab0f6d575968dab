"""Running a long build step (debootstrap, docker build, go build) so a user sees it live.

The step's output goes to a log file, not a pipe (a long output cannot block the child),
a line of progress is printed every `tick` seconds, and a failure raises one line that
names the step and the last line of its log. The step runs in its own process group,
stopped with it on Ctrl-C, and is killed by the kernel if the harness dies.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from harness.errors import HarnessError
from harness.processes import _die_with_parent, stop_group, tail
from harness.progress import say as progress_line

Progress = Callable[[str], None]


def say(prefix: str) -> Progress:
    """A progress printer whose lines start with `[prefix]`, through `harness.progress` (so
    they show under pytest too)."""

    def progress(message: str) -> None:
        progress_line(prefix, message)

    return progress


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def run_step(
    argv: list[str],
    *,
    what: str,
    log: Path,
    progress: Progress,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin_from: Path | None = None,
    tick: float = 30.0,
) -> float:
    """Run `argv` to completion; return its wall time in seconds."""
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log.open("w") as out:
        stdin = stdin_from.open("rb") if stdin_from else subprocess.DEVNULL
        try:
            proc = subprocess.Popen(  # argv is built by the harness
                argv,
                cwd=cwd,
                env={**os.environ, **(env or {})},
                stdin=stdin,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=partial(_die_with_parent, os.getpid()),  # noqa: PLW1509 - PDEATHSIG
            )
        except FileNotFoundError:
            raise HarnessError(f"{what}: {argv[0]} is not installed") from None
        finally:
            if stdin_from and not isinstance(stdin, int):
                stdin.close()
        try:
            while proc.poll() is None:
                try:
                    proc.wait(timeout=tick)
                except subprocess.TimeoutExpired:
                    progress(f"{what}: still running ({time.monotonic() - started:.0f} s)")
        except BaseException:
            stop_group(proc.pid)
            proc.wait()
            raise
    if proc.returncode != 0:
        raise HarnessError(
            f"{what} failed (exit {proc.returncode}): {last_line(tail(log, 20))}; log {log}"
        )
    return time.monotonic() - started
