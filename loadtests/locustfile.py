"""Publish load on service-1 with end-to-end delivery latency from its ledger.

Each user publishes through `POST /publish/{topic}` with a t1/t2 mix and a padded body; each
message carries `run`, a `seq` unique across processes, and `sent_at`. Two models:

- open (default): a constant arrival rate (`--arrival-rate` msgs/s split over the users); each
  message has an intended send time, and "DELAY publish delay" shows how late it left
  (coordinated omission, as OpenMessaging Benchmark measures it);
- closed: users publish, then wait `--think-time` seconds.

"E2E t1 delivery" / "E2E t2 delivery" are publish-to-receipt times from the ledger, fired as
request events on the master, so the UI, CSV and HTML report show them beside the publishes.
At the end the conductor drains stragglers, writes summary.json and chart.png, and the
`quitting` listener fails the run when a threshold is broken. Options: loadtests/locust.conf.

    locust -f loadtests/locustfile.py --config loadtests/locust.conf --headless
"""

from __future__ import annotations

import os
import random
import time
from typing import Any

import gevent
from locust import FastHttpUser, events, task
from locust.argument_parser import LocustArgumentParser
from locust.contrib.fasthttp import FastResponse
from locust.env import Environment
from locust.exception import StopUser

from harness.tokens import suite_headers_from_env
from harness.verdict import Outcome
from loadtests.accounting import Publish, publish_outcome
from loadtests.conductor import JOURNAL, install, parsed_options_of
from loadtests.latency import Schedule, publish_delay_ms
from loadtests.messages import encode, message_body
from loadtests.options import add_locust_arguments, from_locust
from loadtests.stats_total import count_publishes_only
from loadtests.web_ui import extend as extend_web_ui

# The suite token comes from the environment (loadtests/run.py passes it), never a flag.
PUBLISH_HEADERS = {"Content-Type": "application/json", **suite_headers_from_env(os.environ)}


def add_options(parser: LocustArgumentParser, **_: Any) -> None:
    add_locust_arguments(parser)


def wire_run(environment: Environment, **_: Any) -> None:
    count_publishes_only(environment)
    conductor = install(environment)
    if conductor is not None:
        extend_web_ui(environment, conductor)


# Registered by call, not as decorators: locust's add_listener has no type hints, and a
# decorator without them would hide these functions' own types.
events.init_command_line_parser.add_listener(add_options)
events.init.add_listener(wire_run)


class Publisher(FastHttpUser):
    """Publishes one message per task; in the open model, on a fixed schedule."""

    def on_start(self) -> None:
        parsed = parsed_options_of(self.environment)
        if not getattr(parsed, "load_run_id", ""):
            raise StopUser()  # no run was started (its options were refused)
        options = from_locust(parsed)
        self.message_bytes = options.message_bytes
        self.think_time = options.think_time
        self.schedule: Schedule | None = None
        if options.mode == "open":
            rate = parsed.load_user_rate
            # A random phase so the users' slots interleave instead of firing together.
            self.schedule = Schedule(time.time() + random.uniform(0, 1 / rate), rate)

    def wait_time(self) -> float:
        if self.schedule is not None:
            return self.schedule.wait(time.time())
        return self.think_time

    @task
    def publish(self) -> None:
        message = JOURNAL.next_message()
        if message is None:
            raise StopUser()  # the run is over or this process hit --max-messages
        seq, topic = message
        intended_at = None
        if self.schedule is not None:
            intended_at = self.schedule.take()
            gevent.sleep(max(0.0, intended_at - time.time()))  # only the first slot is early
        self.send(seq, topic, intended_at)

    def send(self, seq: int, topic: str, intended_at: float | None) -> None:
        sent_at = time.time()
        body = message_body(JOURNAL.run, seq, sent_at, self.message_bytes, intended_at)
        started = time.perf_counter()
        with self.client.post(
            f"/publish/{topic}",
            data=encode(body),  # type: ignore[arg-type]  # locust sends bytes; its hint omits them
            headers=PUBLISH_HEADERS,
            catch_response=True,
        ) as response:
            outcome = publish_outcome(response.status_code, getattr(response, "error", None))
            if outcome is not Outcome.OK:
                response.failure(failure_text(response))
        latency_ms = (time.perf_counter() - started) * 1000.0
        JOURNAL.record(Publish(seq, topic, sent_at, latency_ms, outcome, intended_at))
        if intended_at is not None:
            self.environment.events.request.fire(
                request_type="DELAY",
                name="publish delay",
                response_time=publish_delay_ms(intended_at, sent_at),
                response_length=0,
                exception=None,
                context={},
            )


def failure_text(response: FastResponse) -> str:
    """What locust shows for a publish that did not succeed: the answer, or why there was none."""
    if response.status_code:
        return f"HTTP {response.status_code}: {(response.text or '')[:200]}"
    return f"no answer: {getattr(response, 'error', None)!r}"
