"""Settings, port planning and config rendering of the local stack."""

from __future__ import annotations

import os
import shutil
import socket

import pytest
import yaml

from harness.errors import HarnessError
from harness.ports import describe_ss_users, ensure_ports_free, is_port_free
from harness.resources import (
    SOURCE_DIR,
    prometheus_config,
    render_component,
    render_configuration,
    render_dapr_resources,
)
from harness.settings import EPHEMERAL_PORT_START, SettingsError, StackSettings


def test_default_ports_are_pinned_below_the_ephemeral_range_and_distinct():
    ports = StackSettings.from_env({}).ports()
    assert len(ports) == 12
    assert all(1024 <= port < EPHEMERAL_PORT_START for port in ports.values())
    assert len(set(ports.values())) == len(ports)


def test_port_offset_moves_every_port():
    base = StackSettings.from_env({}).ports()
    moved = StackSettings.from_env({"HARNESS_PORT_OFFSET": "100"}).ports()
    assert {name: port - 100 for name, port in moved.items()} == base


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HARNESS_REDIS_PORT": "abc"}, "HARNESS_REDIS_PORT='abc' is not a whole number"),
        ({"HARNESS_REDIS_PORT": "40000"}, "port 40000 for redis must be in 1024..32767"),
        ({"HARNESS_REDIS_PORT": "6060"}, "port 6060 is given to both redis and service-1"),
        (
            {"T2_DELAY_SECONDS": "-1"},
            "T2_DELAY_SECONDS='-1' must be a number of seconds in 0..3600",
        ),
        ({"HARNESS_READY_TIMEOUT": "nan"}, "HARNESS_READY_TIMEOUT='nan' must be a number of"),
        ({"T2_DELAY_SECONDS": "inf"}, "T2_DELAY_SECONDS='inf' must be a number of seconds"),
        ({"T2_DELAY_SECONDS": "soon"}, "T2_DELAY_SECONDS='soon' is not a number"),
    ],
)
def test_bad_settings_give_one_clear_line(env, message):
    with pytest.raises(SettingsError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        StackSettings.from_env(env)


def test_dapr_version_setting_accepts_a_leading_v():
    assert StackSettings.from_env({"DAPR_VERSION": "v1.17.0"}).dapr_version == "1.17.0"


def test_a_taken_port_is_named_with_its_holder():
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        assert not is_port_free(port)
        holder = rf"port {port} \(redis\) is already taken by \S+ \(pid {os.getpid()}\)"
        with pytest.raises(HarnessError, match=holder):
            ensure_ports_free({"redis": port})
    assert is_port_free(port)


def test_ss_output_is_read_for_the_holder():
    line = 'LISTEN 0 511 127.0.0.1:6390 0.0.0.0:* users:(("redis-server",pid=42,fd=6))'
    assert describe_ss_users(line) == "redis-server (pid 42)"
    assert describe_ss_users("") == "unknown process"


def test_redis_components_point_at_the_stack_redis():
    settings = StackSettings.from_env({"HARNESS_REDIS_PORT": "7777"})
    component = {
        "kind": "Component",
        "spec": {"type": "pubsub.redis", "metadata": [{"name": "redisHost", "value": "x:1"}]},
    }
    rendered = render_component(component, settings)
    assert rendered["spec"]["metadata"] == [{"name": "redisHost", "value": "127.0.0.1:7777"}]


def test_configuration_uses_the_sqlite_resolver_file(tmp_path):
    config = {"spec": {"nameResolution": {"component": "sqlite", "configuration": {}}}}
    rendered = render_configuration(config, tmp_path / "names.db")
    assert rendered["spec"]["nameResolution"]["configuration"] == {
        "connectionString": str(tmp_path / "names.db")
    }


def test_configuration_refuses_mdns(tmp_path):
    with pytest.raises(ValueError, match="sqlite name resolver"):
        render_configuration({"spec": {"nameResolution": {"component": "mdns"}}}, tmp_path)


def test_rendered_resources_of_the_repository(tmp_path):
    settings = StackSettings.from_env({"HARNESS_RUN_DIR": str(tmp_path)})
    resources, config = render_dapr_resources(settings)
    names = sorted(path.name for path in resources.iterdir())
    assert names == [
        "featurebus.yaml",
        "messagebus.yaml",
        "resiliency.yaml",
        "statestore.yaml",
        "subscription-declared.yaml",
    ]
    featurebus = yaml.safe_load((resources / "featurebus.yaml").read_text())
    host = {m["name"]: m["value"] for m in featurebus["spec"]["metadata"]}["redisHost"]
    assert host == f"127.0.0.1:{settings.redis_port}"
    spec = yaml.safe_load(config.read_text())["spec"]
    assert spec["metrics"]["enabled"] is True
    assert spec["tracing"]["samplingRate"] == "1"
    assert spec["nameResolution"]["component"] == "sqlite"


def test_prometheus_scrapes_both_sidecars_and_both_services_every_second():
    settings = StackSettings.from_env({})
    config = prometheus_config(settings)
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"][0] for job in config["scrape_configs"]
    }
    assert targets == {
        "daprd-service-1": "127.0.0.1:9091",
        "daprd-service-2": "127.0.0.1:9092",
        "service-1": "127.0.0.1:6060",
        "service-2": "127.0.0.1:7070",
    }
    assert {job["scrape_interval"] for job in config["scrape_configs"]} == {"1s"}


def test_another_resources_folder(tmp_path):
    source = tmp_path / "mine"
    source.mkdir()
    (source / "only.yaml").write_text("kind: Subscription\nmetadata: {name: s}\nspec: {}\n")
    shutil.copy(SOURCE_DIR / "config.yaml", source / "config.yaml")
    env = {"HARNESS_RUN_DIR": str(tmp_path / "run"), "HARNESS_DAPR_RESOURCES": str(source)}
    resources, _ = render_dapr_resources(StackSettings.from_env(env))
    assert sorted(path.name for path in resources.iterdir()) == ["only.yaml"]


def test_a_missing_resources_folder_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="HARNESS_DAPR_RESOURCES=.* is not a folder"):
        StackSettings.from_env({"HARNESS_DAPR_RESOURCES": str(tmp_path / "absent")})
