"""The feature topics' scenarios, started together as the e2e session begins.

Each scenario reads its Dapr counters' baselines, then publishes through service-1's
`/features/...` API; the checks in `test_features_*.py` judge it later. Starting them all at
once lets their waits (a 3 s TTL batch window, retries, a quiet period) pass while the rest
of the gate runs, so they add about a second to it instead of each adding its own wait.
Every scenario has its own topics and run id, so their counters and records never mix.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from harness.client import SuiteClient
from harness.ledger import new_run_id
from harness.metrics import Counter, DeltaCheck, PrometheusMetrics
from harness.verdict import Attempt, Outcome, total_queue
from harness.wait import poll

APP = "service-1"
PUBSUB = "featurebus"


@dataclass
class Scenario:
    """What one scenario published and the counters it expects to move."""

    name: str
    run: str
    attempts: list[Attempt] = field(default_factory=list)
    check: DeltaCheck | None = None
    deltas: dict[str, float] = field(default_factory=dict)
    responses: dict[int, httpx.Response] = field(default_factory=dict)  # seq -> publish call
    started_at: float = field(default_factory=time.monotonic)
    error: str = ""  # why the scenario could not be started, if it could not

    def seqs(self, topic: str | None = None, outcome: Outcome | None = None) -> set[int]:
        return {
            a.seq
            for a in self.attempts
            if (topic is None or a.topic == topic) and (outcome is None or a.outcome is outcome)
        }


def egress(topic: str, success: str = "true") -> Counter:
    labels = {"app_id": APP, "component": PUBSUB, "topic": topic, "success": success}
    return Counter(
        f"egress {topic} success={success}", "dapr_component_pubsub_egress_count", labels
    )


def ingress(topic: str, process_status: str = "success", status: str | None = None) -> Counter:
    labels = {"app_id": APP, "component": PUBSUB, "topic": topic, "process_status": process_status}
    labels["status"] = status or process_status
    name = f"ingress {topic} {process_status}/{labels['status']}"
    return Counter(name, "dapr_component_pubsub_ingress_count", labels)


def bulk_egress_calls(topic: str) -> Counter:
    labels = {"app_id": APP, "component": PUBSUB, "topic": topic, "success": "true"}
    return Counter(f"bulk egress calls {topic}", "dapr_component_pubsub_egress_bulk_count", labels)


def bulk_ingress_calls(topic: str) -> Counter:
    # 1.18.3 labels the bulk ingress series component="pubsubName" (a constant, not the
    # component's name), so these counters are picked by app and topic only.
    labels = {"app_id": APP, "topic": topic}
    return Counter(
        f"bulk ingress calls {topic}", "dapr_component_pubsub_ingress_bulk_count", labels
    )


def bulk_ingress_statuses(topic: str, status: str) -> Counter:
    """One count per bulk call that had entries with `status` (a count, not a sum: 1.18.3)."""
    labels = {"app_id": APP, "topic": topic, "process_status": status}
    return Counter(
        f"bulk ingress {status} {topic}", "dapr_component_pubsub_ingress_bulk_event_count", labels
    )


def publish_api_calls(topic: str, status: str) -> Counter:
    labels = {"app_id": APP, "path": f"/v1.0/publish/{PUBSUB}/{topic}", "status": status}
    return Counter(f"publish API {topic} {status}", "dapr_http_server_request_count", labels)


class FeatureClient:
    """service-1's `/features/publish` API, recording each publish as an Attempt."""

    def __init__(self, suite: SuiteClient, scenario: Scenario) -> None:
        self.http = suite.service1
        self.scenario = scenario

    def publish(self, topic: str, seq: int, params: dict[str, str] | None = None, **fields: Any):
        body = {"run": self.scenario.run, "seq": seq, "sent_at": time.time(), **fields}
        response = self.http.post(f"/features/publish/{topic}", params=params or {}, json=body)
        self._note(topic, seq, response)
        return response

    def publish_bulk(self, topic: str, messages: dict[int, dict[str, Any]]) -> httpx.Response:
        bodies = [
            {"run": self.scenario.run, "seq": seq, "sent_at": time.time(), **fields}
            for seq, fields in messages.items()
        ]
        response = self.http.post(f"/features/publish-bulk/{topic}", json={"messages": bodies})
        failed = {int(e["entryId"]) for e in response.json().get("failedEntries") or []}
        for index, seq in enumerate(messages):
            ok = response.status_code == 200 and index not in failed
            self.scenario.attempts.append(Attempt(seq, topic, Outcome.OK if ok else Outcome.FAILED))
            self.scenario.responses[seq] = response
        return response

    def _note(self, topic: str, seq: int, response: httpx.Response) -> None:
        outcome = Outcome.OK if response.status_code == 200 else Outcome.FAILED
        self.scenario.attempts.append(Attempt(seq, topic, outcome))
        self.scenario.responses[seq] = response


