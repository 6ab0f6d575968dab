"""The rate search converges on a fake stack whose knee is known."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.settings import REPO_ROOT
from loadtests.rate_search import (
    Limits,
    Search,
    Step,
    build_arguments,
    checked,
    knee,
    lowest_rate,
    search,
    step_from_summary,
    write_results,
)

LIMITS = Limits(p99_e2e_ms=1000.0)


def fake_stack(capacity: float):
    """Keeps up to `capacity` msgs/s; above it consumption stalls and latency explodes."""

    def measure(rate: float) -> Step:
        if rate <= capacity:
            return Step(rate, rate, rate, 0, 0, 0, 5.0, 20.0 + rate / 10)
        return Step(rate, rate, capacity * 0.8, int(rate * 5), 0, 0, 900.0, 8000.0)

    return measure


@pytest.mark.parametrize("capacity", [130.0, 400.0, 777.0])
def test_the_search_finds_the_knee_within_its_precision(capacity: float) -> None:
    steps = search(fake_stack(capacity), Search(start=50, max_rate=1600, precision=0.1,
                                                max_steps=12), LIMITS)  # fmt: skip
    found = knee(steps, LIMITS)
    assert found is not None
    assert capacity * 0.9 <= found.offered <= capacity
    failed = [s.offered for s in steps if s.shortfalls(LIMITS)]
    assert min(failed) - found.offered <= 0.1 * found.offered


def test_a_stack_faster_than_the_ceiling_stops_at_the_ceiling() -> None:
    steps = search(fake_stack(10_000), Search(50, 400), LIMITS)
    assert [s.offered for s in steps] == [50, 100, 200, 400]
    assert knee(steps, LIMITS).offered == 400  # type: ignore[union-attr]


def test_a_knee_below_the_first_step_is_searched_downwards() -> None:
    steps = search(fake_stack(10), Search(50, 400), LIMITS)
    found = knee(steps, LIMITS)
    assert found is not None and 9 <= found.offered <= 10


def test_a_stack_that_sustains_nothing_has_no_knee() -> None:
    steps = search(fake_stack(1), Search(50, 400), LIMITS)
    assert [s.offered for s in steps] == [50, 25, 12.5, 6.25] and knee(steps, LIMITS) is None


def test_a_downward_search_stops_at_the_lowest_rate_locust_paces() -> None:
    steps = search(fake_stack(0.01), Search(0.4, 10), LIMITS)
    assert [s.offered for s in steps] == [0.4, 0.2, 0.1]


def test_a_bisection_never_measures_a_rate_twice() -> None:
    steps = search(fake_stack(0.12), Search(0.1, 0.2, precision=0.01, max_steps=8), LIMITS)
    assert [s.offered for s in steps] == [0.1, 0.2]  # the middle rounds to 0.1 (or 0.2)


def test_the_step_count_is_bounded() -> None:
    assert len(search(fake_stack(333), Search(50, 1600, precision=0.01, max_steps=5), LIMITS)) == 5


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        (Step(100, 80, 80, 0, 0, 0, 5, 10), "published 80/s"),
        (Step(100, 100, 50, 0, 0, 0, 5, 10), "consumed 50/s"),
        (Step(100, 100, 100, 0, 3, 0, 5, 10), "lost 3"),
        (Step(100, 100, 100, 500, 0, 0, 5, 10), "backlog 500"),
        (Step(100, 100, 100, 0, 0, 0, 5, 1500), "p99 e2e 1500"),
        (Step(100, 100, 100, 0, 0, 0, None, None), "p99 e2e None"),
    ],
)
def test_each_shortfall_is_named(step: Step, reason: str) -> None:
    assert any(reason in why for why in step.shortfalls(LIMITS))


def test_a_summary_becomes_a_step(tmp_path: Path) -> None:
    summary = {"publish_rate": 99.5, "consume_rate": 99.0, "backlog": 2, "lost": 0, "failed": 0,
               "latency_ms": {"e2e": {"p50": 4.2, "p99": 31.0}}}  # fmt: skip
    step = step_from_summary(100, summary, tmp_path)
    assert (step.e2e_p99_ms, step.consumed_rate, step.results) == (31.0, 99.0, str(tmp_path))


def test_results_are_a_table_a_chart_and_json(tmp_path: Path) -> None:
    steps = search(fake_stack(300), Search(50, 1600), LIMITS)
    found = write_results(tmp_path, steps, LIMITS)
    assert found is not None
    assert f"knee: {found.offered:g} msgs/s" in (tmp_path / "knee.md").read_text()
    assert (tmp_path / "chart.png").stat().st_size > 1000
    assert '"knee"' in (tmp_path / "steps.json").read_text()


@pytest.mark.parametrize(
    "argv",
    [["--start", "0"], ["--start", "500", "--max-rate", "100"], ["--step-seconds", "1"],
     ["--max-steps", "50"], ["--precision", "0"], ["--p99-e2e-ms", "-1"],
     ["--start", "0.05"], ["--max-rate", "6000"], ["--start", "nan"], ["--max-rate", "nan"],
     ["--precision", "nan"], ["--p99-e2e-ms", "nan"]],
)  # fmt: skip
def test_bad_options_are_refused_in_one_line(argv: list[str]) -> None:
    with pytest.raises(HarnessError):
        checked(build_arguments().parse_args(argv))


@pytest.mark.parametrize("module", ["loadtests.rate_search", "loadtests.bench_overload"])
def test_a_setting_locust_refuses_stops_the_run_before_any_stack(
    module: str, tmp_path: Path
) -> None:
    argv = ["--knee", "100"] if module.endswith("overload") else []
    done = subprocess.run(
        [sys.executable, "-m", module, *argv, "--results-dir", str(tmp_path / "out")],
        cwd=REPO_ROOT,
        env={**os.environ, "LOCUST_MESSAGE_BYTES": "70000", "HARNESS_RUN_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: --message-bytes 70000 must be in 0..60000"
    ], done.stderr
    assert not (tmp_path / "out").exists()
    assert done.stdout == ""


def test_the_slowest_step_is_the_halving_floor() -> None:
    assert lowest_rate(Search(50, 400)) == 6.25
    assert lowest_rate(Search(0.4, 10)) == 0.1
