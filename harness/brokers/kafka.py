"""Kafka in KRaft mode (Kafka's own jars on the machine's Java), behind Dapr's pubsub.kafka.

One node is both broker and controller, every listener on loopback, its log dirs in the run
folder. The storage is formatted by the same shell that then becomes the node, so the two
are one process group and formatting counts toward the start time. Topics are created when
daprd first asks for them (auto creation); the broker's own count for a topic is the sum of
its partitions' end offsets, read with Kafka's GetOffsetShell.
"""

from __future__ import annotations

import base64
import shlex
import socket
import struct
import subprocess
from types import ModuleType

from harness.brokers.base import BrokerPlace
from harness.errors import HarnessError

PLAINTEXT, CONTROLLER = 0, 1
NODE_ID = 1
# Kafka wants a cluster id of 16 bytes in URL-safe base64; any fixed one does for one node
CLUSTER_ID = base64.urlsafe_b64encode(b"dapr-pubsub-node").decode().rstrip("=")
HEAP = ["-Xms128m", "-Xmx512m"]
NO_SUCH_TOPIC = "Could not match any topic-partitions"  # GetOffsetShell, unknown topic
API_VERSIONS = 18  # the Kafka request every client sends first; answered once serving


def server_properties(place: BrokerPlace) -> str:
    host, plain, controller = place.host, place.port(PLAINTEXT), place.port(CONTROLLER)
    settings = {
        "process.roles": "broker,controller",
        "node.id": NODE_ID,
        "controller.quorum.voters": f"{NODE_ID}@{host}:{controller}",
        "listeners": f"PLAINTEXT://{host}:{plain},CONTROLLER://{host}:{controller}",
        # A client dials the bootstrap address once, then the address the node advertises:
        # with a fault proxy in front, that must be the proxy's, or the client would
        # bypass it after its first request
        "advertised.listeners": f"PLAINTEXT://{host}:{place.dialled(PLAINTEXT)}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": place.data_dir / "logs",
        "auto.create.topics.enable": "true",
        "num.partitions": 1,
        # one node: every internal topic has one replica; few partitions start fast
        "offsets.topic.replication.factor": 1,
        "offsets.topic.num.partitions": 1,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "share.coordinator.state.topic.replication.factor": 1,
        # a consumer group's first join is not held back 3 s for more members
        "group.initial.rebalance.delay.ms": 0,
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


# Warnings and errors to stdout (the stack's log of the node), and the line saying it started
LOG_CONFIG = """\
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = STDOUT
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = info
"""


def java_argv(java: str, main: str, *args: str) -> list[str]:
    return [java, *HEAP, "-cp", _jars().classpath(), main, *args]


def _jars() -> ModuleType:
    """harness.kafka_jars, imported late: it reaches the settings, which list the brokers."""
    from harness import kafka_jars

    return kafka_jars


class Kafka:
    name: str = "kafka"
    component_type: str = "pubsub.kafka"
    component_version: str = "v1"
    command: str = "java"
    port_names: tuple[str, ...] = ("kafka", "kafka controller")
    client_port: int = PLAINTEXT
    ready_seconds: float = 120.0

    def argv(self, binary: str, place: BrokerPlace) -> list[str]:
        _jars().ensure_kafka_jars()
        place.data_dir.mkdir(parents=True, exist_ok=True)
        config = place.data_dir / "server.properties"
        config.write_text(server_properties(place))
        log_config = place.data_dir / "log4j2.properties"
        log_config.write_text(LOG_CONFIG)
        # --ignore-formatted: a restarted node keeps its log dir (a fault scenario's restart)
        storage = ["format", "--cluster-id", CLUSTER_ID, "--config", str(config),
                   "--ignore-formatted"]  # fmt: skip
        format_storage = shlex.join(java_argv(binary, "kafka.tools.StorageTool", *storage))
        if not place.persistent:  # every start begins with empty logs: a restart forgets
            format_storage = (
                f"rm -rf {shlex.quote(str(place.data_dir / 'logs'))} && {format_storage}"
            )
        node = java_argv(binary, "kafka.Kafka", str(config))
        node[1:1] = [f"-Dlog4j2.configurationFile={log_config}"]
        return ["sh", "-c", f'{format_storage} >/dev/null && exec "$@"', "kafka", *node]

    def ready(self, place: BrokerPlace) -> bool:
        return _answers_api_versions(place.host, place.port(PLAINTEXT))

    def prepare(self, place: BrokerPlace, topics: list[str]) -> None:
        return None  # each topic is created when daprd first publishes or subscribes to it

    def component_metadata(self, place: BrokerPlace, component: str) -> dict[str, str]:
        return {
            "brokers": f"{place.host}:{place.dialled(PLAINTEXT)}",
            "authType": "none",
            "consumerGroup": f"{{appID}}-{component}",
            "clientID": f"{{appID}}-{component}",
            # a subscription that joins after a publish still gets it (Redis reads from 0)
            "initialOffset": "oldest",
            # the protocol versions of the node (the component's default speaks Kafka 2.0)
            "version": _jars().DEFAULT_VERSION,
        }

    def messages(self, place: BrokerPlace, topic: str) -> int:
        argv = java_argv(
            "java",
            "org.apache.kafka.tools.GetOffsetShell",
            "--bootstrap-server", f"{place.host}:{place.port(PLAINTEXT)}",
            "--topic", topic,
        )  # fmt: skip
        answer = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        if NO_SUCH_TOPIC in answer.stderr:
            return 0  # nobody published or subscribed to it yet
        if answer.returncode != 0:
            raise HarnessError(f"kafka: GetOffsetShell failed: {answer.stderr.strip()[-300:]}")
        return sum_end_offsets(answer.stdout, topic)

    def fault_metadata(self, redeliver_after_ms: int) -> dict[str, str]:
        return {}  # Kafka redelivers from the committed offset when a consumer rejoins


def sum_end_offsets(output: str, topic: str) -> int:
    """The end offsets of GetOffsetShell's `topic:partition:offset` lines, summed."""
    total = 0
    for line in output.splitlines():
        name, _, offset = line.strip().rpartition(":")
        if name.rpartition(":")[0] == topic and offset.isdigit():
            total += int(offset)
    return total


def _answers_api_versions(host: str, port: int) -> bool:
    """True when the node answers an ApiVersions request (v0), as it does once serving."""
    client = b"dapr-pubsub-suite"
    request = struct.pack(">hhih", API_VERSIONS, 0, 1, len(client)) + client
    try:
        with socket.create_connection((host, port), timeout=1.0) as conn:
            conn.sendall(struct.pack(">i", len(request)) + request)
            header = conn.recv(10)
    except OSError:
        return False
    # size, correlation id 1, error code 0
    return len(header) >= 10 and struct.unpack(">iih", header[:10])[1:] == (1, 0)
