"""One fault scenario end to end: stack, load, fault, heal, drain, verdict.

The stack is a fresh faults-profile stack that is stopped at the end whatever happens
(context manager), and the fault is healed in a `finally`; so a failing check, an error
or Ctrl-C leaves no fault in place and no process behind.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from harness.client import SuiteClient
from harness.faults.load import Call, OpenLoad
from harness.faults.scenarios import LEAD_SECONDS, Scenario, Window
from harness.faults.stack import FaultStack, faults_settings, profile_from_env
from harness.faults.timeline import Recovery, done_times, per_second, recovery
from harness.ledger import new_run_id
from harness.metrics import sample_sum, scrape
from harness.settings import StackSettings
from harness.verdict import QueueVerdict, dead_letter_topic, total_queue
from harness.wait import poll

DRAIN_LIMIT_SECONDS = 90.0
QUIET_SECONDS = 2.5  # nothing new for this long after all is done: drained
GIVE_UP_QUIET_SECONDS = 8.0  # nothing new for this long while something is missing: lost


@dataclass
class Counters:
    """Dapr's own counts over the run, summed over the subscriber sidecars."""

    egress_ok: float = 0.0  # publishes daprd acknowledged to service-1
    ingress: dict[str, float] = field(default_factory=dict)  # process_status -> deliveries
    dead_letter_ingress: dict[str, float] = field(default_factory=dict)  # the same, on its DLQ
    comparable: bool = True  # False when a sidecar restarted (its counters began again at 0)


