"""The messages crossed the broker the run asked for (HARNESS_BROKER or the user's own
component, HARNESS_PUBSUB_COMPONENT), not another one.

daprd's own metadata must list `messagebus` with the component type of that broker, and the
broker's own count of what it took for t1 must grow by what service-1 published, so a
stack whose `messagebus` silently resolves to another component or broker fails here.
"""

from __future__ import annotations

import httpx
import pytest

from harness.brokers.own import NotCountable
from harness.client import SuiteClient
from harness.ledger import new_run_id
from harness.targets.base import Target
from harness.wait import poll

pytestmark = pytest.mark.e2e
MESSAGES = 10


def test_messagebus_is_the_component_type_of_the_selected_broker(
    target: Target, service1_daprd: str
) -> None:
    answer = httpx.get(
        f"{service1_daprd}/v1.0/metadata",
        headers=target.tokens.dapr_headers(),
        timeout=5.0,
        trust_env=False,
    )
    answer.raise_for_status()
    types = {c["name"]: c["type"] for c in answer.json().get("components") or []}
    assert types.get("messagebus") == target.pubsub_type, f"daprd's components: {types}"


def test_the_broker_counts_every_published_message(
    target: Target, service1_daprd: str, suite: SuiteClient
) -> None:
    try:
        before = target.broker_messages("t1")
    except NotCountable as exc:  # a user's own component on a broker the suite cannot ask
        pytest.skip(str(exc))
    run = new_run_id("broker")
    for seq in range(1, MESSAGES + 1):
        suite.publish_ok("t1", run, seq)
    after = poll(
        lambda: target.broker_messages("t1"),
        lambda count: count - before >= MESSAGES,
        timeout=10.0,
        interval=0.5,
        on_timeout="return",
    )
    assert after - before >= MESSAGES, (
        f"{target.pubsub_type}: the broker counted {after - before} new messages on t1 "
        f"for {MESSAGES} published"
    )
