"""Every panel of our Grafana dashboard draws something from a real Prometheus.

A short load on the local stack covers what the panels show: plain deliveries, retries,
drops, dead letters and invocations. Then each panel query runs against the stack's
Prometheus and must return at least one finite value.
"""

from __future__ import annotations

import math
import os
import time

import pytest

from harness.client import SuiteClient
from harness.ledger import new_run_id
from harness.local_stack import LocalStack
from harness.metrics import PrometheusMetrics
from harness.settings import StackSettings
from harness.wait import WaitTimeout, wait_until
from k3d.dashboard import dashboard_queries

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONTROLS = [
    None,
    {"answer": "RETRY", "times": 1},
    {"answer": "DROP", "times": 1},
    {"answer": "RETRY", "times": 10},
]


def short_load(suite: SuiteClient, run: str, rounds: int = 25) -> int:
    """About five seconds of traffic: rate() needs the counters to grow across scrapes."""
    seq = 0
    for _ in range(rounds):
        time.sleep(0.2)
        for control in CONTROLS:
            seq += 1
            extra = {"control": control} if control else {}
            suite.publish_ok("t1", run, seq, **extra)
            suite.publish_ok("t2", run, seq + 10_000, control={"delay_seconds": 0})
    return seq


def finite_values(metrics: PrometheusMetrics, promql: str) -> list[float]:
    values = (float(row["value"][1]) for row in metrics.series(promql))
    return [value for value in values if math.isfinite(value)]


@pytest.fixture(scope="module")
def loaded_stack(tmp_path_factory):
    env = {
        **os.environ,
        "HARNESS_PORT_OFFSET": "1700",
        "HARNESS_RUN_DIR": str(tmp_path_factory.mktemp("dashboard") / "stack"),
    }
    settings = StackSettings.from_env(env)
    with LocalStack(settings, quiet=True) as stack:
        suite = SuiteClient(
            settings.url(settings.service1_port),
            settings.url(settings.service2_port),
            headers=stack.tokens.suite_headers(),
        )
        try:
            run = new_run_id("dashboard")
            published = short_load(suite, run)
            wait_until(
                lambda: len(suite.ledger.records(run)) >= 2 * published,
                timeout=30,
                what="the short load delivered",
            )
            yield stack, PrometheusMetrics(settings.url(settings.prometheus_port))
        finally:
            suite.close()


QUERIES = dashboard_queries(rate_interval="1m", range_="5m")


@pytest.mark.parametrize(
    "panel", QUERIES, ids=[f"{q.panel_id}{q.ref_id}-{q.panel_title}" for q in QUERIES]
)
def test_panel_query_returns_data(loaded_stack, panel):
    _, metrics = loaded_stack
    try:
        values = wait_until(
            lambda: finite_values(metrics, panel.promql), timeout=20, interval=0.5,
            what=f"data for panel {panel.panel_title!r}",
        )  # fmt: skip
    except WaitTimeout:
        pytest.fail(f"panel {panel.panel_title!r} draws nothing: {panel.promql}", pytrace=False)
    assert values
