"""How a load run is driven inside locust, on top of locust's own runners.

Every process keeps a `ProcessJournal` of its publishes. Workers send theirs to the master
every second and when they stop; in a local run the conductor takes them directly. The
`Conductor` lives only on the master or local runner: for each test it picks the run id,
starts a `LoadRun` (which polls the ledger and fires end-to-end latency as request events),
ends the load on time, has the run drain and summarise itself, and sets the exit code.

The conductor ends the load itself (runner.stop()) instead of leaving it to locust's
--run-time, because a distributed --run-time quits before the workers have stopped and handed
over their last publishes. After a stop, a master forgets its workers until they report ready
again (--stop-timeout later), so a headless run waits for that before it quits them.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import WORKER_REPORT_INTERVAL, MasterRunner, Runner, WorkerRunner
from locust.stats import CSV_STATS_INTERVAL_SEC

from harness.arguments import OPTION_ERROR_EXIT
from harness.ledger import new_run_id
from harness.results import results_folder
from harness.wait import poll
from loadtests.accounting import Publish
from loadtests.journal import ProcessJournal
from loadtests.load_run import LoadRun
from loadtests.options import (
    MAX_USERS,
    LoadOptionError,
    LoadOptions,
    from_locust,
)
from loadtests.thresholds import Check, broken

log = logging.getLogger("loadtests")
logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per ledger poll is noise

PUBLISHED_MESSAGE = "load_published"
FLUSH_SECONDS = 1.0
GATE_EXIT = 1

# The one journal of this process, shared by its users.
JOURNAL = ProcessJournal()


def runner_of(environment: Environment) -> Runner:
    """locust creates the runner before it fires init, where the suite wires itself in."""
    if environment.runner is None:
        raise RuntimeError("locust has not created its runner yet")
    return environment.runner


def parsed_options_of(environment: Environment) -> argparse.Namespace:
    """Options exist whenever locust runs from its command line, the only way the suite runs it."""
    parsed: argparse.Namespace | None = environment.parsed_options
    if parsed is None:
        raise RuntimeError("locust was started without parsed options")
    return parsed


def install(environment: Environment) -> Conductor | None:
    """Wire this process's part: a worker publishes, a master or local runner conducts."""
    if isinstance(environment.runner, WorkerRunner):
        # The master checks the options and sends them along with each spawn.
        WorkerFlusher(environment).listen()
        return None
    options = options_or_exit(environment)
    if parsed_options_of(environment).validate_only:
        print(f"options ok: {options}")
        sys.exit(0)
    conductor = Conductor(environment, options)
    conductor.listen()
    return conductor


def options_or_exit(environment: Environment) -> LoadOptions:
    try:
        options = from_locust(parsed_options_of(environment))
        options.validate()
    except LoadOptionError as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        sys.exit(OPTION_ERROR_EXIT)
    return options


def begin_journal(environment: Environment) -> None:
    """Start numbering for the run the master announced (in the spawn message's options)."""
    parsed = parsed_options_of(environment)
    worker_index = max(getattr(environment.runner, "worker_index", 0), 0)
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
            runner_of(self.environment).send_message(PUBLISHED_MESSAGE, rows)