def read_counters(stack: FaultStack, topic: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for name, url in stack.sidecar_metrics_urls().items():
        if not stack.component(name).process.running():
            continue  # a killed sidecar took its counters with it
        text = scrape(url)
        prefix = f"{name}:"
        values[prefix + "egress_ok"] = sample_sum(
            text, "dapr_component_pubsub_egress_count", {"topic": topic, "success": "true"}
        )
        for status in ("success", "retry", "drop"):
            values[prefix + status] = sample_sum(
                text,
                "dapr_component_pubsub_ingress_count",
                {"topic": topic, "process_status": status},
            )
        for status in ("success", "retry", "drop"):
            values[prefix + f"dead_letter_{status}"] = sample_sum(
                text,
                "dapr_component_pubsub_ingress_count",
                {"topic": dead_letter_topic(topic), "process_status": status},
            )
    return values


def counters_delta(before: dict[str, float], after: dict[str, float], restarted: bool) -> Counters:
    delta = {key: after.get(key, 0.0) - before.get(key, 0.0) for key in after}

    def total(kind: str) -> float:
        return sum(v for k, v in delta.items() if k.endswith(f":{kind}"))

    return Counters(
        egress_ok=total("egress_ok"),
        ingress={s: total(s) for s in ("success", "retry", "drop")},
        dead_letter_ingress={s: total(f"dead_letter_{s}") for s in ("success", "retry", "drop")},
        comparable=not restarted,
    )


@dataclass
class ScenarioResult:
    scenario: Scenario
    run: str
    verdict: QueueVerdict
    recovery: Recovery
    counters: Counters
    ledger: dict[str, int]  # deliveries on the topic and on its dead-letter topic
    timeline: dict[str, list[float]]
    started_at: float
    fault: tuple[float, float]  # seconds after the load started
    proxied_connections: int  # sidecar connections to the broker's proxy just before the fault
    seconds: float  # wall time of the whole scenario, stack start and stop included
    records: list[dict[str, Any]] = field(repr=False, default_factory=list)
    calls: list[Call] = field(repr=False, default_factory=list)
    broker: str = "redis"  # HARNESS_BROKER of the run

    def row(self) -> dict[str, Any]:
        counts = self.verdict.counts()
        return {
            "broker": self.broker,
            "scenario": self.scenario.name,
            **{k: counts[k] for k in ("acknowledged", "failed", "indeterminate", "delivered",
                                       "lost", "duplicated", "unexpected", "recovered",
                                       "dead_lettered")},
            "recover_s": self.recovery.seconds_to_recover,
            "worst_latency_s": self.recovery.worst_latency,
            "seconds": round(self.seconds, 1),
        }  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        return {
            "broker": self.broker,
            "scenario": self.scenario.name,
            "title": self.scenario.title,
            "topic": self.scenario.topic,
            "duplicates_by_design": self.scenario.duplicates_by_design,
            "run": self.run,
            "verdict": self.verdict.as_dict(),
            "recovery": asdict(self.recovery),
            "counters": asdict(self.counters),
            "ledger": self.ledger,
            "fault_window_s": list(self.fault),
            "load_seconds": self.scenario.load_seconds,
            "seconds": round(self.seconds, 2),
            "timeline": self.timeline,
        }


def ledger_counts(records: list[dict[str, Any]], topic: str) -> dict[str, int]:
    def deliveries(on: str) -> int:
        return sum(r["count"] for r in records if r["topic"] == on)

    return {
        "deliveries": deliveries(topic),
        "dead_letter_deliveries": deliveries(dead_letter_topic(topic)),
        "answers_success": sum(
            r["answers"].count("SUCCESS") for r in records if r["topic"] == topic
        ),
        "answers_retry": sum(
            sum(a in ("RETRY", "500") for a in r["answers"]) for r in records if r["topic"] == topic
        ),
    }


def arrived_seqs(records: list[dict[str, Any]], topic: str) -> set[int]:
    """Distinct messages that arrived on the topic or on its dead-letter topic."""
    topics = {topic, dead_letter_topic(topic)}
    return {r["seq"] for r in records if r["topic"] in topics and isinstance(r["seq"], int)}


def drain(
    client: SuiteClient,
    run: str,
    topic: str,
    acked: set[int],
    published: Callable[[], float | None] = lambda: None,
) -> list[dict[str, Any]]:
    """Read the ledger until it is done and quiet, or nothing moved for long, or the limit.

    Done: every acknowledged message is done, as many distinct messages arrived as Dapr
    says it published (`published()`, None when its counters cannot tell: a publish that
    timed out may still have been published), and no handler is still running. Nothing
    moving for long while not done means something is lost (or a killed handler will
    never answer).
    """
    state = {"total": -1, "changed": time.monotonic()}

    def read() -> list[dict[str, Any]]:
        return client.ledger.records(run)

    def drained(records: list[dict[str, Any]]) -> bool:
        total = sum(r["count"] for r in records)
        now = time.monotonic()
        if total != state["total"]:
            state["total"], state["changed"] = total, now
        quiet = now - state["changed"]
        if quiet < QUIET_SECONDS:
            return False
        target = published()
        pending = sum(r["count"] - len(r["answers"]) for r in records)
        all_done = (
            acked <= done_times(records, topic).keys()
            and (target is None or len(arrived_seqs(records, topic)) >= target)
            and pending == 0
        )
        return all_done or quiet >= GIVE_UP_QUIET_SECONDS

    # a service-1 busy catching up may answer the ledger slowly: that is "not yet"
    return poll(read, drained, timeout=DRAIN_LIMIT_SECONDS, interval=0.5, on_timeout="return",
                retry_on=(httpx.HTTPError,))  # fmt: skip


def warm_up(client: SuiteClient, topic: str, messages: int = 20) -> None:
    """A few messages through the whole path before the measured load: the first ones
    after a start are slow (connections, caches), and would blur the fault's effect."""
    run = new_run_id("warm-up")
    for seq in range(1, messages + 1):
        client.publish_ok(topic, run, seq)
    poll(
        lambda: client.ledger.records(run),
        lambda records: len(done_times(records, topic)) == messages,
        timeout=30,
        interval=0.2,
        what="the warm-up messages",
        retry_on=(httpx.HTTPError,),
    )


def scenario_settings(scenario_name: str, env: dict[str, str] | None = None) -> StackSettings:
    """A scenario's stack: the faults settings, in a folder of its own per broker."""
    base = faults_settings(env)
    return dataclasses.replace(base, run_dir=base.run_dir / base.broker / scenario_name)


def run_scenario(scenario: Scenario, quiet: bool = True) -> ScenarioResult:
    began = time.monotonic()
    settings = scenario_settings(scenario.name)
    with FaultStack(settings, profile_from_env(scenario.profile), quiet=quiet) as stack:
        client = SuiteClient(
            stack.settings.url(settings.service1_port),
            stack.settings.url(settings.service2_port),
            headers=stack.tokens.suite_headers(),
        )
        try:
            return _run_on(stack, client, scenario, began)
        finally:
            client.close()


def _run_on(
    stack: FaultStack, client: SuiteClient, scenario: Scenario, began: float
) -> ScenarioResult:
    topic = scenario.topic
    for name in scenario.targets:
        stack.require_running(name)
    warm_up(client, topic)
    before = read_counters(stack, topic)
    run = new_run_id(scenario.name)
    start = time.time()
    window = Window(start + LEAD_SECONDS, start + LEAD_SECONDS + scenario.fault_seconds)
    extra = None
    if scenario.extra is not None:
        chosen = scenario.extra
        extra = lambda seq, at: chosen(seq, at, window)  # noqa: E731
    via_dapr = scenario.publish_via == "daprd-service-2"
    publisher = "daprd-service-2" if via_dapr else "daprd-service-1"
    s = stack.settings
    url = s.url(s.sidecar2.http) if via_dapr else s.url(s.service1_port)
    headers = stack.tokens.dapr_headers() if via_dapr else stack.tokens.suite_headers()
    load = OpenLoad(url, run, topic, seconds=scenario.load_seconds, extra=extra,
                    via_dapr=via_dapr, headers=headers)  # fmt: skip
    load.started_at = start
    load.start()
    time.sleep(max(0.0, window.start - time.time()))
    proxied = stack.sidecar_connections_to_broker_proxy()  # a cut closes them: count first
    injected = time.time()
    try:
        scenario.inject(stack)
        time.sleep(max(0.0, window.end - time.time()))
    finally:
        scenario.heal(stack)
    healed = time.time()
    calls = load.join()
    acked = {c.seq for c in calls if c.outcome.value == "ok"}

    def published() -> float | None:
        if scenario.sidecar_restarts:
            return None
        now = read_counters(stack, topic)
        return now[f"{publisher}:egress_ok"] - before[f"{publisher}:egress_ok"]

    records = drain(client, run, topic, acked, published)
    after = read_counters(stack, topic)
    verdict = total_queue([c.attempt() for c in calls], records, run=run, topics=[topic],
                          label=scenario.name)  # fmt: skip
    done = done_times(records, topic)
    seconds = int(max([scenario.load_seconds, *(at - start for at in done.values())])) + 2
    return ScenarioResult(
        scenario=scenario,
        run=run,
        verdict=verdict,
        recovery=recovery(calls, done, healed),
        counters=counters_delta(before, after, scenario.sidecar_restarts),
        ledger=ledger_counts(records, topic),
        timeline=per_second(calls, done, start, seconds),
        started_at=start,
        fault=(round(injected - start, 2), round(healed - start, 2)),
        proxied_connections=proxied,
        seconds=time.monotonic() - began,
        records=records,
        calls=calls,
        broker=stack.settings.broker,
    )
