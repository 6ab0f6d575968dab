"""What Dapr 1.18.3 loses, duplicates and recovers under each fault (docs/fault-semantics.md).

Each scenario runs steady open-model load (50 msgs/s, each message with run id and seq)
on a fresh faults-profile stack on the broker HARNESS_BROKER selects, injects its fault in
the middle, heals it, drains and is judged by the total-queue checker. The expectations are
what the pinned release did on that broker when run here. Where Dapr promises at-least-once
delivery, nothing acknowledged is lost; where it loses messages, the loss is exactly the one
the document explains, and Dapr's own counters account for it.
"""

from __future__ import annotations

from collections.abc import Callable
from statistics import median

import pytest

from harness.faults.runner import ScenarioResult, arrived_seqs
from harness.faults.scenarios import SLOW_EVERY, Scenario, Window, selected_broker
from harness.faults.timeline import done_times
from harness.verdict import Outcome

pytestmark = pytest.mark.faults


def acked_between(result: ScenarioResult, start: float, end: float) -> set[int]:
    """Acknowledged messages meant to be sent between `start` and `end` (run seconds)."""
    t0 = result.started_at
    return {
        c.seq
        for c in result.calls
        if c.outcome is Outcome.OK and t0 + start <= c.intended_at < t0 + end
    }


def nothing_lost(result: ScenarioResult) -> None:
    verdict = result.verdict
    assert not verdict.lost, f"Dapr promises at-least-once delivery here: {verdict}"
    assert result.recovery.seconds_to_recover is not None


def every_published_message_arrived(result: ScenarioResult) -> None:
    """Every publish Dapr counted as successful arrived; the only extra arrivals are
    publishes whose caller was told they failed or timed out (recovered)."""
    arrived = len(arrived_seqs(result.records, result.scenario.topic))
    published = result.counters.egress_ok
    recovered = len(result.verdict.recovered)
    assert published <= arrived <= published + recovered, (
        f"daprd counted {published:g} publishes, the ledger saw {arrived} distinct messages "
        f"arrive ({recovered} of them recovered)"
    )


def every_success_counted(result: ScenarioResult) -> None:
    """Each SUCCESS the app answered is one successful ingress in Dapr's counters."""
    assert result.counters.ingress["success"] == result.ledger["answers_success"], (
        result.counters,
        result.ledger,
    )


def exhausted_ones_dead_lettered(result: ScenarioResult) -> None:
    """Each message Dapr gave up on (ingress drop) is in the dead-letter topic once."""
    assert result.counters.ingress["drop"] == len(result.verdict.dead_lettered), result.counters


def unfinished(result: ScenarioResult) -> set[int]:
    """Acknowledged messages never handled with SUCCESS nor dead-lettered: lost, or
    arrived but their handler was killed and Dapr gave them up."""
    done = done_times(result.records, result.scenario.topic)
    return {c.seq for c in result.calls if c.outcome is Outcome.OK} - done.keys()


def loss_is_what_waited_for_the_dead_app(result: ScenarioResult) -> None:
    """service-1 down longer than the retry budget: a waiting message's delivery fails on
    t1 and is retried 3 times, then sent to the dead-letter topic, whose delivery to the
    same dead app fails the same way, and Dapr acknowledges it: lost, or (when its handler
    was killed mid-work) arrived but never finished. Only messages acknowledged before the
    kill end so, and each is among those Dapr counted as given up on t1 (ingress drop)."""
    gone = unfinished(result)
    assert result.verdict.lost <= gone
    assert gone <= acked_between(result, 0.0, result.fault[0]), str(result.verdict)
    assert len(gone) <= result.counters.ingress["drop"], (sorted(gone), result.counters)
    if gone:
        assert result.counters.dead_letter_ingress["retry"] > 0, result.counters


def loss_is_what_waited_in_the_broker(result: ScenarioResult, at_least: float = 0.8) -> None:
    """Redis without persistence forgets the stream across a crash: the messages published
    while the subscriber was frozen and before the broker died are gone, and only those."""
    from harness.faults.scenarios import WAITING_SECONDS

    # the kill comes WAITING_SECONDS after the freeze; a message sent just before the
    # freeze may still have been on its way to the subscriber
    fault = result.fault[0]
    waiting = acked_between(result, fault, fault + WAITING_SECONDS)
    around = acked_between(result, fault - 0.5, fault + WAITING_SECONDS + 0.5)
    lost = result.verdict.lost
    assert lost, f"nothing was lost: did the broker keep its data? {result.verdict}"
    assert lost <= around, str(result.verdict)
    assert len(lost) >= at_least * len(waiting), f"lost {len(lost)} of {len(waiting)} waiting"
    arrived = arrived_seqs(result.records, result.scenario.topic)
    assert result.counters.egress_ok == len(arrived) + len(lost), result.counters


