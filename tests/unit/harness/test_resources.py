"""The Dapr resources and the Prometheus config rendered for the local stack."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3

import pytest
import yaml

from harness.errors import SettingsError
from harness.resources import (
    SOURCE_DIR,
    create_name_db,
    prometheus_config,
    render_component,
    render_configuration,
    render_dapr_resources,
)
from harness.settings import StackSettings


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
        "connectionString": str(tmp_path / "names.db"),
        "cleanupInterval": "0",
        "busyTimeout": "5s",
        "timeout": "3s",
    }


def test_a_busy_timeout_the_file_sets_is_kept(tmp_path):
    resolver = {"component": "sqlite", "configuration": {"busyTimeout": "9s"}}
    rendered = render_configuration({"spec": {"nameResolution": resolver}}, tmp_path / "n.db")
    assert rendered["spec"]["nameResolution"]["configuration"]["busyTimeout"] == "9s"


def test_the_resolvers_garbage_collector_is_off_whatever_the_file_says(tmp_path):
    resolver = {"component": "sqlite", "configuration": {"cleanupInterval": "1h"}}
    rendered = render_configuration({"spec": {"nameResolution": resolver}}, tmp_path / "n.db")
    assert rendered["spec"]["nameResolution"]["configuration"]["cleanupInterval"] == "0"


def test_the_name_db_is_made_in_wal_mode(tmp_path):
    create_name_db(tmp_path / "names.db")
    with contextlib.closing(sqlite3.connect(tmp_path / "names.db")) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


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


def test_the_plain_profile_has_no_resiliency_and_quick_redelivery(tmp_path):
    settings = StackSettings.from_env(
        {"HARNESS_RUN_DIR": str(tmp_path), "HARNESS_SUBSCRIPTION_PROFILE": "plain"}
    )
    resources, _ = render_dapr_resources(settings)
    assert not (resources / "resiliency.yaml").exists()
    messagebus = yaml.safe_load((resources / "messagebus.yaml").read_text())
    metadata = {m["name"]: m["value"] for m in messagebus["spec"]["metadata"]}
    assert (metadata["processingTimeout"], metadata["redeliverInterval"]) == ("3000", "1000")
    featurebus = yaml.safe_load((resources / "featurebus.yaml").read_text())
    assert "processingTimeout" not in {m["name"] for m in featurebus["spec"]["metadata"]}


def test_an_unknown_subscription_profile_is_refused():
    with pytest.raises(SettingsError, match="HARNESS_SUBSCRIPTION_PROFILE='none' must be"):
        StackSettings.from_env({"HARNESS_SUBSCRIPTION_PROFILE": "none"})
