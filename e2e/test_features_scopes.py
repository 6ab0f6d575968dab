"""Publishing and subscription scopes on featurebus (resources/featurebus.yaml).

A publish to a topic outside service-1's publishing scopes is refused with 403
ERR_PUBSUB_FORBIDDEN and delivered nowhere; a topic outside its subscription scopes is
published but never subscribed, although service-1's /dapr/subscribe asks for it.
"""

from __future__ import annotations

import pytest

from e2e.feature_scenarios import FORBIDDEN_SEQ, UNSUBSCRIBED, expect_deltas, quiet_until, started
from harness.verdict import Outcome, total_queue

pytestmark = pytest.mark.e2e
QUIET_SECONDS = 2.0  # deliveries on featurebus take milliseconds here


def test_scopes_refuse_the_publish_and_withhold_the_subscription(
    feature_scenarios, suite, scoreboard
):
    scenario = started(feature_scenarios, "scopes")
    refused = scenario.responses[FORBIDDEN_SEQ]
    assert refused.status_code == 403, refused.text  # service-1 passes daprd's refusal on
    assert (refused.json()["daprd_status"], refused.json()["errorCode"]) == (
        403,
        "ERR_PUBSUB_FORBIDDEN",
    ), refused.text
    assert scenario.seqs(outcome=Outcome.OK) == UNSUBSCRIBED

    quiet_until(scenario, QUIET_SECONDS)
    records = suite.ledger.records(scenario.run)
    verdict = total_queue(scenario.attempts, records, run=scenario.run, label="scoped")
    scoreboard.verdict("feature scopes (nothing delivered)", verdict)
    assert records == [], f"delivered despite the scopes: {records}"
    assert verdict.lost == UNSUBSCRIBED and not verdict.recovered, str(verdict)
    expect_deltas(scenario, scoreboard)