def lost_only_while_the_subscriber_was_away(result: ScenarioResult) -> None:
    """NATS JetStream, the broker killed while the subscriber's sidecar was stopped:
    nats-server restores every message of the stream from its file store, yet what was
    published while the subscriber was away was lost in every run here (77, 95; once
    everything after, 215, the restarted sidecar receiving nothing more), with the streams
    in memory alike (196): never a message acknowledged before the subscriber was stopped."""
    t0 = result.started_at
    stopped = t0 + result.fault[0] - 1.0  # a publish just before the SIGTERM may be in hand
    early = {c.seq for c in result.calls if c.outcome is Outcome.OK and c.intended_at < stopped}
    assert not (early & result.verdict.lost), str(result.verdict)


def publishes_before_and_after_the_fault(result: ScenarioResult) -> None:
    """The run measured the fault: publishes were acknowledged before it and after it."""
    t0 = result.started_at
    before = acked_between(result, 0.0, result.fault[0])
    since = t0 + result.fault[0] + 1.0
    after = {c.seq for c in result.calls if c.outcome is Outcome.OK and c.intended_at >= since}
    assert before and after, f"acknowledged {len(before)} before, {len(after)} after the fault"


def dead_lettered_during_the_outage(result: ScenarioResult) -> None:
    """service-2 down: t1 handlers answer RETRY, the policy retries, then dead-letters."""
    verdict = result.verdict
    assert verdict.dead_lettered, f"nothing dead-lettered while service-2 was down: {verdict}"


def slow_ones_redelivered(result: ScenarioResult) -> None:
    """A handler slower than processingTimeout gets its message again while it runs."""
    window = Window(result.started_at + result.fault[0], result.started_at + result.fault[1])
    slow = {c.seq for c in result.calls if window.holds(c.intended_at) and c.seq % SLOW_EVERY == 0}
    assert slow, "no slow message was sent"
    missing = slow - result.verdict.duplicated.keys()
    assert not missing, f"slow messages delivered only once: {sorted(missing)}"


def publishes_slowed_by_the_latency(result: ScenarioResult) -> None:
    """The fault took effect: the sidecars held their Redis connections through Toxiproxy
    when the latency was added (the kernel's view; a busy machine cannot fake it), and
    publishes acknowledged then took at least the added round trip (the median)."""
    from harness.faults.scenarios import LATENCY_MS

    assert result.proxied_connections > 0, (
        "no sidecar connection to Redis went through Toxiproxy: the latency never applied"
    )
    t0 = result.started_at
    inside = [
        c.seconds
        for c in result.calls
        if c.outcome is Outcome.OK
        and t0 + result.fault[0] + 0.5 <= c.intended_at < t0 + result.fault[1]
    ]
    assert inside, "no publish was acknowledged during the added latency"
    assert median(inside) >= LATENCY_MS / 1000, (
        f"publishes took {median(inside):.3f} s (median) under {LATENCY_MS} ms"
    )


def the_cut_took_effect(result: ScenarioResult) -> None:
    """The sidecars held their broker connections through Toxiproxy when it cut them (the
    kernel's view), and publishes during the cut did not all go through."""
    assert result.proxied_connections > 0, (
        "no sidecar connection to the broker went through Toxiproxy: the cut never applied"
    )
    t0 = result.started_at
    inside = [c for c in result.calls
              if t0 + result.fault[0] + 1.0 <= c.intended_at < t0 + result.fault[1]]  # fmt: skip
    assert inside and any(c.outcome is not Outcome.OK for c in inside), (
        f"every one of {len(inside)} publishes during the cut was acknowledged"
    )


def lost_only_around_the_fault(result: ScenarioResult) -> None:
    """NATS JetStream with `concurrencyMode: parallel`: the component subscribes without
    nats.go's ManualAck, so nats.go acknowledges each message as soon as the callback,
    which only starts a goroutine, returns: a message the sidecar held when it stopped or
    died is never delivered again (lost), and one whose delivery failed is never retried
    by the broker (it arrived, and is never done). Only messages acknowledged around the
    fault are lost, a handful at most."""
    from harness.faults.scenarios import WAITING_SECONDS

    fault = result.fault[0]
    around = acked_between(result, fault - 1.0, max(fault + WAITING_SECONDS, result.fault[1]))
    assert result.verdict.lost <= around, str(result.verdict)
    lost = len(result.verdict.lost)
    assert lost <= 10, f"{lost} lost: did the broker keep its data? {result.verdict}"


