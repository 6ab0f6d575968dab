"""Delivery semantics of the Dapr release under test, driven by the subscriber's test control.

What Dapr 1.18.3 does with pubsub.redis, the suite's Resiliency policy (3 retries, 200 ms
apart) and a dead-letter topic on every subscription (docs/delivery-semantics.md):
- RETRY or HTTP 500: retried; delivered once the app succeeds within the retries.
- DROP or HTTP 404: not retried; sent to the dead-letter topic.
- still failing after the retries (1 + 3 attempts): sent to the dead-letter topic.
- a delivery the app cannot use: answered DROP, recorded REJECTED, dead-lettered.
Each case also has its exact change of Dapr's publish, invocation and ingress metrics.

With the plain subscription profile (no dead-letter topic, no Resiliency policy) and on
other releases (DAPR_VERSION), each case asserts what that release does; every way a
release differs from 1.18.3 is in docs/version-differences.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import httpx
import pytest

from harness.daprd import version_key
from harness.env import env_str
from harness.ledger import Records, new_run_id
from harness.metrics import Counter, DeltaCheck, ingress_counter, scenario_counters
from harness.settings import DEFAULT_DAPR_VERSION
from harness.subscription_profile import PLAIN, PLAIN_PROCESSING_TIMEOUT_MS, STANDARD
from harness.verdict import delivery_verdict

pytestmark = pytest.mark.e2e

ATTEMPTS = 1 + 3  # first delivery plus the Resiliency policy's maxRetries


@dataclass(frozen=True)
class Case:
    name: str
    control: dict
    answers: list[str]  # what service-1's ledger shows on t1, in order
    dead_lettered: bool
    ingress: dict[tuple[str, str], int]  # (process_status, status) -> delta on t1


CASES = [
    Case("RETRY then success", {"answer": "RETRY", "times": 2},
         ["RETRY", "RETRY", "SUCCESS"], False, {("retry", "retry"): 2, ("success", "success"): 1}),
    Case("500 then success", {"answer": "500", "times": 2},
         ["500", "500", "SUCCESS"], False, {("retry", "retry"): 2, ("success", "success"): 1}),
    Case("DROP", {"answer": "DROP", "times": 1},
         ["DROP"], True, {("drop", "success"): 1}),
    Case("404", {"answer": "404", "times": 1},
         ["404"], True, {("drop", "drop"): 1}),
    Case("RETRY exhausted", {"answer": "RETRY", "times": 10},
         ["RETRY"] * ATTEMPTS, True, {("retry", "retry"): ATTEMPTS, ("drop", "drop"): 1}),
    Case("500 exhausted", {"answer": "500", "times": 10},
         ["500"] * ATTEMPTS, True, {("retry", "retry"): ATTEMPTS, ("drop", "drop"): 1}),
    Case("unusable delivery", {"answer": "MAYBE", "times": 1},
         ["REJECTED"], True, {("drop", "success"): 1}),
]  # fmt: skip


# Plain subscriptions on Dapr 1.17 and later: Redis acknowledges a failed delivery, so it
# is never seen again; nothing is dead-lettered (there is no dead-letter topic). daprd
# 1.18.3 counts that one failed delivery twice as ingress retry (docs/delivery-semantics.md).
PLAIN_ACKED = [
    Case("RETRY then success", {"answer": "RETRY", "times": 2},
         ["RETRY"], False, {("retry", "retry"): 2}),
    Case("500 then success", {"answer": "500", "times": 2},
         ["500"], False, {("retry", "retry"): 2}),
    Case("DROP", {"answer": "DROP", "times": 1}, ["DROP"], False, {("drop", "success"): 1}),
    Case("404", {"answer": "404", "times": 1}, ["404"], False, {("drop", "drop"): 1}),
    Case("unusable delivery", {"answer": "MAYBE", "times": 1},
         ["REJECTED"], False, {("drop", "success"): 1}),
]  # fmt: skip
# Plain subscriptions before 1.17: a failed delivery stays pending in Redis and comes back
# after processingTimeout, until the app succeeds (each failed one counted twice as well).
PLAIN_REDELIVERED = [
    Case("RETRY then success", {"answer": "RETRY", "times": 2},
         ["RETRY", "RETRY", "SUCCESS"], False, {("retry", "retry"): 4, ("success", "success"): 1}),
    Case("500 then success", {"answer": "500", "times": 2},
         ["500", "500", "SUCCESS"], False, {("retry", "retry"): 4, ("success", "success"): 1}),
    *PLAIN_ACKED[2:],
]  # fmt: skip
# Before 1.17 an HTTP 404 from the app dropped the message without the dead-letter topic.
STANDARD_BEFORE_1_17 = [
    Case("404", {"answer": "404", "times": 1}, ["404"], False, {("drop", "drop"): 1})
    if case.name == "404"
    else case
    for case in CASES
]
# The releases that changed these cases (docs/version-differences.md).
ACKS_FAILED_DELIVERIES_SINCE = (1, 17, 0)
DEAD_LETTERS_404_SINCE = (1, 17, 0)


def release_under_test() -> tuple[int, ...]:
    return version_key(env_str(os.environ, "DAPR_VERSION", DEFAULT_DAPR_VERSION))


def profile_under_test() -> str:
    return env_str(os.environ, "HARNESS_SUBSCRIPTION_PROFILE", STANDARD)


def expected_cases(profile: str, release: tuple[int, ...]) -> list[Case]:
    """What the release does with each case, under the subscription profile of the run."""
    if profile != PLAIN:
        return CASES if release >= DEAD_LETTERS_404_SINCE else STANDARD_BEFORE_1_17
    return PLAIN_ACKED if release >= ACKS_FAILED_DELIVERIES_SINCE else PLAIN_REDELIVERED


CASES_NOW = expected_cases(profile_under_test(), release_under_test())
# A plain subscription's failed delivery may come back after processingTimeout: wait that
# long (and the redeliver interval) before saying it did not.
QUIET_SECONDS = PLAIN_PROCESSING_TIMEOUT_MS / 1000 + 2.0


def counters_and_deltas(case: Case) -> tuple[list[Counter], dict[str, float]]:
    """One publish, an invocation only if the app finally succeeded, and the ingress."""
    succeeded = case.answers[-1] == "SUCCESS"
    common = scenario_counters("t1")
    deltas = {
        "publish egress": 1,
        "publish API calls": 1,
        "invocation sent": int(succeeded),
        "invocation received": int(succeeded),
    }
    ingress = {key: ingress_counter("t1", *key) for key in case.ingress}
    deltas.update({counter.name: case.ingress[key] for key, counter in ingress.items()})
    return [*common.values(), *ingress.values()], deltas


def settled(case: Case):
    def done(records: Records) -> bool:
        on_t1 = [r for r in records if r["topic"] == "t1"]
        on_dlq = [r for r in records if r["topic"] == "t1-dead-letter"]
        return (
            len(on_t1) == 1
            and len(on_t1[0]["answers"]) >= len(case.answers)
            and len(on_dlq) == int(case.dead_lettered)
        )

    return done


@pytest.mark.parametrize("case", CASES_NOW, ids=[c.name for c in CASES_NOW])
def test_delivery_semantics(case: Case, target, suite, metrics, scoreboard):
    counters, deltas = counters_and_deltas(case)
    check = DeltaCheck(target, metrics, counters)
    run = new_run_id("semantics")
    suite.publish_ok("t1", run, 1, control=case.control)

    records = suite.ledger.wait_for(run, settled(case), timeout=20)
    if profile_under_test() == PLAIN:  # nothing more comes: no redelivery pending
        records = suite.ledger.wait_for(run, lambda rs: False, timeout=QUIET_SECONDS)
    verdict = delivery_verdict("t1", [1], records)
    scoreboard.verdict(case.name, verdict)
    answers = [a for r in records if r["topic"] == "t1" for a in r["answers"]]
    scoreboard.fact(case.name, "answers", ",".join(answers))
    assert verdict.ok, str(verdict)
    # Each retry is a redelivery of the same event: the verdict counts it as a duplicate.
    assert verdict.duplicated.get(1, 1) == len(case.answers), str(verdict)
    assert bool(verdict.dead_lettered) == case.dead_lettered, str(verdict)
    (on_t1,) = [r for r in records if r["topic"] == "t1"]
    assert on_t1["answers"] == case.answers
    dead = [r for r in records if r["topic"] == "t1-dead-letter"]
    if dead:
        assert dead[0]["id"] == on_t1["id"] and dead[0]["route"] == "/dead-letter/t1"
    invoked = len(suite.received_by_service2(run))
    assert invoked == (1 if case.answers[-1] == "SUCCESS" else 0)

    scoreboard.deltas_seen(case.name, check.expect(deltas))


def test_redelivery_does_not_outrun_the_policy(suite):
    """The retries are the policy's: no more than 1 + maxRetries attempts, then silence."""
    run = new_run_id("policy")
    suite.publish_ok("t1", run, 1, control={"answer": "RETRY", "times": 100})
    exhausted = Case("", {}, ["RETRY"] * ATTEMPTS, True, {})
    suite.ledger.wait_for(run, settled(exhausted), timeout=15)
    records = suite.ledger.wait_for(run, lambda rs: False, timeout=1.5)
    (on_t1,) = [r for r in records if r["topic"] == "t1"]
    assert on_t1["count"] == ATTEMPTS, on_t1["answers"]


def test_service2_refusal_is_dropped_after_one_attempt(target, suite, service1_daprd):
    """A message service-2 refuses with 4xx can never succeed: DROP at once, no retries.

    Published straight to daprd (as an SDK user would), with a `seq` that is not a number,
    which service-1's publish API would have refused and service-2 answers with 422.
    """
    run = new_run_id("refused")
    published = httpx.post(
        f"{service1_daprd}/v1.0/publish/messagebus/t1",
        json={"messageType": "t1", "message": {"run": run, "seq": "one"}},
        headers=target.tokens.dapr_headers(),
        trust_env=False,
    )
    assert published.status_code == 204, published.text
    dropped = Case("", {}, ["DROP"], True, {})
    suite.ledger.wait_for(run, settled(dropped), timeout=15)
    records = suite.ledger.wait_for(run, lambda rs: False, timeout=1.5)  # no retry follows
    (on_t1,) = [r for r in records if r["topic"] == "t1"]
    assert (on_t1["count"], on_t1["answers"]) == (1, ["DROP"])
    (dead,) = [r for r in records if r["topic"] == "t1-dead-letter"]
    assert dead["id"] == on_t1["id"] and dead["answers"] == ["SUCCESS"]
    assert suite.received_by_service2(run) == []
