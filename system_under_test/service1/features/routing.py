"""Content-based routing: topic `routed` goes to a route chosen by the CloudEvent type.

Two rules match on `event.type`; everything else takes the default route.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from system_under_test.service1.features.receiving import PUBSUB, receiver

TOPIC = "routed"
RULES = {
    "order.created": "/features/routed/created",
    "order.cancelled": "/features/routed/cancelled",
}
DEFAULT_ROUTE = "/features/routed/other"


def subscriptions() -> list[dict[str, Any]]:
    rules = [{"match": f'event.type == "{kind}"', "path": path} for kind, path in RULES.items()]
    return [
        {
            "pubsubname": PUBSUB,
            "topic": TOPIC,
            "routes": {"rules": rules, "default": DEFAULT_ROUTE},
        }
    ]


routes = [
    Route(path, receiver(TOPIC, path), methods=["POST"])
    for path in (*RULES.values(), DEFAULT_ROUTE)
]
