"""The drain benchmark's accounting and options (the real run is a benchmark, not a test)."""

from __future__ import annotations

import pytest

from harness.errors import HarnessError
from loadtests.bench_drain import build_arguments, checked, describe, summarize


def test_a_backlog_that_arrives_whole_gives_its_drain_rate() -> None:
    times = [(seq, 0.5 + seq / 100) for seq in range(1, 201)]  # 200 in 2 s after 0.5 s
    result = summarize(200, set(range(1, 201)), times, built_s=1.0)
    assert (result.arrived, result.lost, result.duplicated) == (200, 0, 0)
    assert result.first_arrival_s == 0.51 and result.drained_s == 2.5
    assert result.drain_rate == 80.0
    assert "lost 0" in describe(result)


def test_missing_and_repeated_seqs_are_lost_and_duplicated() -> None:
    times = [(1, 1.0), (1, 2.0), (2, 1.5), (99, 1.6)]  # 99 was never accepted: not counted
    result = summarize(4, {1, 2, 3}, times, built_s=0.1, refused={"HTTP 500": 1})
    assert (result.arrived, result.lost, result.duplicated) == (2, 1, 1)
    assert "(of 4 published; not accepted: 1 HTTP 500)" in describe(result)


def test_nothing_arrived_has_no_rate() -> None:
    result = summarize(100, set(range(1, 101)), [], built_s=0.3)
    assert result.drain_rate is None and result.lost == 100


@pytest.mark.parametrize("argv", [["--messages", "5"], ["--rate", "0"], ["--limit-seconds", "1"]])
def test_bad_options_are_refused(argv: list[str]) -> None:
    with pytest.raises(HarnessError):
        checked(build_arguments().parse_args(argv))
