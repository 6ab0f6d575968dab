"""MQTT 3.1.1 (Debian's mosquitto), behind Dapr's pubsub.mqtt3 component.

Mosquitto keeps no count per topic; its `$SYS` tree counts every PUBLISH it received,
refreshed each second here, so the count for a topic is the broker's total (never less
than the topic's own).
"""

from __future__ import annotations

import threading

from harness.brokers.base import BrokerPlace
from harness.errors import HarnessError

RECEIVED = "$SYS/broker/publish/messages/received"


class Mqtt:
    name: str = "mqtt"
    component_type: str = "pubsub.mqtt3"
    component_version: str = "v1"
    command: str = "mosquitto"
    port_names: tuple[str, ...] = ("mqtt",)
    client_port: int = 0
    ready_seconds: float = 30.0

    def argv(self, binary: str, place: BrokerPlace) -> list[str]:
        place.data_dir.mkdir(parents=True, exist_ok=True)
        config = place.data_dir / "mosquitto.conf"
        config.write_text(
            f"listener {place.port(0)} {place.host}\n"
            "allow_anonymous true\n"
            f"persistence {'true' if place.persistent else 'false'}\n"
            f"persistence_location {place.data_dir}/\n"
            # mosquitto writes its store only every autosave_interval (30 min by default)
            # and on a clean stop: a crash would lose every session and queued message
            "autosave_interval 1\n"
            # started as root it switches to the `mosquitto` user, which cannot write the
            # run folder (its store then fails to save); no effect when not root
            "user root\n"
            "sys_interval 1\n"
            "max_queued_messages 0\n"  # 0: no limit, the suite counts every message
            "log_dest stdout\n"
        )
        return [binary, "-c", str(config)]

    def ready(self, place: BrokerPlace) -> bool:
        return _read_sys(place, timeout=1.0) is not None

    def prepare(self, place: BrokerPlace, topics: list[str]) -> None:
        return None  # topics exist as soon as someone publishes or subscribes

    def component_metadata(self, place: BrokerPlace, component: str) -> dict[str, str]:
        # consumerID is the MQTT client id: one per sidecar and component, or the broker
        # would drop the older connection each time the other one connects
        return {
            "url": f"tcp://{place.host}:{place.dialled(0)}",
            "consumerID": f"{{appID}}-{component}",
            "qos": "1",
            "retain": "false",
            "cleanSession": "false",
        }

    def messages(self, place: BrokerPlace, topic: str) -> int:
        value = _read_sys(place, timeout=3.0)
        if value is None:
            raise HarnessError(f"mosquitto on port {place.port(0)} did not answer {RECEIVED}")
        return value

    def fault_metadata(self, redeliver_after_ms: int) -> dict[str, str]:
        return {}  # MQTT redelivers an unacknowledged message only when its client reconnects


def _read_sys(place: BrokerPlace, timeout: float) -> int | None:
    """The broker's received-PUBLISH count, or None when it did not come within timeout."""
    # imported here: only an MQTT stack needs the client
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    got: list[int] = []
    arrived = threading.Event()

    def on_message(_client: object, _userdata: object, message: mqtt.MQTTMessage) -> None:
        got.append(int(message.payload.decode()))
        arrived.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe(RECEIVED, qos=0)
    try:
        client.connect(place.host, place.port(0), keepalive=10)
    except OSError:
        return None
    client.loop_start()
    try:
        arrived.wait(timeout)
    finally:
        client.loop_stop()
        client.disconnect()
    return got[0] if got else None
