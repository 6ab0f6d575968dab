"""The brokers the local stack can put behind its pubsub components (HARNESS_BROKER).

`redis` (the default) uses the stack's own redis-server; the others are Debian-packaged
servers the stack starts beside it, but Kafka, which runs from its own jars on the machine's
Java (harness/kafka_jars.py). The state store stays on Redis whatever the broker.
"""

from __future__ import annotations

from harness.brokers.base import Broker, BrokerPlace
from harness.brokers.kafka import Kafka
from harness.brokers.mqtt import Mqtt
from harness.brokers.nats import Nats
from harness.brokers.rabbitmq import RabbitMq
from harness.brokers.redis import Redis

BROKERS: dict[str, Broker] = {
    broker.name: broker for broker in (Redis(), Nats(), Mqtt(), RabbitMq(), Kafka())
}
BROKER_NAMES = tuple(BROKERS)

__all__ = ["BROKERS", "BROKER_NAMES", "Broker", "BrokerPlace"]
