"""NATS with JetStream (Debian's nats-server), behind Dapr's pubsub.jetstream component.

Dapr's component subscribes through a consumer on a stream that must already hold the
topic's subject, so the harness creates one file-backed stream per topic before daprd
starts. One stream per topic because the component gives every subscription the same
durable name, and durable names are unique only within a stream.
"""

from __future__ import annotations

import asyncio
import json

from harness.brokers.base import BrokerPlace

CLIENT, MONITOR = 0, 1


def _monitor_url(place: BrokerPlace, path: str) -> str:
    return f"http://{place.host}:{place.port(MONITOR)}{path}"


def stream_name(topic: str) -> str:
    """JetStream stream names may not hold '.', '*', '>' or spaces; topics here never do."""
    return f"topic-{topic}"


class Nats:
    name: str = "nats"
    component_type: str = "pubsub.jetstream"
    component_version: str = "v1"
    command: str = "nats-server"
    port_names: tuple[str, ...] = ("nats", "nats monitor")
    client_port: int = CLIENT
    ready_seconds: float = 30.0

    def argv(self, binary: str, place: BrokerPlace) -> list[str]:
        config = place.data_dir / "nats.conf"
        place.data_dir.mkdir(parents=True, exist_ok=True)
        store = place.data_dir / "jetstream"
        config.write_text(
            f"listen: {place.host}:{place.port(CLIENT)}\n"
            f"http: {place.host}:{place.port(MONITOR)}\n"
            f"jetstream {{ store_dir: {json.dumps(str(store))} }}\n"
        )
        return [binary, "--config", str(config)]

    def ready(self, place: BrokerPlace) -> bool:
        import httpx  # here: the installers import this on the stdlib

        url = _monitor_url(place, "/healthz?js-enabled-only=true")
        return httpx.get(url, timeout=1.0, trust_env=False).status_code == 200

    def prepare(self, place: BrokerPlace, topics: list[str]) -> None:
        url = f"nats://{place.host}:{place.port(CLIENT)}"
        asyncio.run(_create_streams(url, topics, on_file=place.persistent))

    def component_metadata(self, place: BrokerPlace, component: str) -> dict[str, str]:
        return {
            "natsURL": f"nats://{place.host}:{place.dialled(CLIENT)}",
            "name": f"{{appID}}-{component}",
            "durableName": f"{{appID}}-{component}",
            "deliverPolicy": "all",
            # The component handles one message at a time unless told otherwise; bulk and
            # TTL batches would then fill one message per window (Redis runs 10 workers)
            "concurrencyMode": "parallel",
        }

    def messages(self, place: BrokerPlace, topic: str) -> int:
        import httpx

        url = _monitor_url(place, "/jsz?streams=true")
        answer = httpx.get(url, timeout=2.0, trust_env=False).json()
        for account in answer.get("account_details") or []:
            for stream in account.get("stream_detail") or []:
                if stream.get("name") == stream_name(topic):
                    return int(stream["state"]["messages"])
        return 0

    def fault_metadata(self, redeliver_after_ms: int) -> dict[str, str]:
        # the consumer's AckWait (the server's default is 30 s); 0 keeps the default
        return {"ackWait": f"{redeliver_after_ms}ms"} if redeliver_after_ms else {}


async def _create_streams(url: str, topics: list[str], on_file: bool = True) -> None:
    """One stream per topic, in the file store (kept across a restart) or in memory."""
    import nats  # imported here: only a NATS stack needs the client
    from nats.js.api import StorageType

    storage = StorageType.FILE if on_file else StorageType.MEMORY
    client = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)
    try:
        jetstream = client.jetstream()
        for topic in topics:
            await jetstream.add_stream(name=stream_name(topic), subjects=[topic], storage=storage)
    finally:
        await client.close()
