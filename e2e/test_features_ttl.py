"""Message TTL: a message whose ttlInSeconds passed before delivery never arrives, where
daprd keeps the TTL.

The `ttl` topic is bulk-subscribed with a 3 s batch window (features/ttl.py): messages
published with ttl=1 have expired when daprd hands the batch over; ttl=60 ones arrive.
A component that claims the TTL feature (RabbitMQ's) leaves expiry to its broker, which
expires only what still waits in its queue: the idle subscriber takes the ttl=1 messages at
once, so they arrive too (docs/delivery-semantics.md, Brokers).
"""

from __future__ import annotations

import pytest

from e2e.feature_scenarios import (
    TTL_EXPIRING,
    TTL_LASTING,
    bulk_ingress_statuses,
    expect_deltas,
    on_topic,
    started,
)
from harness.brokers.base import TTL_LEFT_TO_BROKER
from harness.targets.base import Target
from harness.verdict import attempts_ok, total_queue

pytestmark = pytest.mark.e2e


def test_expired_messages_never_arrive_where_daprd_keeps_the_ttl(
    feature_scenarios, suite, scoreboard, target: Target
):
    scenario = started(feature_scenarios, "ttl")
    assert scenario.seqs("ttl") == TTL_EXPIRING | TTL_LASTING, "a ttl publish was refused"
    broker_keeps_ttl = target.pubsub_type in TTL_LEFT_TO_BROKER
    expected = TTL_EXPIRING | TTL_LASTING if broker_keeps_ttl else TTL_LASTING
    # Expired and lasting messages are judged in the same batch: once the expected ones
    # are in, an expired one that was going to arrive has arrived too.
    records = suite.ledger.wait_for(
        scenario.run, lambda rs: len(on_topic(rs, "ttl")) >= len(expected)
    )

    # Only the expected messages: an expired one arriving where daprd drops it is "unexpected".
    label = "expired too (the broker's TTL)" if broker_keeps_ttl else "lasting only"
    verdict = total_queue(attempts_ok("ttl", expected), records, run=scenario.run, label="ttl")
    scoreboard.verdict(f"feature ttl ({label})", verdict)
    assert verdict.ok and not verdict.duplicated, str(verdict)
    if broker_keeps_ttl:  # daprd had nothing expired in its hands, so it dropped nothing
        scenario.deltas[bulk_ingress_statuses("ttl", "DROP").name] = 0
    else:
        assert not {r["seq"] for r in records} & TTL_EXPIRING, "an expired message arrived"
    expect_deltas(scenario, scoreboard)
