"""The sqlite name resolver's garbage collector against the real daprd.

With the collector on, daprd exits on "Host registration lost" at its first run (an hour after
the start by default; here after 3 s). The Configuration the harness renders turns it off, so
a stack outlives that hour. When a Dapr release fixes the collector, the first test fails and
says so: the harness may then leave the collector on.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from harness.daprd import locate
from harness.ports import ensure_ports_free
from harness.resources import render_configuration
from harness.settings import DEFAULT_DAPR_VERSION

pytestmark = pytest.mark.integration

PORTS = {"http": 31_540, "grpc": 31_541, "metrics": 31_542, "internal gRPC": 31_543}
WATCH_SECONDS = 12.0  # four collector runs at 3 s, two renewals of the registration


def daprd_outlives(tmp_path: Path, resolver: dict[str, object]) -> tuple[bool, str]:
    """Runs daprd with this name resolver for WATCH_SECONDS: (still running, its log)."""
    daprd = locate(DEFAULT_DAPR_VERSION)
    if daprd is None:
        pytest.fail(f"daprd {DEFAULT_DAPR_VERSION} is not installed (tox installs it)")
    ensure_ports_free(PORTS)
    config = tmp_path / "config.yaml"
    spec = {"metrics": {"enabled": False}, "nameResolution": resolver}
    config.write_text(yaml.safe_dump({"apiVersion": "dapr.io/v1alpha1", "kind": "Configuration",
                                      "metadata": {"name": "gc"}, "spec": spec}))  # fmt: skip
    (tmp_path / "resources").mkdir()
    log = tmp_path / "daprd.log"
    argv = [
        str(daprd), "--app-id", "gc-check", "--config", str(config),
        "--resources-path", str(tmp_path / "resources"), "--enable-metrics=false",
        "--dapr-http-port", str(PORTS["http"]), "--dapr-grpc-port", str(PORTS["grpc"]),
        "--metrics-port", str(PORTS["metrics"]),
        "--dapr-internal-grpc-port", str(PORTS["internal gRPC"]),
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
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
    assert "Host registration lost" not in log
