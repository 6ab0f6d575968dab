"""Message TTL: on topic `ttl` a message whose ttlInSeconds has passed must never arrive.

Expiry is made certain rather than raced: the topic is bulk-subscribed with a 3 s batch
window, measured from the first message of a batch (Dapr's default bulk subscriber), and
daprd checks each message's expiry when the batch is handed over. A message published with
`ttl=1` has expired by then; one with `ttl=60` has not.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from system_under_test.service1.features.bulk import bulk_receiver, bulk_subscription

TOPIC = "ttl"
ROUTE = "/features/ttl"
BATCH_WINDOW_MS = 3000


def subscriptions() -> list[dict[str, Any]]:
    return [bulk_subscription(TOPIC, ROUTE, 100, BATCH_WINDOW_MS)]


routes = [Route(ROUTE, bulk_receiver(TOPIC, ROUTE), methods=["POST"])]
