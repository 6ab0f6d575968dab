"""Message TTL: a message whose ttlInSeconds passed before delivery never arrives.

The `ttl` topic is bulk-subscribed with a 3 s batch window (features/ttl.py): messages
published with ttl=1 have expired when daprd hands the batch over; ttl=60 ones arrive.
"""

from __future__ import annotations

import pytest

from e2e.feature_scenarios import TTL_EXPIRING, TTL_LASTING, expect_deltas, on_topic, started
from harness.verdict import attempts_ok, total_queue

pytestmark = pytest.mark.e2e


def test_expired_messages_never_arrive(feature_scenarios, suite, scoreboard):
    scenario = started(feature_scenarios, "ttl")
    assert scenario.seqs("ttl") == TTL_EXPIRING | TTL_LASTING, "a ttl publish was refused"
    # Expired and lasting messages are judged in the same batch: once the lasting ones
    # are in, an expired one that was going to arrive has arrived too.
    records = suite.ledger.wait_for(
        scenario.run, lambda rs: len(on_topic(rs, "ttl")) >= len(TTL_LASTING)
    )

    # Only the lasting messages are expected: an expired one arriving is "unexpected".
    verdict = total_queue(attempts_ok("ttl", TTL_LASTING), records, run=scenario.run, label="ttl")
    scoreboard.verdict("feature ttl (lasting only)", verdict)
    assert verdict.ok and not verdict.duplicated, str(verdict)
    assert not {r["seq"] for r in records} & TTL_EXPIRING, "an expired message arrived"
    expect_deltas(scenario, scoreboard)
