"""The fault scenarios: what breaks, for how long, and how it is healed.

Every scenario runs on a fresh faults-profile stack of its own, so one scenario's damage
(a Redis that lost its streams, a killed replica) never leaks into the next. `inject`
breaks the stack at the fault's start, `heal` repairs it at the fault's end; the runner
calls `heal` in a `finally`, so a fault is healed also when something fails or on Ctrl-C.

Each scenario names the brokers it applies to (HARNESS_BROKER): the ones whose behaviour
under it was measured and is asserted (docs/fault-semantics.md). A scenario names the
broker's process `broker`, whichever broker that is.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.brokers import BROKER_NAMES
from harness.errors import HarnessError, SettingsError
from harness.faults.stack import BROKER, BROKER_PROXY, REPLICA, FaultProfile, FaultStack
from harness.wait import poll

Action = Callable[[FaultStack], None]
Extra = Callable[[int, float, "Window"], dict[str, Any]]

LEAD_SECONDS = 2.0  # steady load before the fault
TAIL_SECONDS = 2.0  # load after the heal
SLOW_HANDLER_SECONDS = 6.0  # longer than the profile's processingTimeout (5 s)
SLOW_EVERY = 40  # few enough that the slow ones never take all of Dapr's 10 workers
LATENCY_MS = 200
WAITING_SECONDS = 1.5  # messages published while the subscriber is frozen, before the broker dies
REDIS_ONLY = ("redis",)  # measured and asserted on Redis only so far
EVERY_BROKER = BROKER_NAMES


@dataclass(frozen=True)
class Window:
    """The fault's planned start and end, epoch seconds."""

    start: float
    end: float

    def holds(self, at: float) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    fault_seconds: float
    inject: Action
    heal: Action
    targets: tuple[str, ...]  # components the fault acts on: they must be running
    profile: FaultProfile = field(default_factory=FaultProfile)
    topic: str = "t1"
    extra: Extra | None = None  # more fields for a message sent at a given time
    publish_via: str = "service-1"  # or "daprd-service-2": its sidecar's publish API
    sidecar_restarts: bool = False  # a sidecar restarted or killed: its counts start over or go
    # True when the fault itself makes Dapr redeliver, in every run; otherwise whether a
    # duplicate shows up depends on a message being in flight the moment the fault lands
    duplicates_by_design: bool = False
    brokers: tuple[str, ...] = REDIS_ONLY  # the brokers (HARNESS_BROKER) it applies to

    @property
    def load_seconds(self) -> float:
        return LEAD_SECONDS + self.fault_seconds + TAIL_SECONDS


# -- the faults -------------------------------------------------------------------------


def send(name: str, signum: int) -> Action:
    return lambda stack: stack.send_signal(name, signum)


def restart(*names: str) -> Action:
    def act(stack: FaultStack) -> None:
        for name in names:
            stack.restart(name)

    return act


def stop_gracefully_then_restart(name: str, grace: float = 15.0) -> Action:
    """Heal of a SIGTERM: let the process finish its own shutdown, then start it again."""

    def act(stack: FaultStack) -> None:
        poll(stack.component(name).process.gone, timeout=grace, on_timeout="return")
        stack.restart(name)

    return act


def kill_all(*names: str) -> Action:
    def act(stack: FaultStack) -> None:
        for name in names:
            stack.send_signal(name, signal.SIGKILL)

    return act


def proxy_enabled(enabled: bool) -> Action:
    return lambda stack: stack.toxiproxy.set_enabled(BROKER_PROXY, enabled)


def add_latency(stack: FaultStack) -> None:
    stack.toxiproxy.add_latency(BROKER_PROXY, LATENCY_MS)


def remove_latency(stack: FaultStack) -> None:
    stack.toxiproxy.remove_latency(BROKER_PROXY)


def restart_broker_while_messages_wait(stack: FaultStack) -> None:
    """Freeze the subscriber's sidecar so that published messages wait unread in the
    broker, then kill the broker (SIGKILL: a crash) and start it again."""
    stack.send_signal("daprd-service-1", signal.SIGSTOP)
    time.sleep(WAITING_SECONDS)
    stack.send_signal(BROKER, signal.SIGKILL)
    stack.restart(BROKER)


def restart_broker_while_the_subscriber_is_away(stack: FaultStack) -> None:
    """Stop the subscriber's sidecar (SIGTERM: it finishes what it holds) so that published
    messages wait in the broker for its durable subscription, then kill the broker and
    start it again. Freezing the sidecar instead would not do on a broker that pushes:
    NATS and RabbitMQ hand the waiting messages to the frozen client's socket."""
    stack.send_signal("daprd-service-1", signal.SIGTERM)
    poll(stack.component("daprd-service-1").process.gone, timeout=15.0, on_timeout="return")
    time.sleep(WAITING_SECONDS)
    stack.send_signal(BROKER, signal.SIGKILL)
    stack.restart(BROKER)


def nothing(stack: FaultStack) -> None:
    """The fault lives in the messages themselves (see `slow_in_window`)."""


def slow_in_window(seq: int, at: float, window: Window) -> dict[str, Any]:
    """Every 40th message sent during the window asks for a handler slower than
    processingTimeout; the rest are handled at once."""
    slow = window.holds(at) and seq % SLOW_EVERY == 0
    return {"control": {"delay_seconds": SLOW_HANDLER_SECONDS if slow else 0}}


