"""Topic `declared`: subscribed by a declarative Subscription resource, not by /dapr/subscribe.

The resource is system_under_test/resources/subscription-declared.yaml (on k3d:
k3d/manifests/23-dapr-subscriptions.yaml); service-1 only serves its route.
"""

from __future__ import annotations

from starlette.routing import Route

from system_under_test.service1.features.receiving import receiver

TOPIC = "declared"
ROUTE = "/features/declared"

routes = [Route(ROUTE, receiver(TOPIC, ROUTE), methods=["POST"])]
