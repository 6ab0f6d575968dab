"""Delivery and invocation: what service-1 publishes arrives once, on its route, and t1
events reach service-2 exactly once with the answer kept in the state store."""

from __future__ import annotations

from collections import Counter

import pytest

from harness.client import SuiteClient
from harness.ledger import Records, new_run_id
from harness.verdict import delivery_verdict

pytestmark = pytest.mark.e2e
MESSAGES = 20


def answered(topic: str, count: int):
    def done(records: Records) -> bool:
        final = [r for r in records if r["topic"] == topic and r["answers"] and r["handled_at"]]
        return len(final) >= count

    return done


def publish_run(suite: SuiteClient, topic: str, count: int, prefix: str) -> tuple[str, list]:
    run = new_run_id(prefix)
    answers = [suite.publish_ok(topic, run, seq) for seq in range(1, count + 1)]
    return run, answers


def test_t1_messages_arrive_once_on_their_route(suite, scoreboard):
    run, _ = publish_run(suite, "t1", MESSAGES, "t1")
    records = suite.ledger.wait_for(run, answered("t1", MESSAGES))
    verdict = delivery_verdict("t1", range(1, MESSAGES + 1), records)
    scoreboard.verdict("t1 delivery", verdict)
    assert verdict.ok, str(verdict)
    assert not verdict.duplicated, str(verdict)
    assert {(r["topic"], r["route"]) for r in records} == {("t1", "/t1")}
    assert all(r["answers"] == ["SUCCESS"] for r in records)


def test_each_t1_event_invokes_service2_once_and_stores_its_answer(suite):
    run, _ = publish_run(suite, "t1", MESSAGES, "invoke")
    suite.ledger.wait_for(run, answered("t1", MESSAGES))
    calls = Counter(r["seq"] for r in suite.received_by_service2(run))
    assert calls == Counter(range(1, MESSAGES + 1)), f"service-2 calls per seq: {dict(calls)}"
    stored = suite.state()
    assert stored["message"] == "received"
    assert stored["run"] == run and stored["seq"] in range(1, MESSAGES + 1), stored


def test_cloudevent_envelope_and_trace_as_the_subscriber_saw_them(suite):
    run, (published,) = publish_run(suite, "t1", 1, "envelope")
    (record,) = suite.ledger.wait_for(run, answered("t1", 1))
    assert record["id"], "the CloudEvent has no id"
    assert record["envelope"] == {
        "source": "service-1",
        "type": "com.dapr.event.sent",
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "topic": "t1",
        "pubsubname": "messagebus",
    }
    trace_id = published["traceparent"].split("-")[1]
    (invocation,) = suite.received_by_service2(run)
    assert record["traceparent"].split("-")[1] == trace_id, "delivery left the publish trace"
    assert invocation["traceparent"].split("-")[1] == trace_id, "invocation left the trace"
