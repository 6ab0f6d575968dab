"""Choosing a broker: settings, ports, the rendered components and the server configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.brokers import BROKER_NAMES, BROKERS, BrokerPlace
from harness.errors import SettingsError
from harness.resources import SOURCE_DIR, broker_topics, render_dapr_resources
from harness.settings import StackSettings


def rendered(tmp_path: Path, broker: str) -> dict[str, dict]:
    settings = StackSettings.from_env({"HARNESS_BROKER": broker, "HARNESS_RUN_DIR": str(tmp_path)})
    folder, _ = render_dapr_resources(settings)
    return {p.stem: yaml.safe_load(p.read_text()) for p in folder.glob("*.yaml")}


def metadata(resource: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in resource["spec"]["metadata"]}


def test_redis_is_the_default_and_adds_no_server() -> None:
    settings = StackSettings.from_env({})
    assert settings.broker == "redis"
    assert settings.broker_server().command == ""
    assert settings.broker_place().first_port == settings.redis_port
    assert not {"nats", "mqtt"} & set(settings.ports())


def test_an_unknown_broker_is_one_settings_line() -> None:
    with pytest.raises(SettingsError, match="HARNESS_BROKER='kafka2' must be redis or nats"):
        StackSettings.from_env({"HARNESS_BROKER": "kafka2"})


def test_broker_ports_are_pinned_and_moved_by_the_offset() -> None:
    settings = StackSettings.from_env({"HARNESS_BROKER": "nats", "HARNESS_PORT_OFFSET": "100"})
    assert settings.ports()["nats"] == 6500 and settings.ports()["nats monitor"] == 6501
    assert settings.broker_place().first_port == 6500


@pytest.mark.parametrize("broker", [b for b in BROKER_NAMES if b != "redis"])
def test_both_pubsub_components_move_to_the_broker_and_keep_their_scopes(
    tmp_path: Path, broker: str
) -> None:
    resources = rendered(tmp_path, broker)
    expected_type = BROKERS[broker].component_type
    assert resources["messagebus"]["spec"]["type"] == expected_type
    assert resources["featurebus"]["spec"]["type"] == expected_type
    feature = metadata(resources["featurebus"])
    source = metadata(yaml.safe_load((SOURCE_DIR / "featurebus.yaml").read_text()))
    assert feature["publishingScopes"] == source["publishingScopes"]
    assert feature["subscriptionScopes"] == source["subscriptionScopes"]
    assert "redisHost" not in feature and "concurrency" not in feature
    assert resources["statestore"]["spec"]["type"] == "state.redis"  # the state stays on Redis


def test_each_component_gets_its_own_client_identity(tmp_path: Path) -> None:
    resources = rendered(tmp_path, "mqtt")
    ids = {metadata(resources[name])["consumerID"] for name in ("messagebus", "featurebus")}
    assert ids == {"{appID}-messagebus", "{appID}-featurebus"}


def test_broker_topics_hold_the_tutorial_the_dead_letters_and_the_feature_topics(
    tmp_path: Path,
) -> None:
    topics = broker_topics(SOURCE_DIR, {})
    assert topics[:4] == ["t1", "t2", "t1-dead-letter", "t2-dead-letter"]
    assert {"bulk", "bulk-dead-letter", "ttl", "answers-dead-letter"} <= set(topics)
    assert len(topics) == len(set(topics))
    assert broker_topics(SOURCE_DIR, {"TOPICS": "orders"})[:2] == ["orders", "orders-dead-letter"]


def test_server_configs_listen_on_loopback_only(tmp_path: Path) -> None:
    place = BrokerPlace("127.0.0.1", 6400, tmp_path)
    BROKERS["nats"].argv("nats-server", place)
    nats_conf = (tmp_path / "nats.conf").read_text()
    assert "listen: 127.0.0.1:6400" in nats_conf and "http: 127.0.0.1:6401" in nats_conf
    argv = BROKERS["mqtt"].argv("mosquitto", place)
    assert argv == ["mosquitto", "-c", str(tmp_path / "mosquitto.conf")]
    assert "listener 6400 127.0.0.1" in (tmp_path / "mosquitto.conf").read_text()


def test_the_rabbitmq_node_and_its_epmd_stay_on_loopback(tmp_path: Path) -> None:
    place = BrokerPlace("127.0.0.1", 6400, tmp_path)
    argv = BROKERS["rabbitmq"].argv("rabbitmq-server", place)
    conf = (tmp_path / "rabbitmq.conf").read_text()
    assert "listeners.tcp.default = 127.0.0.1:6400" in conf
    assert "management.tcp.ip = 127.0.0.1" in conf and "management.tcp.port = 6401" in conf
    assert "ERL_EPMD_ADDRESS=127.0.0.1" in argv and "ERL_EPMD_PORT=6402" in argv
    assert "RABBITMQ_DIST_PORT=6403" in argv
    assert any("inet_dist_use_interface {127,0,0,1}" in a for a in argv)
    # epmd is started by the shell that becomes the node: one process group for both
    assert argv[argv.index("sh") + 2] == 'epmd -address 127.0.0.1 -port 6402 & exec "$0"'
