"""A soak's resource samples: the series per process, and what counts as drift."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from harness.processes import TreeUsage
from harness.wait import poll
from loadtests.chart import draw_resource_chart
from loadtests.soak import ResourceSampler, Sample, judge_drift, report, series

MB = 2**20


def run(rss_mb: list[float], cpu_per_second: list[float], every: float = 60.0) -> list[Sample]:
    """Samples of one process: its memory at each sample and its CPU over the interval before."""
    samples, cpu = [Sample(0.0, {"service-1": TreeUsage(0.0, int(rss_mb[0] * MB))})], 0.0
    for i, (rss, cores) in enumerate(zip(rss_mb[1:], cpu_per_second, strict=True), start=1):
        cpu += cores * every
        samples.append(Sample(i * every, {"service-1": TreeUsage(cpu, int(rss * MB))}))
    return samples


def test_series_gives_memory_at_each_sample_and_cpu_over_each_interval() -> None:
    lines = series(run([100, 110, 120], [0.5, 0.25]))
    assert lines["service-1"]["t"] == [60.0, 120.0]
    assert lines["service-1"]["rss_mb"] == pytest.approx([110, 120])
    assert lines["service-1"]["cpu_cores"] == pytest.approx([0.5, 0.25])


def test_a_flat_run_does_not_drift() -> None:
    drifts = judge_drift(run([100.0] * 21, [0.4] * 20))
    assert drifts is not None
    assert [(d.rss_drift, d.cpu_drift) for d in drifts] == [(False, False)]


def test_memory_that_keeps_growing_is_drift() -> None:
    drifts = judge_drift(run([100.0 + 2 * i for i in range(21)], [0.4] * 20))
    assert drifts is not None and drifts[0].rss_drift and not drifts[0].cpu_drift
    assert "DRIFT: RSS" in drifts[0].line()


def test_cpu_that_grows_for_the_same_load_is_drift() -> None:
    drifts = judge_drift(run([100.0] * 21, [0.4] * 10 + [0.6] * 10))
    assert drifts is not None and drifts[0].cpu_drift and not drifts[0].rss_drift


def test_small_changes_stay_under_the_floors() -> None:
    # +4 MB on a 20 MB process is 20%, under the 5 MB floor; +0.01 cores under its floor.
    drifts = judge_drift(run([20.0] * 10 + [24.0] * 11, [0.01] * 10 + [0.02] * 10))
    assert drifts is not None and not drifts[0].rss_drift and not drifts[0].cpu_drift


def test_the_warm_up_is_left_out() -> None:
    # Memory fills in the first two minutes of twenty, then stays: not drift.
    drifts = judge_drift(run([50.0, 80.0, 100.0] + [100.0] * 18, [0.4] * 20))
    assert drifts is not None and not drifts[0].rss_drift


def test_a_short_run_is_not_judged() -> None:
    assert judge_drift(run([100.0, 200.0, 300.0], [0.1, 0.9])) is None
    assert judge_drift(run([100.0], [])) is None
    assert report(run([100.0, 200.0], [0.1]), 60.0)["drift"] is None


def test_the_sampler_reads_at_start_every_interval_and_at_the_end() -> None:
    reads: list[Mapping[str, int]] = []

    def read(pids: Mapping[str, int]) -> dict[str, TreeUsage]:
        reads.append(dict(pids))
        return {name: TreeUsage(0.0, 0) for name in pids}

    with ResourceSampler(lambda: {"gone": 2**22 + 1, "me": 1}, 0.05, read=read) as sampler:
        poll(lambda: len(sampler.samples), lambda n: n >= 3, timeout=10, interval=0.01)
    assert len(sampler.samples) >= 4  # the start, two intervals or more, the end
    assert all(pids == {"me": 1} for pids in reads)  # a process that is gone is not read
    times = [s.t for s in sampler.samples]
    assert times == sorted(times) and times[0] < sampler.interval  # the first, at the start


def test_the_drain_after_the_load_and_the_data_holders_are_not_judged() -> None:
    samples = run([100.0] * 26, [0.4] * 20 + [0.9] * 5)  # a backlog drained at full speed
    whole = judge_drift(samples)
    assert whole is not None and whole[0].cpu_drift
    during = judge_drift(samples, load_seconds=20 * 60.0)
    assert during is not None and not during[0].cpu_drift
    grows = [Sample(s.t, {"redis": TreeUsage(0.0, int((10 + s.t) * MB))}) for s in samples]
    assert judge_drift(grows) == []  # shown in the series, never judged


def test_the_chart_shows_every_process(tmp_path: Path) -> None:
    lines = series(run([100.0, 110.0, 120.0], [0.5, 0.25]))
    path = draw_resource_chart(lines, tmp_path / "resources.png")
    assert path.read_bytes().startswith(b"\x89PNG")
