"""Subscription profiles: how service-1's deliveries are protected in a run.

`standard` (the default) is what the suite always ran: every subscription has a dead-letter
topic and the Resiliency policy retries failed deliveries. `plain` has neither, the setup in
which Redis' acknowledgement of failed deliveries changed in Dapr 1.17 (a failed delivery
lost on one release, redelivered after `processingTimeout` on an older one). The plain
profile shortens `processingTimeout` so that such a redelivery shows within a check.
Chosen with HARNESS_SUBSCRIPTION_PROFILE.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STANDARD = "standard"
PLAIN = "plain"
PROFILES = (STANDARD, PLAIN)
PUBSUB = "messagebus"
# Bare integers are milliseconds for pubsub.redis; a duration string would be ignored.
PLAIN_PROCESSING_TIMEOUT_MS = 3000
PLAIN_REDELIVER_INTERVAL_MS = 1000


def service1_env(profile: str) -> dict[str, str]:
    """What service-1 is told: whether its subscriptions name a dead-letter topic."""
    return {"DEAD_LETTER_TOPICS": "off" if profile == PLAIN else "on"}


def keeps_resource(resource: Mapping[str, Any], profile: str) -> bool:
    """The plain profile runs without the Resiliency policy."""
    return not (profile == PLAIN and resource.get("kind") == "Resiliency")


def redelivery_metadata(resource: Mapping[str, Any], profile: str) -> dict[str, str]:
    """The metadata the profile sets on `messagebus` (none for the standard profile)."""
    is_messagebus = resource.get("kind") == "Component" and (
        resource.get("metadata", {}).get("name") == PUBSUB
    )
    if profile != PLAIN or not is_messagebus:
        return {}
    return {
        "processingTimeout": str(PLAIN_PROCESSING_TIMEOUT_MS),
        "redeliverInterval": str(PLAIN_REDELIVER_INTERVAL_MS),
    }
