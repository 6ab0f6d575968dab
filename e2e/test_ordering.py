"""Ordering: where the component hands a topic's messages to daprd one after the other
(Kafka's, harness/brokers/base.py IN_PUBLISH_ORDER), messages one publisher sent in turn
arrive in that order. Elsewhere Dapr promises no order, and the check asserts only that each
arrived once (docs/delivery-semantics.md, Brokers).
"""

from __future__ import annotations

import pytest

from harness.brokers.base import IN_PUBLISH_ORDER
from harness.client import SuiteClient
from harness.ledger import Records, new_run_id
from harness.targets.base import Target
from harness.verdict import delivery_verdict

pytestmark = pytest.mark.e2e
MESSAGES = 30


def overtaking(seqs: list[int]) -> int:
    """How many messages arrived before one published ahead of them."""
    return sum(1 for i, seq in enumerate(seqs) if any(seq < later for later in seqs[:i]))


def test_one_publishers_messages_arrive_in_publish_order_where_the_component_keeps_it(
    suite: SuiteClient, target: Target, scoreboard
):
    run = new_run_id("order")
    for seq in range(1, MESSAGES + 1):  # one after the other: each publish answered first
        suite.publish_ok("t1", run, seq)

    def all_in(records: Records) -> bool:
        return len({r["seq"] for r in records if r["topic"] == "t1"}) >= MESSAGES

    records = suite.ledger.wait_for(run, all_in)
    verdict = delivery_verdict("t1", range(1, MESSAGES + 1), records)
    scoreboard.verdict("t1 one publisher in turn", verdict)
    assert verdict.ok and not verdict.duplicated, str(verdict)
    arrived = [r["seq"] for r in records if r["topic"] == "t1"]  # in order of first arrival
    if target.pubsub_type in IN_PUBLISH_ORDER:
        assert not overtaking(arrived), (
            f"{target.pubsub_type} keeps publish order, yet {overtaking(arrived)} of "
            f"{MESSAGES} messages overtook another: {arrived}"
        )