class Conductor:
    """The master's (or local runner's) side: one LoadRun after another."""

    def __init__(self, environment: Environment, options: LoadOptions) -> None:
        self.environment = environment
        self.runner = runner_of(environment)
        self.parsed = parsed_options_of(environment)
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
        self.results_dir = results_folder(self.parsed.results_dir, "load")
        self.test_dirs: dict[str, Path] = {}  # run id -> where its summary goes
        self.current: LoadRun | None = None
        self.greenlets: list[gevent.Greenlet] = []
        self.finishing: gevent.Greenlet | None = None
        self.verdict: list[Check] | None = None
        self.workers_at_start = 0

    @property
    def master(self) -> MasterRunner | None:
        """The runner when it is a master: only a master knows workers."""
        return self.runner if isinstance(self.runner, MasterRunner) else None

    @property
    def distributed(self) -> bool:
        return self.master is not None

    def listen(self) -> None:
        events = self.environment.events
        events.test_start.add_listener(self.on_test_start)
        events.test_stopping.add_listener(self.on_test_stopping)
        events.test_stop.add_listener(self.on_test_stop)
        events.quitting.add_listener(self.on_quitting)
        if self.distributed:
            self.runner.register_message(PUBLISHED_MESSAGE, self.on_published)

    # -- the start ----------------------------------------------------------------------------

    def on_test_start(self, environment: Environment, **_: Any) -> None:
        if not self.headless and not self.revalidate():
            self.parsed.load_run_id = ""  # users that see no run publish nothing
            gevent.spawn(self.runner.stop)
            return
        if self.current is not None:
            self.current.superseded()
        run = new_run_id("load")
        self.parsed.load_run_id = run  # travels to the workers with the spawn message
        self.parsed.load_user_rate = self.options.arrival_rate / max(self.options.users, 1)
        self.verdict = None
        master = self.master
        self.workers_at_start = len(master.clients.all) if master is not None else 0
        if not self.distributed:
            begin_journal(environment)
        load = self.current = LoadRun(run, self.options, self.environment.events.request.fire)
        self.test_dirs[run] = self.test_dir(run)
        log.info("run %s: %s", run, self.options)
        self.greenlets = [gevent.spawn(self.clock, load)]
        if self.options.ledger_poll_seconds > 0:
            self.greenlets.append(gevent.spawn(self.poll_every, load))

    def test_dir(self, run: str) -> Path:
        """Headless: the run's folder; the web UI: one subfolder per test started from it."""
        if self.headless:
            return self.results_dir
        return self.results_dir / f"test-{len(self.test_dirs) + 1:02d}-{run}"

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

    # -- during the load ----------------------------------------------------------------------

    def clock(self, load: LoadRun) -> None:
        """End the load after the run time, at the message limit, or above the user limit."""

        def stop_reason() -> str:
            load.stop_reason = load.stop_reason or self.limit_reached(load)
            return load.stop_reason

        poll(
            stop_reason,
            timeout=load.options.run_seconds,
            interval=0.1,
            on_timeout="return",
            sleep=gevent.sleep,
        )
        load.stop_reason = load.stop_reason or "run time reached"
        log.info("ending the load: %s", load.stop_reason)
        self.runner.stop()
        if self.headless and self.finishing is not None:
            self.finishing.join()
            self.wait_for_workers_ready()
            if self.parsed.csv_prefix:
                # locust rewrites its CSV once a second, not at exit: once more after our last
                # events, or the CSV misses the final receipts.
                gevent.sleep(CSV_STATS_INTERVAL_SEC + 0.25)
            self.runner.quit()

    def limit_reached(self, load: LoadRun) -> str:
        users = self.runner.target_user_count
        if users > MAX_USERS:
            return f"{users} users is above the limit of {MAX_USERS}"
        if len(load.tracker.published) + len(JOURNAL.pending) >= load.options.max_messages:
            return f"--max-messages {load.options.max_messages} reached"
        return ""

    def poll_every(self, load: LoadRun) -> None:
        while True:
            gevent.sleep(load.options.ledger_poll_seconds)
            self.take_local_publishes(load)
            load.poll_ledger()

    def on_published(self, environment: Environment, msg: Any, **_: Any) -> None:
        if self.current is not None:
            self.current.add_published(Publish.from_row(row) for row in msg.data)

    def take_local_publishes(self, load: LoadRun) -> None:
        if not self.distributed and load is self.current:
            load.add_published(JOURNAL.take())

    # -- the end ------------------------------------------------------------------------------

    def on_test_stopping(self, environment: Environment, **_: Any) -> None:
        # The load ends now; test_stop comes once the workers have stopped, a second later.
        if self.current is not None and not self.current.load_ended_at:
            self.current.load_ended_at = time.time()

    def on_test_stop(self, environment: Environment, **_: Any) -> None:
        load = self.current
        if load is None or load.concluded or self.parsed.load_run_id != load.run:
            return
        load.load_ended_at = load.load_ended_at or time.time()
        self.take_local_publishes(load)
        JOURNAL.end()
        current = gevent.getcurrent()
        for greenlet in self.greenlets:
            if greenlet is not current:
                greenlet.kill(block=False)
        self.finishing = gevent.spawn(self.finish, load)

    def finish(self, load: LoadRun) -> None:
        load.concluded = True
        try:
            self.take_local_publishes(load)
            if load.interrupted:
                load.poll_ledger()  # what arrived so far; no drain, nothing called lost
            else:
                load.drain()
                self.wait_for_worker_reports(load)
                load.fire_lost()
            self.verdict = broken(load.summarize(self.test_dirs.get(load.run, self.results_dir)))
        except Exception as err:
            log.exception("the run could not be concluded")
            self.verdict = [Check(f"concluding the run ({err})", "", None, 0.0)]
        finally:
            load.ledger.close()

    def wait_for_worker_reports(self, load: LoadRun) -> None:
        """Workers report their statistics every few seconds; wait until the master's hold
        every publish their journals handed over, so CSV and HTML report count them all."""
        if not self.distributed:
            return
        expected = len(load.tracker.published)
        counted = poll(
            self.publish_requests,
            lambda count: count >= expected,
            timeout=WORKER_REPORT_INTERVAL + 2.0,
            interval=0.2,
            on_timeout="return",
            sleep=gevent.sleep,
        )
        if counted < expected:
            log.warning("locust's statistics miss some publishes of the workers")

    def publish_requests(self) -> int:
        entries = self.runner.stats.entries.values()
        return sum(entry.num_requests for entry in entries if entry.method == "POST")

    def wait_for_workers_ready(self) -> None:
        """A master sends quit only to the workers it knows: wait until all are back."""
        master = self.master
        if master is None:
            return
        ready = poll(
            lambda: len(master.clients.ready),
            lambda count: count >= self.workers_at_start,
            timeout=(self.environment.stop_timeout or 0) + 5.0,
            interval=0.1,
            on_timeout="return",
            sleep=gevent.sleep,
        )
        if ready < self.workers_at_start:
            log.warning("not every worker came back after the stop; quitting anyway")

    def on_quitting(self, environment: Environment, **_: Any) -> None:
        load = self.current
        if load is None:
            return  # the web UI never ran a test: nothing to judge
        if self.finishing is not None and not self.finishing.ready():
            load.interrupted = True  # Ctrl-C or SIGTERM in the drain: cut it short
            self.finishing.join(timeout=10)
        if not load.concluded:
            # Ctrl-C or SIGTERM during the load: summarise what there is, without a drain.
            load.interrupted = True
            load.stop_reason = "interrupted"
            load.load_ended_at = load.load_ended_at or time.time()
            self.finish(load)
        environment.process_exit_code = self.exit_code(load)

    def exit_code(self, load: LoadRun) -> int:
        if self.verdict is None:
            print("load run interrupted before it ended: no verdict", file=sys.stderr)
            return GATE_EXIT
        for check in self.verdict:
            print(f"threshold broken: {check.line()}", file=sys.stderr)
        if load.interrupted:
            print("load run interrupted: the figures cover only part of it", file=sys.stderr)
        return GATE_EXIT if self.verdict or load.interrupted else 0
