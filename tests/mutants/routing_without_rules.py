"""service-1 whose `routed` subscription lost its rules: every event takes the default route."""

from system_under_test.service1 import app as service1
from system_under_test.service1.features import routing


def subscriptions_without_rules():
    (subscription,) = routing_subscriptions()
    subscription["routes"] = {"default": routing.DEFAULT_ROUTE}
    return [subscription]


routing_subscriptions = routing.subscriptions
routing.subscriptions = subscriptions_without_rules
app = service1.create_app()
