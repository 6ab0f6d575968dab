"""The sqlite name resolver of the local stack against the real daprd.

Its garbage collector: with it on, daprd exits on "Host registration lost" at its first run
(an hour after the start by default; here after 3 s). The Configuration the harness renders
turns it off, so a stack outlives that hour. When a Dapr release fixes the collector, the first
test fails and says so: the harness may then leave the collector on.

Its start: each sidecar creates the resolver's tables in an exclusive transaction, and one that
cannot get the lock in time runs on without a name resolver. The tests hold the lock as a busy
sibling sidecar would: the harness's wait outlasts a short hold, and a stack whose sidecar gave
up is refused at start, in daprd's words.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from harness.daprd import locate
from harness.daprd_log import name_resolver_failure, name_resolver_started
from harness.errors import HarnessError
from harness.local_stack import LocalStack
from harness.ports import ensure_ports_free
from harness.resources import render_configuration
from harness.settings import DEFAULT_DAPR_VERSION, StackSettings
from harness.wait import poll

pytestmark = pytest.mark.integration

PORTS = {"http": 31_540, "grpc": 31_541, "metrics": 31_542, "internal gRPC": 31_543}
WATCH_SECONDS = 12.0  # four collector runs at 3 s, two renewals of the registration


def started_daprd(tmp_path: Path, resolver: dict[str, object], log: Path) -> subprocess.Popen:
    """daprd with this name resolver, writing into `log`; the caller stops it."""
    daprd = locate(DEFAULT_DAPR_VERSION)
    if daprd is None:
        pytest.fail(f"daprd {DEFAULT_DAPR_VERSION} is not installed (tox installs it)")
    ensure_ports_free(PORTS)
    config = tmp_path / "config.yaml"
    spec = {"metrics": {"enabled": False}, "nameResolution": resolver}
    config.write_text(yaml.safe_dump({"apiVersion": "dapr.io/v1alpha1", "kind": "Configuration",
                                      "metadata": {"name": "gc"}, "spec": spec}))  # fmt: skip
    (tmp_path / "resources").mkdir(exist_ok=True)
    argv = [
        str(daprd), "--app-id", "gc-check", "--config", str(config),
        "--resources-path", str(tmp_path / "resources"), "--enable-metrics=false",
        "--dapr-http-port", str(PORTS["http"]), "--dapr-grpc-port", str(PORTS["grpc"]),
        "--metrics-port", str(PORTS["metrics"]),
        "--dapr-internal-grpc-port", str(PORTS["internal gRPC"]),
    ]  # fmt: skip
    with log.open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)


def daprd_outlives(tmp_path: Path, resolver: dict[str, object]) -> tuple[bool, str]:
    """Runs daprd with this name resolver for WATCH_SECONDS: (still running, its log)."""
    log = tmp_path / "daprd.log"
    process = started_daprd(tmp_path, resolver, log)
    try:
        process.wait(WATCH_SECONDS)
    except subprocess.TimeoutExpired:
        return True, log.read_text()
    finally:
        process.kill()
        process.wait()
    return False, log.read_text()


def sqlite_resolver(db: Path, cleanup_interval: str) -> dict[str, object]:
    config = {"connectionString": str(db), "cleanupInterval": cleanup_interval}
    return {"component": "sqlite", "version": "v1", "configuration": config}


def test_with_the_collector_on_daprd_loses_its_own_registration(tmp_path: Path) -> None:
    alive, log = daprd_outlives(tmp_path, sqlite_resolver(tmp_path / "names.db", "3s"))
    assert not alive, "daprd outlived the collector: Dapr fixed it, the harness may leave it on"
    assert "Host registration lost" in log


def test_the_harness_configuration_keeps_daprd_registered(tmp_path: Path) -> None:
    resolver = sqlite_resolver(tmp_path / "ignored.db", "3s")
    rendered = render_configuration({"spec": {"nameResolution": resolver}}, tmp_path / "names.db")
    alive, log = daprd_outlives(tmp_path, rendered["spec"]["nameResolution"])
    assert alive, f"daprd exited:\n{log[-2000:]}"
    assert name_resolver_started(log), log[-2000:]
    assert "Host registration lost" not in log
    assert "Failed to update host registration" not in log


LOCK_SECONDS = 2.0  # longer than the resolver's own 800 ms wait, shorter than the harness's
OPENING = "Configuring SQLite name resolution with path"  # logged just before the migrations


@contextlib.contextmanager
def tables_locked(db: Path) -> Iterator[None]:
    """Holds the database file as a sidecar creating the resolver's tables holds it."""
    connection = sqlite3.connect(db, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        connection.execute("ROLLBACK")
        connection.close()


def settled(log: Path) -> str:
    """daprd's log once its name resolver has started or failed (15 s at most)."""
    return str(poll(
        log.read_text,
        lambda text: name_resolver_started(text) or name_resolver_failure(text) is not None,
        timeout=15, interval=0.1, on_timeout="return",
    ))  # fmt: skip


def resolver_start(
    tmp_path: Path, resolver: dict[str, object], db: Path, unlock_after: float | None
) -> str:
    """daprd's log once its resolver started or failed, the tables locked from before its
    start until `unlock_after` seconds after it opened the file (None: throughout)."""
    log = tmp_path / "daprd.log"
    with contextlib.ExitStack() as lock:
        lock.enter_context(tables_locked(db))
        process = started_daprd(tmp_path, resolver, log)
        try:
            poll(log.read_text, lambda text: OPENING in text, timeout=15, what="daprd's open")
            if unlock_after is not None:
                time.sleep(unlock_after)
                lock.close()
            return settled(log)
        finally:
            process.kill()
            process.wait()


def test_the_resolvers_own_wait_gives_up_on_a_locked_file(tmp_path: Path) -> None:
    db = tmp_path / "names.db"
    log = resolver_start(tmp_path, sqlite_resolver(db, "0"), db, unlock_after=None)
    assert "database is locked" in str(name_resolver_failure(log)), log[-2000:]


def test_the_harness_configuration_waits_out_a_locked_file(tmp_path: Path) -> None:
    db = tmp_path / "names.db"
    resolver = sqlite_resolver(tmp_path / "ignored.db", "0")
    rendered = render_configuration({"spec": {"nameResolution": resolver}}, db)
    log = resolver_start(tmp_path, rendered["spec"]["nameResolution"], db, LOCK_SECONDS)
    assert name_resolver_started(log), log[-2000:]


class StackWithLockedNames(LocalStack):
    """A stack whose name resolver file is held by someone else for the whole start."""

    def __init__(self, settings: StackSettings) -> None:
        super().__init__(settings, quiet=True)
        self.lock = contextlib.ExitStack()

    def _prepare_run_dir(self) -> None:
        super()._prepare_run_dir()
        self.lock.enter_context(tables_locked(self.settings.run_dir / "nameresolution.db"))


def test_a_sidecar_without_a_name_resolver_stops_the_start(tmp_path: Path) -> None:
    env = {**os.environ, "HARNESS_PORT_OFFSET": "1600", "HARNESS_RUN_DIR": str(tmp_path)}
    stack = StackWithLockedNames(StackSettings.from_env(env))
    try:
        with pytest.raises(HarnessError, match=r"^daprd-service-\d cannot get ready: ") as failure:
            stack.start()
    finally:
        stack.lock.close()
        stack.stop()  # already stopped unless the start wrongly succeeded
    assert "nr (sqlite/v1): failed to perform migrations" in str(failure.value)
    assert all(c.process.gone() for c in stack.components.values()), "the rest is stopped"
