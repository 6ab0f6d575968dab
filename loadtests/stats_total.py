"""locust's Aggregated row counts publishes only.

The end-to-end latencies ("E2E") and the publish delays ("DELAY") are fired as request events
so the UI, CSV and HTML report show them as rows; but locust adds every request event into its
Aggregated total, so 50 publishes/s with their receipts and delays showed as 150 requests/s.
Here those measurements keep their own rows (and failures) and stay out of the total.
"""

from __future__ import annotations

from locust.env import Environment
from locust.stats import RequestStats, StatsEntry

MEASUREMENTS = frozenset({"E2E", "DELAY"})  # request types that are not requests


class PublishTotalStats(RequestStats):
    def log_request(self, method: str, name: str, response_time: int, content_length: int) -> None:
        if method in MEASUREMENTS:
            self.entries[(name, method)].log(response_time, content_length)
        else:
            super().log_request(method, name, response_time, content_length)

    def log_error(self, method: str, name: str, error: Exception | str | None) -> None:
        if method not in MEASUREMENTS:
            super().log_error(method, name, error)
            return
        total, self.total = self.total, StatsEntry(self, "discarded", "")
        try:
            super().log_error(method, name, error)  # the row and the failures tab, no total
        finally:
            self.total = total


def count_publishes_only(environment: Environment) -> None:
    """Give the stats this behaviour before the first request (an init listener, on every
    process). The object itself must stay: the runner and locust's distributed reporting
    (worker report, master merge) hold it since the runner was made, so a new one would
    leave the workers' publishes out of the master's figures."""
    if not isinstance(environment.stats, PublishTotalStats):
        environment.stats.__class__ = PublishTotalStats
