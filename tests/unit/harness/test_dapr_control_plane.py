"""The local sentry and injector: their ports, and the chart's arguments made local."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.dapr_control_plane import (
    ControlPlaneSettings,
    chart_container,
    local_args,
    local_env,
    parse_flags,
)
from harness.errors import HarnessError
from harness.kube_builds import dapr_replaces
from harness.private_mounts import hosts_text, loopback_names, with_private_mounts


def test_ports_follow_the_offset_and_stay_below_the_ephemeral_range() -> None:
    settings = ControlPlaneSettings.from_env({"HARNESS_PORT_OFFSET": "11000"})
    assert settings.ports()["sidecar injector"] == 17452
    assert settings.webhook_url() == "https://dapr-sidecar-injector.dapr-system.svc:17452/mutate"
    with pytest.raises(HarnessError, match="must be in 1024..32767"):
        ControlPlaneSettings.from_env({"HARNESS_PORT_OFFSET": "30000"})


def test_chart_arguments_are_kept_and_overridden() -> None:
    chart = ["--log-level", "info", "--enable-metrics", "--metrics-port", "9090",
             "--scheduler-enabled=true"]  # fmt: skip
    assert parse_flags(chart) == [
        ("--log-level", "info"), ("--enable-metrics", None), ("--metrics-port", "9090"),
        ("--scheduler-enabled", "true"),
    ]  # fmt: skip
    assert local_args(chart, {"--enable-metrics": "false", "--port": "17452"}) == [
        "--log-level=info", "--enable-metrics=false", "--metrics-port=9090",
        "--scheduler-enabled=true", "--port=17452",
    ]  # fmt: skip
    with pytest.raises(HarnessError, match="unexpected argument"):
        parse_flags(["stray"])


def test_chart_environment_is_filled_in() -> None:
    chart = [
        {"name": "SIDECAR_IMAGE", "value": "ghcr.io/dapr/daprd:1.18.3"},
        {"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "DAPR_SENTRY_ADDRESS", "value": "dapr-sentry.dapr-system.svc:443"},
    ]
    env = local_env(chart, "dapr-system", {"DAPR_SENTRY_ADDRESS": "127.0.0.1:17450"})
    assert env == {"SIDECAR_IMAGE": "ghcr.io/dapr/daprd:1.18.3", "NAMESPACE": "dapr-system",
                   "DAPR_SENTRY_ADDRESS": "127.0.0.1:17450"}  # fmt: skip
    secret = [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]
    with pytest.raises(HarnessError, match="cannot fill in the chart's X"):
        local_env(secret, "dapr-system", {})


def test_a_missing_deployment_is_named() -> None:
    with pytest.raises(HarnessError, match="no Deployment dapr-sentry"):
        chart_container([{"kind": "Service", "metadata": {"name": "dapr-sentry"}}], "dapr-sentry")


def test_private_mounts_wrap_the_command(tmp_path: Path) -> None:
    files = {"/var/run/a b/token": Path("/t/tok")}
    argv = with_private_mounts(["/bin/injector", "--port=1"], run_files=files)
    assert argv[:4] == ["unshare", "--mount", "--propagation", "private"]
    assert argv[-3:] == ["sh", "/bin/injector", "--port=1"]
    assert argv[6] == (
        "mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -p '/var/run/a b' && "
        "cp /t/tok '/var/run/a b/token' && exec \"$@\""
    )
    with pytest.raises(HarnessError, match="only paths under /run"):
        with_private_mounts(["x"], run_files={"/etc/passwd": Path("/t/x")})
    binds = loopback_names(tmp_path, {"a.svc": "127.0.0.1"})
    named = with_private_mounts(["kube-apiserver"], binds)
    assert f"mount --bind {tmp_path}/hosts /etc/hosts" in named[6]
    assert "tmpfs" not in named[6]
    assert (tmp_path / "resolv.conf").read_text() == "nameserver 127.0.0.1\n"
    assert hosts_text({"a.svc": "127.0.0.1"}) == "127.0.0.1 localhost\n127.0.0.1 a.svc\n"


def test_dapr_replaces_take_the_substitutes() -> None:
    gomod = (
        "replace (\n\tgithub.com/a/b => github.com/c/b v1.0.0\n\tgithub.com/x/y v0.1 => ../y\n)\n"
    )
    assert dapr_replaces(gomod, {"github.com/x/y": "", "github.com/q/avro": "local:avro"}) == (
        "github.com/a/b => github.com/c/b v1.0.0",
        "github.com/q/avro => ./avro",
    )
