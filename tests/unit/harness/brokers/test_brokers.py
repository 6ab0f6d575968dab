"""Choosing a broker: settings, ports, the rendered components and the server configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness import kafka_jars, tools
from harness.brokers import BROKER_NAMES, BROKERS, BrokerPlace
from harness.brokers.kafka import sum_end_offsets
from harness.errors import HarnessError, SettingsError
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


def test_the_kafka_node_listens_on_loopback_only_with_its_data_in_the_run_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kafka_jars, "ensure_kafka_jars", lambda: tmp_path / "libs")
    place = BrokerPlace("127.0.0.1", 6400, tmp_path)
    argv = BROKERS["kafka"].argv("/usr/bin/java", place)
    conf = dict(
        line.split("=", 1) for line in (tmp_path / "server.properties").read_text().splitlines()
    )
    assert conf["listeners"] == "PLAINTEXT://127.0.0.1:6400,CONTROLLER://127.0.0.1:6401"
    assert conf["advertised.listeners"] == "PLAINTEXT://127.0.0.1:6400"
    assert conf["controller.quorum.voters"] == "1@127.0.0.1:6401"
    assert conf["process.roles"] == "broker,controller"
    assert conf["log.dirs"] == str(tmp_path / "logs")
    assert conf["auto.create.topics.enable"] == "true"
    assert conf["offsets.topic.replication.factor"] == "1"
    # the storage is formatted by the shell that then becomes the node: one process group
    assert argv[:2] == ["sh", "-c"] and argv[2].endswith('&& exec "$@"')
    assert "kafka.tools.StorageTool format --cluster-id" in argv[2]
    node = argv[4:]
    assert node[0] == "/usr/bin/java" and "-Xmx512m" in node
    assert f"-Dlog4j2.configurationFile={tmp_path / 'log4j2.properties'}" in node
    assert node[-2:] == ["kafka.Kafka", str(tmp_path / "server.properties")]


def test_each_kafka_component_has_its_own_group_and_client_and_reads_from_the_start(
    tmp_path: Path,
) -> None:
    resources = rendered(tmp_path, "kafka")
    bus, feature = metadata(resources["messagebus"]), metadata(resources["featurebus"])
    assert bus["brokers"] == "127.0.0.1:6400" and bus["authType"] == "none"
    assert (bus["consumerGroup"], bus["clientID"]) == ("{appID}-messagebus",) * 2
    assert (feature["consumerGroup"], feature["clientID"]) == ("{appID}-featurebus",) * 2
    assert bus["initialOffset"] == "oldest"


def test_the_kafka_count_sums_the_topic_end_offsets_over_partitions() -> None:
    output = "t1:0:7\nt1:1:5\nt1-dead-letter:0:3\n"
    assert sum_end_offsets(output, "t1") == 12
    assert sum_end_offsets(output, "t1-dead-letter") == 3
    assert sum_end_offsets("", "t1") == 0


def test_a_missing_java_is_one_line_naming_its_package_and_is_not_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tools.shutil, "which", lambda _command: None)
    monkeypatch.setattr(tools, "_apt_get", lambda *_args: pytest.fail("apt-get was called"))
    with pytest.raises(HarnessError, match="missing java.*apt-get install openjdk-17-jre-headless"):
        tools.ensure_tools(["java"])


def test_the_kafka_pom_asks_for_the_server_and_its_tools_at_one_version() -> None:
    pom = kafka_jars.pom("4.1.1")
    assert "<artifactId>kafka_2.13</artifactId><version>4.1.1</version>" in pom
    assert "<artifactId>kafka-tools</artifactId><version>4.1.1</version>" in pom
    assert "<artifactId>log4j-slf4j-impl</artifactId>" in pom  # else the node logs nothing
