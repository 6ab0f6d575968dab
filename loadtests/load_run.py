"""One test of a load run on the master: its publishes and receipts, its timing, its end.

The conductor makes one per test (the web UI can run several in one session) and drives it;
this part only measures: it polls the ledger, fires end-to-end latency as request events,
drains stragglers, reads Dapr's counters and writes the summary and chart.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import gevent

from harness.ledger import ArrivalCursor, LedgerClient
from harness.metrics import PrometheusMetrics
from harness.wait import poll
from loadtests.accounting import DeliveryTracker, Publish, Receipt
from loadtests.chart import draw_chart
from loadtests.options import LoadOptions
from loadtests.summary import (
    SUMMARY_IN_LOG,
    Window,
    add_gate,
    build_summary,
    dapr_metric_section,
    headline,
    read_dapr_counters,
    summary_log_line,
    write_summary,
)
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
        self.ledger = LedgerClient(options.host, sleep=gevent.sleep)
        self.arrivals = ArrivalCursor(self.ledger, run)
        self.prometheus = PrometheusMetrics(options.prometheus_url, sleep=gevent.sleep)
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
            return read_dapr_counters(self.prometheus)
        except Exception as err:  # noqa: BLE001 - the run goes on; the summary says why
            self.metrics_error = f"reading {self.options.prometheus_url}: {err}"
            log.warning("Dapr metrics unavailable: %s", self.metrics_error)
            return None

    # -- during the load ----------------------------------------------------------------------

    def add_published(self, publishes: Iterable[Publish]) -> None:
        self.tracker.add_published(publishes)

    def poll_ledger(self) -> bool:
        """Read what arrived since the last poll; fire a request event per new receipt.

        False on error; the cursor has not moved then, so the next poll reads it again.
        """
        try:
            arrivals = self.arrivals.new()
        except Exception as err:  # noqa: BLE001 - the next poll may work; the drain will tell
            log.warning("reading the ledger failed: %s", err)
            return False
        for receipt in self.tracker.add_arrivals(arrivals):
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
        self.poll_ledger()
        poll(
            self.drained,
            timeout=self.options.drain_seconds,
            interval=0.5,
            on_timeout="return",
            sleep=gevent.sleep,
        )
        self.poll_ledger()

    def drained(self) -> bool:
        """One round of the drain: True once nothing is outstanding (or the run was cut short).

        A cursor poll brings only what is new, so each round simply polls.
        """
        if self.interrupted or not self.tracker.undelivered():
            return True
        self.poll_ledger()
        return not self.tracker.undelivered()

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
            return dapr_metric_section(None, None, False, self.metrics_error)
        try:
            current = not self.interrupted and self.prometheus.wait_for_scrape_after(drained_at)
            after = read_dapr_counters(self.prometheus)
            return dapr_metric_section(self.counters_before, after, current)
        except Exception as err:  # noqa: BLE001 - the summary says what went wrong
            return dapr_metric_section(None, None, False, f"reading Prometheus: {err}")

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
        if os.environ.get(SUMMARY_IN_LOG) == "1":
            print(summary_log_line(summary), flush=True)
        for check in checks:
            log.info("gate: %s", check.line())
        return checks
