"""An ASGI app served by uvicorn (or another server) in a process of its own, for the
benchmarks that need one.

The process runs in its own group and dies with the benchmark (harness.processes), listens on
127.0.0.1 only, on a pinned port moved by HARNESS_PORT_OFFSET like the stack's, and is stopped
when the `with` block ends, also on an error or Ctrl-C.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from harness.env import env_int
from harness.errors import HarnessError
from harness.ports import ensure_ports_free, require_pinned_range
from harness.processes import ManagedProcess
from harness.settings import REPO_ROOT, UVICORN_FLAGS
from harness.wait import WaitTimeout, poll

READY_TIMEOUT = 30.0


def pinned_port(base: int) -> int:
    """`base` moved by HARNESS_PORT_OFFSET, as every port of the local stack is, and kept in
    the pinned range (an offset that moves it out is one line, not an OverflowError)."""
    port = base + env_int(os.environ, "HARNESS_PORT_OFFSET", 0)
    require_pinned_range({f"{base} + HARNESS_PORT_OFFSET": port})
    return port


@contextmanager
def served(
    name: str, app: str, port: int, log_dir: Path, env: dict[str, str] | None = None
) -> Iterator[ManagedProcess]:
    """Serve `app` ("module:attribute") on 127.0.0.1:`port` until the block ends."""
    argv = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
            *UVICORN_FLAGS]  # fmt: skip
    url = f"http://127.0.0.1:{port}/healthz"

    def answers() -> bool:
        return httpx.get(url, timeout=1.0, trust_env=False).status_code == 200

    with serving(name, argv, port, log_dir, answers, env) as process:
        yield process


@contextmanager
def serving(
    name: str,
    argv: list[str],
    port: int,
    log_dir: Path,
    answers: Callable[[], bool],
    env: dict[str, str] | None = None,
) -> Iterator[ManagedProcess]:
    """Run `argv` (a server on 127.0.0.1:`port`) until the block ends, once `answers()`."""
    ensure_ports_free({name: port})
    process = ManagedProcess(name, argv, log_dir / f"{name}.log", env=env or {}, cwd=REPO_ROOT)
    process.start()
    try:

        def ready() -> bool:
            if not process.running():
                raise HarnessError(f"{name} exited with {process.exit_code()}")
            return answers()

        try:
            # An HTTP error here means not listening yet.
            poll(ready, timeout=READY_TIMEOUT, what=f"{name}", retry_on=(httpx.HTTPError,))
        except WaitTimeout:
            raise HarnessError(f"{name} did not get ready:\n{process.log_tail(20)}") from None
        yield process
    finally:
        process.stop()
