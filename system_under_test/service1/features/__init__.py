"""Topics on the `featurebus` component, one Dapr pub/sub feature each, beside the tutorial's t1/t2.

Each feature lives in its own module; service-1's app only registers `routes`,
`subscriptions()` and `lifespan_tasks` from here.
"""

from __future__ import annotations

from typing import Any

from system_under_test.service1.features import (
    answers,
    bulk,
    declared,
    publishing,
    raw,
    receiving,
    routing,
    scopes,
    streaming,
    ttl,
)

routes = [
    *publishing.routes,
    *receiving.routes,
    *routing.routes,
    *bulk.routes,
    *raw.routes,
    *ttl.routes,
    *declared.routes,
    *scopes.routes,
    *answers.routes,
    *streaming.routes,
]


def subscriptions() -> list[dict[str, Any]]:
    """The programmatic subscriptions of the feature topics (declared.py's is a resource)."""
    return [
        *routing.subscriptions(),
        *bulk.subscriptions(),
        *raw.subscriptions(),
        *ttl.subscriptions(),
        *scopes.subscriptions(),
        *answers.subscriptions(),
        *receiving.subscriptions(),
    ]