Starter = Callable[[FeatureClient], None]


@dataclass(frozen=True)
class Plan:
    """A scenario before it runs: its counters with their expected deltas, and its publishes."""

    name: str
    deltas: list[tuple[Counter, float]]
    publish: Starter


# --- the scenarios ------------------------------------------------------------------------

ROUTED_TYPES = {"order.created": "/features/routed/created",
                "order.cancelled": "/features/routed/cancelled",
                "order.shipped": "/features/routed/other"}  # fmt: skip
PER_TYPE = 4


def routed_seq(kind_index: int, n: int) -> int:
    return 100 * (kind_index + 1) + n


def publish_routed(client: FeatureClient) -> None:
    for index, kind in enumerate(ROUTED_TYPES):
        for n in range(1, PER_TYPE + 1):
            client.publish("routed", routed_seq(index, n), {"type": kind})


BULK_SIZE = 8  # the subscription's maxMessagesCount: one bulk call carries them all
BULK_DROPPED = {3, 6}


def publish_bulk(client: FeatureClient) -> None:
    drop = {"control": {"answer": "DROP"}}
    client.publish_bulk(
        "bulk", {seq: (drop if seq in BULK_DROPPED else {}) for seq in range(1, BULK_SIZE + 1)}
    )


RAW_MESSAGES = 5


def publish_raw(client: FeatureClient) -> None:
    for seq in range(1, RAW_MESSAGES + 1):
        client.publish("raw", seq, {"raw": "true"})


TTL_EXPIRING = {1, 2}  # ttl 1 s, held 3 s in the batch window: expired on hand-over
TTL_LASTING = {3, 4}  # ttl 60 s


def publish_ttl(client: FeatureClient) -> None:
    for seq in sorted(TTL_EXPIRING):
        client.publish("ttl", seq, {"ttl": "1"})
    for seq in sorted(TTL_LASTING):
        client.publish("ttl", seq, {"ttl": "60"})


DECLARED_MESSAGES = 5


def publish_declared(client: FeatureClient) -> None:
    for seq in range(1, DECLARED_MESSAGES + 1):
        client.publish("declared", seq)


STREAMED_MESSAGES = 5
STREAM_OPEN_TIMEOUT = 15.0


def stream_open(http: httpx.Client) -> bool:
    def is_open() -> bool:
        return bool(http.get("/features/streaming").json()["open"])

    return poll(is_open, timeout=STREAM_OPEN_TIMEOUT, interval=0.2, on_timeout="return")


def publish_streamed(client: FeatureClient) -> None:
    # Published even if the stream never opened: the check then reports them lost.
    stream_open(client.http)
    for seq in range(1, STREAMED_MESSAGES + 1):
        client.publish("streamed", seq)


FORBIDDEN_SEQ = 1
UNSUBSCRIBED = {2, 3}


def publish_scoped(client: FeatureClient) -> None:
    client.publish("forbidden", FORBIDDEN_SEQ)
    for seq in sorted(UNSUBSCRIBED):
        client.publish("unsubscribed", seq)


REPLIES = {1: "empty-json", 2: "unknown-status", 3: "not-json"}
ATTEMPTS = 1 + 3  # first delivery plus the Resiliency policy's maxRetries


def publish_answers(client: FeatureClient) -> None:
    for seq, reply in REPLIES.items():
        client.publish("answers", seq, control={"reply": reply})


