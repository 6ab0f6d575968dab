"""The gate's checks on their own."""

from __future__ import annotations

import pytest

from loadtests.options import Thresholds
from loadtests.thresholds import GateFigures, broken, evaluate

HEALTHY = GateFigures(published=1000, failed=0, p95_publish_ms=20.0, p95_e2e_ms=40.0, lost=0)
DEFAULTS = Thresholds()


def names(figures: GateFigures, thresholds: Thresholds = DEFAULTS) -> set[str]:
    return {check.name for check in broken(evaluate(figures, thresholds))}


def test_healthy_figures_pass() -> None:
    assert names(HEALTHY) == set()


@pytest.mark.parametrize(
    ("figures", "thresholds", "named"),
    [
        (GateFigures(990, 10, 20.0, 40.0, 0), Thresholds(max_fail_ratio=0.005), "fail ratio"),
        (HEALTHY, Thresholds(max_p95_publish_ms=19.9), "p95 publish latency"),
        (HEALTHY, Thresholds(max_p95_e2e_ms=39.0), "p95 end-to-end latency"),
        (GateFigures(1000, 0, 20.0, 40.0, 1), Thresholds(), "lost messages"),
    ],
)
def test_each_threshold_breaks_alone(
    figures: GateFigures, thresholds: Thresholds, named: str
) -> None:
    assert names(figures, thresholds) == {named}


def test_limits_are_inclusive() -> None:
    assert names(HEALTHY, Thresholds(max_p95_publish_ms=20.0, max_p95_e2e_ms=40.0)) == set()
    assert names(GateFigures(1000, 0, 1.0, 1.0, 2), Thresholds(max_lost=2)) == set()


def test_the_fail_ratio_counts_failures_among_all_attempts() -> None:
    assert GateFigures(90, 10, None, None, 0).fail_ratio == pytest.approx(0.1)
    assert GateFigures(0, 0, None, None, 0).fail_ratio == 0.0


def test_a_run_that_published_nothing_fails() -> None:
    assert names(GateFigures(0, 5, None, None, 0)) == {
        "published messages",
        "fail ratio",
        "p95 publish latency",
        "p95 end-to-end latency",
        "lost messages",
    }


def test_a_line_names_the_value_the_limit_and_the_flag() -> None:
    check = next(c for c in evaluate(HEALTHY, Thresholds(max_p95_e2e_ms=30)) if not c.ok)
    assert check.line() == "BROKEN p95 end-to-end latency: 40 ms (max 30 ms, --max-p95-e2e-ms)"
