"""Fixtures of the e2e gate: one target per session, clients, diagnostics and a summary.

The target is the local stack unless `E2E_TARGET=k3d`; tests never ask which. A stack
this session started is stopped at its end, also when tests fail or on Ctrl-C.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from e2e.feature_scenarios import Scenario, start_all
from e2e.scoreboard import SESSION_SCOREBOARD, Scoreboard
from harness.client import SuiteClient
from harness.errors import HarnessError
from harness.ledger import new_run_id
from harness.metrics import PrometheusMetrics, Series
from harness.targets import Target, TargetStartError, open_target

pytest_plugins = ["e2e.progress", "e2e.report"]

SCOREBOARD = SESSION_SCOREBOARD
TOKENS_MODE: list[str] = []  # the line the summary prints about the target's tokens
# The session's own local stack runs Jaeger, so the trace check can ask it (HARNESS_JAEGER=0: not)
JAEGER_SWITCH = os.environ.get("HARNESS_JAEGER") or "1"


class RecordingMetrics(PrometheusMetrics):
    """Remembers the queries a test ran so that a failure report can show them."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.queries: list[str] = []

    def series(self, query: str) -> Series:
        self.queries.append(query)
        return super().series(query)


@pytest.fixture(scope="session")
def target() -> Iterator[Target]:
    """The target for the whole session; one this session started is stopped at its end."""
    with ExitStack() as session:
        try:
            chosen = session.enter_context(
                open_target({**os.environ, "HARNESS_JAEGER": JAEGER_SWITCH})
            )
        except TargetStartError as exc:  # one line, then the log tail of what failed
            raise pytest.fail.Exception(exc.report(), pytrace=False) from None
        except HarnessError as exc:  # a bad setting: nothing was started
            raise pytest.fail.Exception(str(exc), pytrace=False) from None
        TOKENS_MODE[:] = [tokens_mode_line(chosen)]
        yield chosen


def tokens_mode_line(target: Target) -> str:
    if target.tokens.enabled:
        return (
            f"api tokens: on ({target.name} target: Dapr API token, app token and suite token "
            "required; values never printed)"
        )
    return f"api tokens: off ({target.name} target runs without tokens; HARNESS_TOKENS=off)"


@pytest.fixture(autouse=True)
def target_alive(request: pytest.FixtureRequest, target: Target) -> None:
    """Fail fast, naming the component, when part of the target has died."""
    problems = target.problems()
    if problems:
        pytest.fail("the target is broken: " + "; ".join(problems), pytrace=False)
    request.node.target = target


@pytest.fixture(scope="session")
def suite(target: Target) -> Iterator[SuiteClient]:
    client = SuiteClient(
        target.service1_url, target.service2_url, headers=target.tokens.suite_headers()
    )
    yield client
    client.close()


@pytest.fixture
def service1_daprd(target: Target) -> str:
    """service-1's daprd API, for checks that publish around service-1 or test its token."""
    url = target.daprd_http_urls.get("service-1")
    if not url:
        pytest.skip(f"the {target.name} target does not expose daprd's HTTP API")
    return url


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
    if TOKENS_MODE:
        terminalreporter.section("api tokens")
        terminalreporter.write_line(TOKENS_MODE[0])
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


@pytest.fixture(scope="session", autouse=True)
def feature_scenarios(
    target: Target, suite: SuiteClient, early_t2: tuple[str, float]
) -> dict[str, Scenario]:
    """The feature topics' scenarios, published as the session starts and judged later."""
    return start_all(suite, target, PrometheusMetrics(target.prometheus_url))