SCENARIOS = [
    Scenario("service1-kill", "service-1 killed (SIGKILL), restarted after 3 s", 3.0,
             send("service-1", signal.SIGKILL), restart("service-1"), ("service-1",)),
    Scenario("sidecar-term", "daprd of service-1 stopped (SIGTERM), restarted", 3.0,
             send("daprd-service-1", signal.SIGTERM),
             stop_gracefully_then_restart("daprd-service-1"), ("daprd-service-1",),
             sidecar_restarts=True, brokers=EVERY_BROKER),
    Scenario("sidecar-kill", "daprd of service-1 killed (SIGKILL), restarted after 3 s", 3.0,
             send("daprd-service-1", signal.SIGKILL), restart("daprd-service-1"),
             ("daprd-service-1",), sidecar_restarts=True, brokers=EVERY_BROKER),
    Scenario("sidecar-freeze", "daprd of service-1 frozen (SIGSTOP) for 10 s, then SIGCONT", 10.0,
             send("daprd-service-1", signal.SIGSTOP), send("daprd-service-1", signal.SIGCONT),
             ("daprd-service-1",)),
    Scenario("redis-restart-aof", "redis-server killed and restarted while messages wait in it; "
             "AOF, appendfsync always", 3.0, restart_broker_while_messages_wait,
             send("daprd-service-1", signal.SIGCONT), (BROKER, "daprd-service-1"),
             publish_via="daprd-service-2"),
    Scenario("redis-restart-volatile", "redis-server killed and restarted while messages wait "
             "in it; no persistence", 3.0, restart_broker_while_messages_wait,
             send("daprd-service-1", signal.SIGCONT), (BROKER, "daprd-service-1"),
             profile=FaultProfile(persistence=False), publish_via="daprd-service-2"),
    # on Redis this is redis-restart-aof
    Scenario("broker-restart", "the broker killed (SIGKILL) and restarted while messages wait "
             "in it for the stopped subscriber; its persistence on", 3.0,
             restart_broker_while_the_subscriber_is_away, restart("daprd-service-1"),
             (BROKER, "daprd-service-1"), publish_via="daprd-service-2", sidecar_restarts=True,
             brokers=tuple(b for b in EVERY_BROKER if b != "redis")),
    Scenario("network-cut", "sidecars cut from the broker (Toxiproxy) for 10 s", 10.0,
             proxy_enabled(False), proxy_enabled(True), ("toxiproxy",), brokers=EVERY_BROKER),
    Scenario("network-latency", "200 ms added between the sidecars and Redis for 6 s", 6.0,
             add_latency, remove_latency, ("toxiproxy",)),
    Scenario("service2-down", "service-2 (the invocation target) down for 10 s", 10.0,
             send("service-2", signal.SIGTERM), restart("service-2"), ("service-2",),
             duplicates_by_design=True),
    Scenario("slow-handler", "t2 handlers slower than processingTimeout for 3 s", 3.0,
             nothing, nothing, ("service-1",), topic="t2", extra=slow_in_window,
             duplicates_by_design=True),
    Scenario("replica-kill", "one of two service-1 replicas killed (app and daprd)", 3.0,
             kill_all(f"daprd-{REPLICA}", REPLICA), nothing,
             (REPLICA, f"daprd-{REPLICA}"), profile=FaultProfile(replica=True),
             sidecar_restarts=True),
]  # fmt: skip

BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}


def selected_broker(env: dict[str, str] | None = None) -> str:
    """HARNESS_BROKER (redis when unset); a user's own component cannot take faults."""
    from harness.settings import OWN, chosen_broker

    env = dict(os.environ if env is None else env)
    broker = chosen_broker(env) or "redis"
    if broker == OWN:
        raise SettingsError(
            "HARNESS_PUBSUB_COMPONENT: faults need a broker the harness starts, restarts "
            "and proxies; unset it and pick one with HARNESS_BROKER"
        )
    return broker


def applicable(broker: str) -> list[Scenario]:
    return [scenario for scenario in SCENARIOS if broker in scenario.brokers]


def selected(env: dict[str, str] | None = None) -> list[Scenario]:
    """FAULT_SCENARIOS=a,b picks scenarios by name (all that apply to HARNESS_BROKER when
    unset); unknown names, and names that do not apply to the broker, are refused."""
    env = dict(os.environ if env is None else env)
    broker = selected_broker(env)
    raw = env.get("FAULT_SCENARIOS", "").strip()
    if not raw:
        return applicable(broker)
    names = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = [name for name in names if name not in BY_NAME]
    if unknown:
        raise HarnessError(
            f"FAULT_SCENARIOS names unknown scenario(s) {', '.join(unknown)}; "
            f"known: {', '.join(BY_NAME)}"
        )
    elsewhere = [name for name in names if broker not in BY_NAME[name].brokers]
    if elsewhere:
        raise HarnessError(
            f"FAULT_SCENARIOS: {', '.join(elsewhere)} not for HARNESS_BROKER={broker}; "
            f"on {broker}: {', '.join(s.name for s in applicable(broker))}"
        )
    return [BY_NAME[name] for name in names]


SERVICE_IMAGES = ("HARNESS_SERVICE1_IMAGE", "HARNESS_SERVICE2_IMAGE")


def require_local_target(env: dict[str, str] | None = None) -> None:
    """Faults are injected into processes this machine runs; a cluster cannot take them yet,
    nor can services run as containers."""
    env = dict(os.environ if env is None else env)
    kind = env.get("E2E_TARGET", "local").strip().lower() or "local"
    if kind != "local":
        raise HarnessError(
            f"E2E_TARGET={kind}: faults can only be injected into the local stack "
            "(its processes are this machine's); unset E2E_TARGET"
        )
    images = [name for name in SERVICE_IMAGES if env.get(name, "").strip()]
    if images:
        raise HarnessError(
            f"{' and '.join(images)}: the fault scenarios kill and pause the services' own "
            "processes, and a killed `docker run` client leaves its container serving; unset it"
        )
