"""Fixtures of the e2e gate: one target per session, clients, diagnostics and a summary.

The target is the local stack unless `E2E_TARGET=k3d`; tests never ask which. A stack
this session started is stopped at its end, also when tests fail or on Ctrl-C.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from e2e.scoreboard import SESSION_SCOREBOARD, Scoreboard
from harness.client import SuiteClient, new_run_id
from harness.errors import HarnessError
from harness.metrics import PrometheusMetrics
from harness.settings import SettingsError
from harness.target import Target, open_target

pytest_plugins = ["e2e.progress", "e2e.report"]

SCOREBOARD = SESSION_SCOREBOARD
# The session's own local stack runs Jaeger, so the trace check can ask it (HARNESS_JAEGER=0: not)
JAEGER_SWITCH = os.environ.get("HARNESS_JAEGER") or "1"


class RecordingMetrics(PrometheusMetrics):
    """Remembers the queries a test ran so that a failure report can show them."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.queries: list[str] = []

    def value(self, query: str) -> float:
        self.queries.append(query)
        return super().value(query)


@pytest.fixture(scope="session")
def target() -> Iterator[Target]:
    try:
        chosen = open_target({**os.environ, "HARNESS_JAEGER": JAEGER_SWITCH})
        chosen.start()
    except (HarnessError, SettingsError) as exc:
        pytest.fail(f"the target did not start: {exc}", pytrace=False)
    try:
        yield chosen
    finally:
        chosen.stop()


@pytest.fixture(autouse=True)
def target_alive(request: pytest.FixtureRequest, target: Target) -> None:
    """Fail fast, naming the component, when part of the target has died."""
    problems = target.problems()
    if problems:
        pytest.fail("the target is broken: " + "; ".join(problems), pytrace=False)
    request.node.target = target


@pytest.fixture(scope="session")
def suite(target: Target) -> Iterator[SuiteClient]:
    client = SuiteClient(target.service1_url, target.service2_url)
    yield client
    client.close()


@pytest.fixture
def metrics(request: pytest.FixtureRequest, target: Target) -> RecordingMetrics:
    recording = RecordingMetrics(target.prometheus_url)
    request.node.prometheus_queries = recording.queries
    return recording


@pytest.fixture(scope="session")
def scoreboard() -> Scoreboard:
    return SCOREBOARD


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    """On failure, attach each component's log tail and the Prometheus queries run."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed or call.when == "teardown":
        return
    queries = getattr(item, "prometheus_queries", [])
    if queries:
        report.sections.append(("prometheus queries", "\n".join(dict.fromkeys(queries))))
    target: Target | None = getattr(item, "target", None)
    if target is not None:
        for name, text in target.logs_tail(30).items():
            report.sections.append((f"log tail: {name}", text or "(empty)"))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SCOREBOARD.rows or SCOREBOARD.deltas:
        terminalreporter.section("dapr pub/sub e2e summary")
        for line in SCOREBOARD.lines():
            terminalreporter.write_line(line)


@pytest.fixture(scope="session", autouse=True)
def early_t2(target: Target, suite: SuiteClient) -> tuple[str, float]:
    """One t2 message with the configured delay, published as the session starts."""
    run = new_run_id("t2-delay")
    suite.publish_ok("t2", run, 1)
    return run, target.t2_delay_seconds