PLANS = [
    Plan("routing", [(egress("routed"), 3 * PER_TYPE), (ingress("routed"), 3 * PER_TYPE)],
         publish_routed),
    Plan("bulk", [(bulk_egress_calls("bulk"), 1), (bulk_ingress_calls("bulk"), 1),
                  (bulk_ingress_statuses("bulk", "SUCCESS"), 1),
                  (bulk_ingress_statuses("bulk", "DROP"), 1),
                  (ingress("bulk-dead-letter"), len(BULK_DROPPED))], publish_bulk),
    Plan("raw", [(egress("raw"), RAW_MESSAGES), (ingress("raw"), RAW_MESSAGES)], publish_raw),
    Plan("ttl", [(egress("ttl"), 4), (bulk_ingress_calls("ttl"), 1),
                 (bulk_ingress_statuses("ttl", "SUCCESS"), 1),
                 (bulk_ingress_statuses("ttl", "DROP"), 1)], publish_ttl),
    Plan("declared", [(egress("declared"), DECLARED_MESSAGES),
                      (ingress("declared"), DECLARED_MESSAGES)], publish_declared),
    Plan("streaming", [(egress("streamed"), STREAMED_MESSAGES),
                       (ingress("streamed"), STREAMED_MESSAGES)], publish_streamed),
    Plan("scopes", [(egress("forbidden", "false"), 1), (publish_api_calls("forbidden", "403"), 1),
                    (egress("unsubscribed"), len(UNSUBSCRIBED)), (ingress("unsubscribed"), 0),
                    (ingress("unsubscribed", "retry"), 0)], publish_scoped),
    Plan("answers", [(ingress("answers"), 2), (ingress("answers", "retry"), ATTEMPTS),
                     (ingress("answers", "drop"), 1), (ingress("answers-dead-letter"), 1)],
         publish_answers),
]  # fmt: skip


def start_all(suite: SuiteClient, target: Any, metrics: PrometheusMetrics) -> dict[str, Scenario]:
    """Read every scenario's baselines, then publish them all.

    A scenario that cannot start keeps the reason in `error`: its own check fails with it,
    the rest of the gate is not held up.
    """
    scenarios = {plan.name: Scenario(plan.name, new_run_id(f"f-{plan.name}")) for plan in PLANS}
    everything = [counter for plan in PLANS for counter, _ in plan.deltas]
    try:
        everyone = DeltaCheck(target, metrics, everything)
    except Exception as exc:  # noqa: BLE001 - each scenario's check reports it
        for scenario in scenarios.values():
            scenario.error = f"reading the metric baselines failed: {exc}"
        return scenarios
    for plan in PLANS:
        scenario = scenarios[plan.name]
        scenario.check = everyone.only([counter for counter, _ in plan.deltas])
        scenario.deltas = {counter.name: delta for counter, delta in plan.deltas}
    for plan in PLANS:
        scenario = scenarios[plan.name]
        scenario.started_at = time.monotonic()
        try:
            plan.publish(FeatureClient(suite, scenario))
        except Exception as exc:  # noqa: BLE001 - the scenario's own check reports it
            scenario.error = scenario.error or f"publishing failed: {exc!r}"
    return scenarios


# --- judging ------------------------------------------------------------------------------


def started(scenarios: dict[str, Scenario], name: str) -> Scenario:
    scenario = scenarios[name]
    if scenario.error:
        raise AssertionError(f"scenario {name} did not start: {scenario.error}")
    return scenario


def expect_deltas(scenario: Scenario, scoreboard: Any) -> None:
    assert scenario.check is not None
    scoreboard.deltas_seen(f"feature {scenario.name}", scenario.check.expect(scenario.deltas))


def quiet_until(scenario: Scenario, seconds: float) -> None:
    """Let at least `seconds` pass since the scenario published (for 'nothing arrives')."""
    time.sleep(max(0.0, scenario.started_at + seconds - time.monotonic()))


def on_topic(records: list[dict[str, Any]], topic: str) -> list[dict[str, Any]]:
    return [r for r in records if r["topic"] == topic]


def delivered_once(
    scenario: Scenario, suite: SuiteClient, scoreboard: Any, topic: str, count: int, row: str
) -> list[dict[str, Any]]:
    """Wait for `count` arrivals on `topic`; judge them: nothing lost, nothing duplicated."""
    records = suite.ledger.wait_for(scenario.run, lambda rs: len(on_topic(rs, topic)) >= count)
    verdict = total_queue(scenario.attempts, records, run=scenario.run, label=topic)
    scoreboard.verdict(row, verdict)
    assert verdict.ok and not verdict.duplicated, str(verdict)
    return records
