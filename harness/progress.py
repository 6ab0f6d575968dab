"""Progress lines of long steps (building daprd, installing tools, starting the stack).

Every such line goes through `say()`. By default it goes to stderr; a pytest session
installs a sink that writes past pytest's output capture (`e2e/progress.py`), so a user sees
a six-minute daprd build as it happens instead of a silent terminal.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Sink = Callable[[str], None]
TICK_SECONDS = 30.0


def to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


_sink: Sink = to_stderr


def say(source: str, message: str) -> None:
    """One progress line, `[source] message`, shown at once."""
    _sink(f"[{source}] {message}")


def set_sink(sink: Sink | None) -> None:
    """Where progress lines go from now on; None restores stderr."""
    global _sink  # noqa: PLW0603 - one sink per process, swapped by the pytest plugin
    _sink = sink or to_stderr


@contextmanager
def sink_installed(sink: Sink) -> Iterator[None]:
    previous = _sink
    set_sink(sink)
    try:
        yield
    finally:
        set_sink(previous)


def wait_with_ticks(
    proc: subprocess.Popen[bytes] | subprocess.Popen[str],
    tell: Sink,
    doing: str,
    every: float = TICK_SECONDS,
) -> int:
    """Wait for a child, telling `still <doing> (N s)` every `every` seconds; its exit code."""
    started = time.monotonic()
    while True:
        try:
            return proc.wait(timeout=every)
        except subprocess.TimeoutExpired:
            tell(f"still {doing} ({time.monotonic() - started:.0f} s)")
