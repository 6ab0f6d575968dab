"""One test of a load run on the master: its publishes and receipts, its timing, its end.

The conductor makes one per test (the web UI can run several in one session) and drives it;
this part only measures: it polls the ledger, fires end-to-end latency as request events,
drains stragglers, reads Dapr's counters and writes the summary and chart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import gevent

from loadtests.accounting import DeliveryTracker, Publish, Receipt
from loadtests.chart import draw_chart
from loadtests.dapr_metrics import DaprCounters, metric_section
from loadtests.ledger_client import LedgerClient
from loadtests.options import LoadOptions
from loadtests.summary import Window, add_gate, build_summary, headline, write_summary
from loadtests.thresholds import Check

log = logging.getLogger("loadtests")

FireRequest = Callable[..., None]


class MessageLost(Exception):
    """A message published with success that never reached the subscriber."""


class LoadRun:
    def __init__(self, run: str, options: LoadOptions, fire_request: FireRequest) -> None:
        self.run = run
        self.options = options
        self.fire_request = fire_request
        self.tracker = DeliveryTracker(run=run)
        self.ledger = LedgerClient(options.host)
        self.started_at = time.time()
        self.load_ended_at = 0.0
        self.stop_reason = ""
        self.interrupted = False
        self.concluded = False
        self.metrics_error: str | None = None
        self.counters_before = self.read_counters()

    def superseded(self) -> None:
        """A newer test started: this one may still conclude, but adds nothing to its stats."""
        self.fire_request = lambda **_: None

    def read_counters(self) -> dict[str, dict[str, float]] | None:
        try:
            return DaprCounters(self.options.prometheus_url).read()
        except Exception as err:  # noqa: BLE001 - the run goes on; the summary says why
            self.metrics_error = f"reading {self.options.prometheus_url}: {err}"
            log.warning("Dapr metrics unavailable: %s", self.metrics_error)
            return None

    # -- during the load ----------------------------------------------------------------------

    def add_published(self, publishes: Iterable[Publish]) -> None:
        self.tracker.add_published(publishes)

    def poll_ledger(self) -> bool:
        """Read the run's records; fire a request event for each new receipt. False on error."""
        try:
            records = self.ledger.records(self.run)
        except Exception as err:  # noqa: BLE001 - the next poll may work; the drain will tell
            log.warning("reading the ledger failed: %s", err)
            return False
        for receipt in self.tracker.update(records):
            self.fire_receipt(receipt)
        return True

    def fire_receipt(self, receipt: Receipt) -> None:
        self.fire_request(
            request_type="E2E",
            name=f"{receipt.topic} delivery",
            response_time=receipt.latency_ms,
            response_length=0,
            exception=None,
            context={},
        )

    # -- after the load -----------------------------------------------------------------------

    def drain(self) -> None:
        """Wait for stragglers: until every publish arrived, or the drain time is up."""
        deadline = time.monotonic() + self.options.drain_seconds
        self.poll_ledger()
        seen = -1
        while self.tracker.undelivered() and time.monotonic() < deadline and not self.interrupted:
            gevent.sleep(0.5)
            seen = self.poll_when_grown(seen)
        self.poll_ledger()

    def poll_when_grown(self, seen: int) -> int:
        """Fetch all records only once the cheap count says enough may have arrived."""
        try:
            count = self.ledger.deliveries(self.run)
        except Exception as err:  # noqa: BLE001 - retried on the next round
            log.warning("reading the ledger summary failed: %s", err)
            return seen
        if count != seen and count >= len(self.tracker.ok_publishes()):
            self.poll_ledger()
        return count

    def fire_lost(self) -> None:
        """Each lost message as a failed E2E request, so the UI and reports show it too."""
        for publish in self.tracker.undelivered():
            self.fire_request(
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

    def summarize(self, results_dir: Path) -> list[Check]:
        """Write summary.json and chart.png, log the headline, return every gate check."""
        drained_at = time.time()
        dapr = self.dapr_metrics(drained_at)
        window = Window(self.started_at, self.load_ended_at or drained_at, drained_at)
        summary = build_summary(self.run, self.options, window, self.tracker, dapr)
        summary["stop_reason"] = self.stop_reason or "stopped"
        summary["interrupted"] = self.interrupted
        checks = add_gate(summary, self.options.thresholds)
        write_summary(summary, results_dir)
        draw_chart(summary, results_dir / "chart.png")
        log.info("summary %s\n%s", results_dir / "summary.json", headline(summary))
        for check in checks:
            log.info("gate: %s", check.line())
        return checks
