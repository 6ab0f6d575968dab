"""Redis Streams (the stack's own redis-server), behind Dapr's pubsub.redis component.

The stack always runs Redis for the state store; this broker adds no server of its own, and
its place's first port is the stack's Redis port.
"""

from __future__ import annotations

from harness.brokers.base import BrokerPlace


class Redis:
    name: str = "redis"
    component_type: str = "pubsub.redis"
    component_version: str = "v1"
    command: str = ""
    port_names: tuple[str, ...] = ()
    client_port: int = 0  # the stack's Redis port
    ready_seconds: float = 30.0

    def argv(self, binary: str, place: BrokerPlace) -> list[str]:
        raise NotImplementedError("the stack's redis-server is the broker")

    def ready(self, place: BrokerPlace) -> bool:
        return True

    def prepare(self, place: BrokerPlace, topics: list[str]) -> None:
        return None  # daprd creates each stream and its consumer group

    def component_metadata(self, place: BrokerPlace, component: str) -> dict[str, str]:
        return {"redisHost": f"{place.host}:{place.dialled(0)}", "redisPassword": ""}

    def messages(self, place: BrokerPlace, topic: str) -> int:
        import redis as redis_client  # here: the installers import this on the stdlib

        client = redis_client.Redis(host=place.host, port=place.first_port, socket_timeout=2)
        try:
            return int(client.xlen(topic))
        finally:
            client.close()

    def fault_metadata(self, redeliver_after_ms: int) -> dict[str, str]:
        # bare integers: milliseconds (the component ignores duration strings)
        return {"processingTimeout": str(redeliver_after_ms), "redeliverInterval": "1000"}
