"""RabbitMQ (Debian's rabbitmq-server), behind Dapr's pubsub.rabbitmq component.

The node runs as its own process group with its own epmd, both on loopback: epmd is
started by the same shell that then becomes the node, so stopping the group stops both
(a node left to start epmd itself would leave it running). Dapr publishes each topic to
a fanout exchange of that name; the management API's count of what the exchange took is
the broker's own count.
"""

from __future__ import annotations

from harness.brokers.base import BrokerPlace

AMQP, MANAGEMENT, EPMD, DISTRIBUTION = 0, 1, 2, 3
SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"  # the Debian wrapper would switch user
GUEST = ("guest", "guest")  # RabbitMQ lets guest in from loopback only


def _api(place: BrokerPlace, path: str) -> str:
    return f"http://{place.host}:{place.port(MANAGEMENT)}/api{path}"


class RabbitMq:
    name: str = "rabbitmq"
    component_type: str = "pubsub.rabbitmq"
    component_version: str = "v1"
    command: str = "rabbitmq-server"
    port_names: tuple[str, ...] = (
        "rabbitmq amqp",
        "rabbitmq management",
        "rabbitmq epmd",
        "rabbitmq distribution",
    )
    client_port: int = AMQP
    ready_seconds: float = 120.0

    def argv(self, binary: str, place: BrokerPlace) -> list[str]:
        data = place.data_dir
        (data / "home").mkdir(parents=True, exist_ok=True)
        (data / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = {place.host}:{place.port(AMQP)}\n"
            f"management.tcp.ip = {place.host}\n"
            f"management.tcp.port = {place.port(MANAGEMENT)}\n"
            "collect_statistics_interval = 1000\n"
        )
        (data / "enabled_plugins").write_text("[rabbitmq_management].\n")
        env = {
            "HOME": data / "home",
            "RABBITMQ_NODENAME": "suite@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": place.host,
            "RABBITMQ_NODE_PORT": place.port(AMQP),
            "RABBITMQ_DIST_PORT": place.port(DISTRIBUTION),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_ADDRESS": place.host,
            "ERL_EPMD_PORT": place.port(EPMD),
            "RABBITMQ_MNESIA_BASE": data / "mnesia",
            "RABBITMQ_LOG_BASE": data / "log",
            "RABBITMQ_CONFIG_FILE": data / "rabbitmq",
            "RABBITMQ_ENABLED_PLUGINS_FILE": data / "enabled_plugins",
            "RABBITMQ_PLUGINS_EXPAND_DIR": data / "plugins-expand",
        }
        epmd = f"epmd -address {place.host} -port {place.port(EPMD)}"
        return [
            "env", *(f"{k}={v}" for k, v in env.items()),
            "sh", "-c", f'{epmd} & exec "$0"', SERVER,
        ]  # fmt: skip

    def ready(self, place: BrokerPlace) -> bool:
        import httpx  # here: the installers import this on the stdlib

        answer = httpx.get(_api(place, "/overview"), auth=GUEST, timeout=1.0, trust_env=False)
        return answer.status_code == 200

    def prepare(self, place: BrokerPlace, topics: list[str]) -> None:
        return None  # daprd declares each exchange and queue when it publishes or subscribes

    def component_metadata(self, place: BrokerPlace, component: str) -> dict[str, str]:
        return {
            "connectionString": f"amqp://guest:guest@{place.host}:{place.dialled(AMQP)}",
            "consumerID": f"{{appID}}-{component}",
            # durable queues and persistent messages survive a restart of the node, and a
            # publish is acknowledged only once the node has it on disk (publisher confirms)
            "durable": "true" if place.persistent else "false",
            "deliveryMode": "2" if place.persistent else "1",
            "publisherConfirm": "true" if place.persistent else "false",
            "deletedWhenUnused": "false",
            # A delivery daprd could not complete goes back to the queue (as Redis keeps it
            # pending) instead of being dropped; dead-lettering stays daprd's business.
            "requeueInFailure": "true",
        }

    def messages(self, place: BrokerPlace, topic: str) -> int:
        import httpx

        url = _api(place, f"/exchanges/%2F/{topic}")
        answer = httpx.get(url, auth=GUEST, timeout=2.0, trust_env=False)
        if answer.status_code == 404:
            return 0
        answer.raise_for_status()
        return int((answer.json().get("message_stats") or {}).get("publish_in", 0))

    def fault_metadata(self, redeliver_after_ms: int) -> dict[str, str]:
        return {}  # RabbitMQ requeues an unacknowledged delivery when its channel closes
