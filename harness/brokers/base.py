"""What a broker behind the `messagebus` and `featurebus` components offers the local stack.

Each broker is a real server started and stopped by the harness like redis-server: its
ports pinned below 32768 (moved by HARNESS_PORT_OFFSET), its data and log in the run
directory, a readiness check, and a count of its own of what it holds or received, so a
check can prove that messages crossed this broker and not another one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

# Components that claim Dapr's message-TTL feature: daprd hands `ttlInSeconds` to the broker
# and stamps no `expiration` on the event, so daprd drops nothing that expired; the broker
# expires a message only while it waits in its own queue, so one it already handed to daprd
# arrives however late (components-contrib v1.18: pubsub/envelope.go ApplyMetadata, and the
# Features() of each component below). Every other component's TTL is daprd's own.
TTL_LEFT_TO_BROKER = frozenset(
    {
        "pubsub.rabbitmq",
        "pubsub.azure.servicebus.queues",
        "pubsub.azure.servicebus.topics",
        "pubsub.solace.amqp",
    }
)

# Components that hand a topic's messages to daprd one after the other, so that what one
# publisher sent in turn arrives in that order: Kafka's, per partition (every topic here has
# one). The others run deliveries side by side: Redis ten workers, JetStream and RabbitMQ
# their `parallel` concurrency mode, MQTT a client with OrderMatters off (components-contrib
# v1.18.4: pubsub/kafka, pubsub/redis, pubsub/jetstream, pubsub/rabbitmq, pubsub/mqtt3).
IN_PUBLISH_ORDER = frozenset({"pubsub.kafka"})


@dataclass(frozen=True)
class BrokerPlace:
    """Where a broker runs: its host, its first pinned port and its data folder; and, for
    the fault scenarios, a proxy its clients dial instead and whether it keeps its data."""

    host: str
    first_port: int
    data_dir: Path
    proxy_port: int | None = None  # clients dial this instead of the broker's client port
    persistent: bool = True  # False: the broker keeps nothing across a restart

    def port(self, index: int) -> int:
        return self.first_port + index

    def dialled(self, index: int) -> int:
        """The port clients are given for the broker's client port `index`: the proxy's
        when one stands in front of the broker (a broker has one client port)."""
        return self.proxy_port if self.proxy_port is not None else self.port(index)


class Broker(Protocol):
    name: str
    component_type: str  # the Dapr pubsub component type, e.g. "pubsub.jetstream"
    component_version: str  # the component's spec.version, "v1" for every managed broker
    command: str  # the server command the stack runs; "" when the stack's redis serves
    port_names: tuple[str, ...]  # one pinned port each, from BrokerPlace.first_port on
    client_port: int  # the index of the port daprd dials (a fault proxy stands in front)
    ready_seconds: float  # how long the server may take to start (an Erlang node is slow)

    def argv(self, binary: str, place: BrokerPlace) -> list[str]:
        """The server's command line; config files it needs are written here too."""
        ...

    def ready(self, place: BrokerPlace) -> bool:
        """True once the server takes messages."""
        ...

    def prepare(self, place: BrokerPlace, topics: list[str]) -> None:
        """What must exist before daprd subscribes (streams, say); after `ready`."""
        ...

    def component_metadata(self, place: BrokerPlace, component: str) -> dict[str, str]:
        """The pubsub component's metadata for this broker (scopes are kept apart)."""
        ...

    def messages(self, place: BrokerPlace, topic: str) -> int:
        """The broker's own count of messages it took for `topic`."""
        ...

    def fault_metadata(self, redeliver_after_ms: int) -> dict[str, str]:
        """Metadata of the fault profile's pubsub components: an unacknowledged delivery
        comes back after about `redeliver_after_ms` where the component has such a knob
        (0: never), so redelivery shows within a short run; {} where it has none."""
        ...
