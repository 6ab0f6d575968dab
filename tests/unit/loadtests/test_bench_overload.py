"""The overload benchmark's own logic: its options, its stacks' settings, its table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import HarnessError
from loadtests.bench_overload import (
    Degradation,
    build_arguments,
    checked,
    stack_settings,
    write_results,
)
from loadtests.rate_search import Step


def test_the_rates_are_the_multiples_of_the_knee() -> None:
    args = build_arguments().parse_args(["--knee", "90", "--multiples", "1, 2.5,3"])
    assert checked(args) == [90.0, 225.0, 270.0]


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--multiples", "1,x"], "numbers separated by commas"),
        (["--knee", "1000", "--multiples", "1,6"], "gives 6000 msgs/s: each rate must be in"),
        (["--knee", "1", "--multiples", "0.01,1"], "gives 0 msgs/s"),
        (["--multiples", "0,2"], "each in 0..10"),
        (["--knee", "0"], "--knee"),
        (["--step-seconds", "1"], "--step-seconds"),
        (["--max-backlog", "0"], "--max-backlog"),
    ],
)
def test_bad_options_are_named(flags: list[str], says: str) -> None:
    with pytest.raises(HarnessError, match=says):
        checked(build_arguments().parse_args(flags))


def test_each_stack_has_its_own_ports_and_admission_setting(monkeypatch) -> None:
    monkeypatch.delenv("HARNESS_PORT_OFFSET", raising=False)
    off, on = stack_settings(0), stack_settings(400)
    assert (off.publish_max_backlog, on.publish_max_backlog) == (0, 400)
    assert off.service1_port == 6060 + 7100


def step(offered: float, refused: int) -> Step:
    return Step(offered, offered, 95.0, 40, 0, refused, 30.0, 900.0)


def test_the_table_has_a_row_per_stack_and_step(tmp_path: Path) -> None:
    runs = [Degradation(0, [step(100, 0), step(200, 0)]), Degradation(400, [step(200, 150)])]
    text = write_results(tmp_path, 100.0, runs).read_text()
    assert "| admission off | 200 | 200 | 0 | 95 |" in text
    assert "| admission on (400) | 200 | 200 | 150 | 95 |" in text
    saved = json.loads((tmp_path / "overload.json").read_text())
    assert [r["max_backlog"] for r in saved["runs"]] == [0, 400]
