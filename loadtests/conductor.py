"""How a load run is driven inside locust, on top of locust's own runners.

Every process keeps a `ProcessJournal` of its publishes. Workers send theirs to the master
every second and when they stop; in a local run the conductor takes them directly. The
`Conductor` lives only on the master or local runner: it picks the run id, reads Dapr's
counters, polls the ledger and fires end-to-end latency as locust request events, ends the load
on time, drains stragglers, writes the summary and chart, and sets the exit code from the gate.

The conductor ends the load itself (runner.stop()) instead of leaving it to locust's
--run-time, because a distributed --run-time quits before the workers have stopped and handed
over their last publishes. After a stop, a master forgets its workers until they report ready
again (--stop-timeout later), so a headless run waits for that before it quits them.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import WORKER_REPORT_INTERVAL, MasterRunner, WorkerRunner

from loadtests.accounting import DeliveryTracker, Publish, Receipt
from loadtests.chart import draw_chart
from loadtests.dapr_metrics import DaprCounters, metric_section
from loadtests.journal import ProcessJournal
from loadtests.ledger_client import LedgerClient
from loadtests.messages import new_run_id
from loadtests.options import MAX_USERS, LoadOptionError, LoadOptions, from_locust
from loadtests.summary import Window, add_gate, build_summary, headline, write_summary
from loadtests.thresholds import Check, broken

log = logging.getLogger("loadtests")
logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per ledger poll is noise

PUBLISHED_MESSAGE = "load_published"
FLUSH_SECONDS = 1.0
OPTION_ERROR_EXIT = 2
GATE_EXIT = 1

# The one journal of this process, shared by its users.
JOURNAL = ProcessJournal()


class MessageLost(Exception):
    """A message published with success that never reached the subscriber."""


def install(environment: Environment) -> None:
    """Validate the options, then wire this process's part: worker, master or local."""
    options = options_or_exit(environment)
    if environment.parsed_options.validate_only:
        print(f"options ok: {options}")
        sys.exit(0)
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        WorkerFlusher(environment).listen()
        return
    Conductor(environment, options).listen()


def options_or_exit(environment: Environment) -> LoadOptions:
    try:
        options = from_locust(environment.parsed_options)
        options.validate()
    except LoadOptionError as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        sys.exit(OPTION_ERROR_EXIT)
    return options


def begin_journal(environment: Environment) -> None:
    """Start numbering for the run the master announced (in the spawn message's options)."""
    parsed = environment.parsed_options
    runner = environment.runner
    worker_index = max(getattr(runner, "worker_index", 0), 0)
    options = from_locust(parsed)
    JOURNAL.begin(
        getattr(parsed, "load_run_id", ""), worker_index, options.max_messages, options.mix
    )


