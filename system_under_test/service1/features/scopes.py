"""Publishing and subscription scopes of `featurebus` (see resources/featurebus.yaml).

service-1 may not publish to `forbidden` (daprd answers 403). It may publish to
`unsubscribed`, and asks for it in /dapr/subscribe, but the subscription scopes leave it
out: daprd must not subscribe, so nothing published there ever reaches this route.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from system_under_test.service1.features.receiving import PUBSUB, receiver

FORBIDDEN_TOPIC = "forbidden"
UNSUBSCRIBED_TOPIC = "unsubscribed"
ROUTE = "/features/unsubscribed"


def subscriptions() -> list[dict[str, Any]]:
    return [{"pubsubname": PUBSUB, "topic": UNSUBSCRIBED_TOPIC, "route": ROUTE}]


routes = [Route(ROUTE, receiver(UNSUBSCRIBED_TOPIC, ROUTE), methods=["POST"])]
