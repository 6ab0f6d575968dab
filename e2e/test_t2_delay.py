"""t2 with the tutorial's delay: handled after it, delivered once, not redelivered, not lost.

The message is published when the session starts (fixture `early_t2` in conftest), so the
10 s wait overlaps the other checks instead of adding to the gate's time.
"""

from __future__ import annotations

import pytest

from harness.verdict import delivery_verdict

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
MARGIN = 2.0  # seconds after handling in which a redelivery would show


def test_t2_is_handled_after_the_delay_and_delivered_once(early_t2, target, suite, scoreboard):
    run, delay = early_t2
    records = suite.ledger.wait_for(
        run, lambda rs: any(r["handled_at"] for r in rs), timeout=delay + 20
    )
    verdict = delivery_verdict("t2", [1], records)
    scoreboard.verdict(f"t2 with {delay:g} s delay", verdict)
    assert verdict.ok, str(verdict)
    (record,) = records
    waited = record["handled_at"] - record["first_received_at"]
    assert waited >= delay - 0.05, f"handled after {waited:.2f} s, configured {delay:g} s"

    records = suite.ledger.wait_for(run, lambda rs: len(rs) > 1, timeout=MARGIN)
    (record,) = records
    assert record["count"] == 1 and record["answers"] == ["SUCCESS"], record