def few_lost_just_before_the_crash(result: ScenarioResult) -> None:
    """RabbitMQ with publisher confirms: a publish whose confirmation never came because
    the node died is still answered 204 (components-contrib 1.18.4, pubsub/rabbitmq
    `publishSync`, logs "did not receive confirmation of publishing" and returns no error):
    such a message is lost, and only such messages, a handful at most."""
    window = acked_between(result, result.fault[0] - 0.5, result.fault[1])
    assert result.verdict.lost <= window, str(result.verdict)
    assert len(result.verdict.lost) <= 5, str(result.verdict)


def no_publish_lost_its_answer(result: ScenarioResult) -> None:
    verdict = result.verdict
    assert verdict.failed == verdict.indeterminate == 0, str(verdict)


Check = Callable[[ScenarioResult], None]

EXPECTED: dict[str, list[Check]] = {
    "service1-kill": [loss_is_what_waited_for_the_dead_app],
    "sidecar-term": [nothing_lost],
    "sidecar-kill": [nothing_lost],
    "sidecar-freeze": [nothing_lost, every_published_message_arrived, every_success_counted],
    "redis-restart-aof": [nothing_lost, every_published_message_arrived, every_success_counted],
    "redis-restart-volatile": [loss_is_what_waited_in_the_broker, every_success_counted],
    "network-cut": [
        nothing_lost,
        the_cut_took_effect,
        every_published_message_arrived,
        every_success_counted,
    ],
    "network-latency": [
        nothing_lost,
        publishes_slowed_by_the_latency,
        every_published_message_arrived,
        every_success_counted,
    ],
    "service2-down": [
        nothing_lost,
        dead_lettered_during_the_outage,
        exhausted_ones_dead_lettered,
        every_published_message_arrived,
        every_success_counted,
    ],
    "slow-handler": [
        nothing_lost,
        slow_ones_redelivered,
        no_publish_lost_its_answer,
        every_published_message_arrived,
    ],
    "replica-kill": [nothing_lost],
}

# What the other brokers showed under the scenarios that apply to them (on Redis: EXPECTED)
ON_BROKER: dict[tuple[str, str], list[Check]] = {
    ("nats", "sidecar-term"): [lost_only_around_the_fault],
    ("nats", "sidecar-kill"): [lost_only_around_the_fault],
    ("nats", "broker-restart"): [lost_only_while_the_subscriber_was_away],
    ("nats", "network-cut"): [nothing_lost, the_cut_took_effect],
    # MQTT after a restart of the subscriber's sidecar (alone, or after mosquitto's):
    # delivery stalled in 9 runs of 11 (everything published after the fault lost), and
    # lost 1 or nothing in the other two; no firmer expectation holds, so the verdict is
    # reported (docs/fault-semantics.md) and only its form checked
    ("mqtt", "sidecar-term"): [publishes_before_and_after_the_fault],
    ("mqtt", "sidecar-kill"): [publishes_before_and_after_the_fault],
    ("mqtt", "broker-restart"): [publishes_before_and_after_the_fault],
    ("mqtt", "network-cut"): [nothing_lost, the_cut_took_effect],
    ("kafka", "sidecar-term"): [nothing_lost],
    ("kafka", "sidecar-kill"): [nothing_lost],
    ("kafka", "broker-restart"): [nothing_lost],
    ("kafka", "network-cut"): [nothing_lost, the_cut_took_effect],
    ("rabbitmq", "sidecar-term"): [nothing_lost],
    ("rabbitmq", "sidecar-kill"): [nothing_lost],
    ("rabbitmq", "broker-restart"): [few_lost_just_before_the_crash],
    ("rabbitmq", "network-cut"): [nothing_lost, the_cut_took_effect],
}


def expected(broker: str, scenario: str) -> list[Check]:
    return EXPECTED[scenario] if broker == "redis" else ON_BROKER[(broker, scenario)]


def test_scenario(scenario: Scenario, fault_run: ScenarioResult):
    assert not fault_run.verdict.unexpected, str(fault_run.verdict)
    for check in expected(selected_broker(), scenario.name):
        check(fault_run)


def test_every_scenario_has_its_expectations_on_each_broker_it_applies_to():
    from harness.faults.scenarios import SCENARIOS

    assert set(EXPECTED) == {s.name for s in SCENARIOS if "redis" in s.brokers}
    assert set(ON_BROKER) == {(b, s.name) for s in SCENARIOS for b in s.brokers if b != "redis"}