class WorkerFlusher:
    """On a worker: hands the journal to the master every second and once more at the stop."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.greenlet: gevent.Greenlet | None = None

    def listen(self) -> None:
        events = self.environment.events
        events.test_start.add_listener(self.on_test_start)
        events.test_stop.add_listener(self.on_test_stop)

    def on_test_start(self, environment: Environment, **_: Any) -> None:
        begin_journal(environment)
        self.greenlet = gevent.spawn(self.flush_every_second)

    def on_test_stop(self, environment: Environment, **_: Any) -> None:
        if self.greenlet is not None:
            self.greenlet.kill(block=False)
            self.greenlet = None
        # Both go out before locust's client_stopped: the master has every publish when it
        # drains, and it discards statistics that arrive between client_stopped and the
        # worker's client_ready. _send_stats is what locust itself calls on quit.
        self.flush()
        JOURNAL.end()
        send_stats = getattr(environment.runner, "_send_stats", None)
        if send_stats is not None:
            send_stats()

    def flush_every_second(self) -> None:
        while True:
            gevent.sleep(FLUSH_SECONDS)
            self.flush()

    def flush(self) -> None:
        rows = [publish.as_row() for publish in JOURNAL.take()]
        if rows:
            self.environment.runner.send_message(PUBLISHED_MESSAGE, rows)


class Conductor:
    """The master's (or local runner's) side of one load run after another."""

    def __init__(self, environment: Environment, options: LoadOptions) -> None:
        self.environment = environment
        self.parsed = environment.parsed_options
        self.headless = bool(self.parsed.headless)
        self.options = options
        if self.headless:
            # The conductor's clock ends the load; locust's own would race with the drain.
            self.parsed.run_time = None
            log.info(
                "the load ends after %g s, then a drain of up to %g s",
                options.run_seconds,
                options.drain_seconds,
            )
        self.results_dir = results_dir_of(self.parsed.results_dir)
        self.ledger = LedgerClient(options.host)
        self.tracker = DeliveryTracker(run="")
        self.counters_before: dict[str, dict[str, float]] | None = None
        self.metrics_error: str | None = None
        self.started_at = 0.0
        self.load_ended_at = 0.0
        self.stop_reason = ""
        self.greenlets: list[gevent.Greenlet] = []
        self.finishing: gevent.Greenlet | None = None
        self.verdict: list[Check] | None = None
        self.tests_started = 0
        self.concluded_run = ""
        self.interrupted = False
        self.workers_at_start = 0

    def listen(self) -> None:
        events = self.environment.events
        events.test_start.add_listener(self.on_test_start)
        events.test_stopping.add_listener(self.on_test_stopping)
        events.test_stop.add_listener(self.on_test_stop)
        events.quitting.add_listener(self.on_quitting)
        if isinstance(self.environment.runner, MasterRunner):
            self.environment.runner.register_message(PUBLISHED_MESSAGE, self.on_published)

    # -- the start ----------------------------------------------------------------------------

    def on_test_start(self, environment: Environment, **_: Any) -> None:
        if not self.headless and not self.revalidate():
            # Users that see no run publish nothing, and the stop is on its way.
            self.parsed.load_run_id = ""
            self.tracker = DeliveryTracker(run="")
            gevent.spawn(self.environment.runner.stop)
            return
        self.tests_started += 1
        self.verdict = None
        run = new_run_id()
        self.parsed.load_run_id = run
        self.parsed.load_user_rate = self.options.arrival_rate / max(self.options.users, 1)
        self.tracker = DeliveryTracker(run=run)
        if isinstance(self.environment.runner, MasterRunner):
            self.workers_at_start = len(self.environment.runner.clients.all)
        self.ledger.close()
        self.ledger = LedgerClient(self.options.host)  # the web UI's form may change the host
        self.stop_reason = ""
        self.started_at = time.time()
        self.load_ended_at = 0.0
        if not isinstance(self.environment.runner, MasterRunner):
            begin_journal(environment)
        self.counters_before = self.read_counters()
        log.info("run %s: %s", run, self.options)
        self.greenlets = [gevent.spawn(self.clock)]
        if self.options.ledger_poll_seconds > 0:
            self.greenlets.append(gevent.spawn(self.poll_every, self.options.ledger_poll_seconds))

    def revalidate(self) -> bool:
        """The web UI's form may have changed the options since the start of the process."""
        try:
            options = from_locust(self.parsed)
            options.validate()
        except LoadOptionError as err:
            log.error("not starting: %s", err)
            return False
        self.options = options
        return True

    def read_counters(self) -> dict[str, dict[str, float]] | None:
        try:
            return DaprCounters(self.options.prometheus_url).read()
        except Exception as err:  # noqa: BLE001 - the run goes on; the summary says why
            self.metrics_error = f"reading {self.options.prometheus_url}: {err}"
            log.warning("Dapr metrics unavailable: %s", self.metrics_error)
            return None

    # -- during the load ----------------------------------------------------------------------

    def clock(self) -> None:
        """End the load after the run time, at the message limit, or above the user limit."""
        deadline = time.monotonic() + self.options.run_seconds
        while time.monotonic() < deadline and not self.stop_reason:
            gevent.sleep(0.1)
            self.stop_reason = self.limit_reached()
        self.stop_reason = self.stop_reason or "run time reached"
        log.info("ending the load: %s", self.stop_reason)
        self.environment.runner.stop()
        if self.headless and self.finishing is not None:
            self.finishing.join()
            self.wait_for_workers_ready()
            self.environment.runner.quit()

    def wait_for_workers_ready(self) -> None:
        """A master sends quit only to the workers it knows: wait until all are back."""
        runner = self.environment.runner
        if not isinstance(runner, MasterRunner):
            return
        deadline = time.monotonic() + (self.environment.stop_timeout or 0) + 5.0
        while len(runner.clients.ready) < self.workers_at_start:
            if time.monotonic() > deadline:
                log.warning("not every worker came back after the stop; quitting anyway")
                return
            gevent.sleep(0.1)

    def limit_reached(self) -> str:
        users = self.environment.runner.target_user_count
        if users > MAX_USERS:
            return f"{users} users is above the limit of {MAX_USERS}"
        if len(self.tracker.published) + len(JOURNAL.pending) >= self.options.max_messages:
            return f"--max-messages {self.options.max_messages} reached"
        return ""

    def poll_every(self, seconds: float) -> None:
        while True:
            gevent.sleep(seconds)
            self.poll_ledger()

    def on_published(self, environment: Environment, msg: Any, **_: Any) -> None:
        self.tracker.add_published(Publish.from_row(row) for row in msg.data)

    def take_local_publishes(self) -> None:
        self.tracker.add_published(JOURNAL.take())

    def poll_ledger(self) -> bool:
        """Read the run's records; fire a request event for each new receipt. False on error."""
        self.take_local_publishes()
        try:
            records = self.ledger.records(self.tracker.run)
        except Exception as err:  # noqa: BLE001 - the next poll may work; the drain will tell
            log.warning("reading the ledger failed: %s", err)
            return False
        for receipt in self.tracker.update(records):
            self.fire_receipt(receipt)
        return True

    def fire_receipt(self, receipt: Receipt) -> None:
        self.environment.events.request.fire(
            request_type="E2E",
            name=f"{receipt.topic} delivery",
            response_time=receipt.latency_ms,
            response_length=0,
            exception=None,
            context={},
        )

    # -- the end ------------------------------------------------------------------------------

    def on_test_stopping(self, environment: Environment, **_: Any) -> None:
        # The load ends now; test_stop comes once the workers have stopped, a second later.
        self.load_ended_at = time.time()

    def on_test_stop(self, environment: Environment, **_: Any) -> None:
        if not self.tracker.run or self.concluded_run == self.tracker.run:
            return
        self.load_ended_at = self.load_ended_at or time.time()
        self.take_local_publishes()
        JOURNAL.end()
        current = gevent.getcurrent()
        for greenlet in self.greenlets:
            if greenlet is not current:
                greenlet.kill(block=False)
        self.finishing = gevent.spawn(self.finish)

    def finish(self) -> None:
        self.concluded_run = self.tracker.run
        try:
            self.verdict = self.conclude()
        except Exception as err:  # noqa: BLE001 - no verdict is a failed run, with the reason
            log.exception("the run could not be concluded")
            self.verdict = [Check(f"concluding the run ({err})", "", None, 0.0)]

    def conclude(self) -> list[Check]:
        self.take_local_publishes()
        if self.interrupted:
            self.poll_ledger()  # what arrived so far; no drain, nothing called lost
        else:
            self.drain()
            self.wait_for_worker_reports()
            self.fire_lost()
        drained_at = time.time()
        dapr = self.dapr_metrics(drained_at)
        window = Window(self.started_at, self.load_ended_at, drained_at)
        summary = build_summary(self.tracker.run, self.options, window, self.tracker, dapr)
        summary["stop_reason"] = self.stop_reason or "stopped"
        summary["interrupted"] = self.interrupted
        checks = add_gate(summary, self.options.thresholds)
        write_summary(summary, self.results_dir)
        draw_chart(summary, self.results_dir / "chart.png")
        log.info("summary %s\n%s", self.results_dir / "summary.json", headline(summary))
        for check in checks:
            log.info("gate: %s", check.line())
        return broken(checks)

    def drain(self) -> None:
        """Wait for stragglers: until every publish arrived, or the drain time is up."""
        deadline = time.monotonic() + self.options.drain_seconds
        self.poll_ledger()
        seen = -1
        while self.tracker.undelivered() and time.monotonic() < deadline and not self.interrupted:
            gevent.sleep(0.5)
            seen = self.poll_when_grown(seen)
        self.poll_ledger()

    def wait_for_worker_reports(self) -> None:
        """Workers report their statistics every few seconds; wait until the master's hold
        every publish their journals handed over, so CSV and HTML report count them all."""
        if not isinstance(self.environment.runner, MasterRunner):
            return
        deadline = time.monotonic() + WORKER_REPORT_INTERVAL + 2.0
        while self.publish_requests() < len(self.tracker.published):
            if time.monotonic() > deadline:
                log.warning("locust's statistics miss some publishes of the workers")
                return
            gevent.sleep(0.2)

    def publish_requests(self) -> int:
        entries = self.environment.runner.stats.entries.values()
        return sum(entry.num_requests for entry in entries if entry.method == "POST")

    def poll_when_grown(self, seen: int) -> int:
        """Fetch all records only once the cheap count says enough may have arrived."""
        try:
            count = self.ledger.deliveries(self.tracker.run)
        except Exception as err:  # noqa: BLE001 - retried on the next round
            log.warning("reading the ledger summary failed: %s", err)
            return seen
        if count != seen and count >= len(self.tracker.ok_publishes()):
            self.poll_ledger()
        return count

    def fire_lost(self) -> None:
        for publish in self.tracker.undelivered():
            self.environment.events.request.fire(
                request_type="E2E",
                name=f"{publish.topic} delivery",
                response_time=None,
                response_length=0,
                exception=MessageLost(f"not delivered within the drain (seq {publish.seq})"),
                context={},
            )

    def dapr_metrics(self, drained_at: float) -> dict[str, Any]:
        if self.counters_before is None:
            return metric_section(None, None, False, self.metrics_error)
        try:
            counters = DaprCounters(self.options.prometheus_url)
            current = not self.interrupted and counters.wait_for_scrape_after(drained_at)
            return metric_section(self.counters_before, counters.read(), current)
        except Exception as err:  # noqa: BLE001 - the summary says what went wrong
            return metric_section(None, None, False, f"reading Prometheus: {err}")

    def on_quitting(self, environment: Environment, **_: Any) -> None:
        if self.finishing is not None and not self.finishing.ready():
            self.interrupted = True  # Ctrl-C or SIGTERM in the drain: cut it short
            self.finishing.join(timeout=10)
        if self.tests_started == 0:
            return
        if self.tracker.run and self.concluded_run != self.tracker.run:
            # Ctrl-C or SIGTERM during the load: summarise what there is, without a drain.
            self.interrupted = True
            self.stop_reason = "interrupted"
            self.load_ended_at = self.load_ended_at or time.time()
            self.finish()
        if self.verdict is None:
            print("load run interrupted before it ended: no verdict", file=sys.stderr)
            environment.process_exit_code = GATE_EXIT
            return
        for check in self.verdict:
            print(f"threshold broken: {check.line()}", file=sys.stderr)
        if self.interrupted:
            print("load run interrupted: the figures cover only part of it", file=sys.stderr)
        environment.process_exit_code = GATE_EXIT if self.verdict or self.interrupted else 0


def results_dir_of(configured: str) -> Path:
    if configured:
        return Path(configured)
    from harness.settings import REPO_ROOT

    return REPO_ROOT / "results" / time.strftime("load-%Y%m%d-%H%M%S")
