"""What each process of the stack and the load generator uses over a long run, and its drift.

Dapr's long-haul tests watch memory and CPU over days: a leak shows as resident memory that
keeps growing at a constant load, a slow path as CPU that grows for the same work. A
`ResourceSampler` reads every process tree's CPU time and resident memory from /proc once a
`--sample-seconds` interval (one pass over /proc for all of them) while the load runs and
drains. `judge_drift` then compares the first quarter of the run with the last, the warm-up
left out, for each process: resident memory that grew by more than RSS_GROWTH (and by more
than RSS_FLOOR_MB, so a small process's noise does not count), or CPU per second that grew by
more than CPU_GROWTH (and by more than CPU_FLOOR_CORES), is drift. A run too short for four
intervals after the warm-up is not judged. Only the load is judged, not the drain after it
(less work, less CPU), and not the processes that hold data by design (NOT_JUDGED).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from harness.processes import TreeUsage, pid_alive, trees_usage

RSS_GROWTH = 0.10  # resident memory: last quarter against the first
RSS_FLOOR_MB = 5.0
CPU_GROWTH = 0.25  # CPU per second: last quarter against the first
CPU_FLOOR_CORES = 0.02
WARM_UP_SHARE = 0.10  # of the run, at least one interval: caches fill, connections open
MIN_INTERVALS = 4  # after the warm-up, to have a first and a last quarter
# Shown, never judged: their memory grows with what they hold, which is their job.
NOT_JUDGED = {
    "prometheus": "its in-memory head block grows with every scrape, for two hours by design",
    "redis": "it holds the streams, which grow with every message published",
    "locust": "the run's accounting holds every publish and receipt until the verdict",
}


@dataclass(frozen=True)
class Sample:
    """One reading: seconds since the sampler started; per process, usage so far and now."""

    t: float
    usage: Mapping[str, TreeUsage]


class ResourceSampler:
    """Reads the named process trees every `interval` seconds in a thread of its own."""

    def __init__(
        self,
        pids: Callable[[], Mapping[str, int]],
        interval: float,
        read: Callable[[Mapping[str, int]], Mapping[str, TreeUsage]] = trees_usage,
    ) -> None:
        self._pids, self._read, self.interval = pids, read, interval
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="resource-sampler", daemon=True)
        self._started = 0.0

    def __enter__(self) -> ResourceSampler:
        self._started = time.monotonic()
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()  # the end of the run, whatever the interval

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        live = {name: pid for name, pid in self._pids().items() if pid_alive(pid)}
        usage = self._read(live)
        self.samples.append(Sample(round(time.monotonic() - self._started, 3), dict(usage)))


@dataclass(frozen=True)
class Drift:
    """One process's first and last quarter, and whether that is drift."""

    process: str
    rss_mb: tuple[float, float]
    cpu_cores: tuple[float, float]
    rss_drift: bool
    cpu_drift: bool

    def line(self) -> str:
        (rss0, rss1), (cpu0, cpu1) = self.rss_mb, self.cpu_cores
        flags = [w for w, on in (("RSS", self.rss_drift), ("CPU", self.cpu_drift)) if on]
        return (
            f"{self.process}: RSS {rss0:.1f} -> {rss1:.1f} MB ({_growth(rss0, rss1)}), "
            f"CPU {cpu0:.3f} -> {cpu1:.3f} cores ({_growth(cpu0, cpu1)})"
            + (f"  DRIFT: {', '.join(flags)}" if flags else "")
        )


def _growth(first: float, last: float) -> str:
    return f"{(last - first) / first:+.0%}" if first > 0 else "n/a"


def series(samples: Sequence[Sample]) -> dict[str, dict[str, list[float]]]:
    """Per process: `t`, `rss_mb` at each sample and `cpu_cores` over the interval it ends."""
    out: dict[str, dict[str, list[float]]] = {}
    for before, after in zip(samples, samples[1:], strict=False):
        seconds = after.t - before.t
        for name, now in after.usage.items():
            was = before.usage.get(name)
            if was is None or seconds <= 0:
                continue
            line = out.setdefault(name, {"t": [], "rss_mb": [], "cpu_cores": []})
            line["t"].append(after.t)
            line["rss_mb"].append(now.rss_bytes / 2**20)
            line["cpu_cores"].append(max(0.0, now.cpu_seconds - was.cpu_seconds) / seconds)
    return out


def judge_drift(samples: Sequence[Sample], load_seconds: float | None = None) -> list[Drift] | None:
    """Each judged process's drift over the load (the samples up to `load_seconds`), or None
    when the load is too short to judge."""
    if load_seconds is not None:
        samples = [s for s in samples if s.t <= load_seconds]
    if len(samples) < 2:
        return None
    warm_up = max(WARM_UP_SHARE * samples[-1].t, samples[1].t - samples[0].t)
    drifts = []
    for name, line in series(samples).items():
        if name in NOT_JUDGED:
            continue
        kept = [i for i, t in enumerate(line["t"]) if t > warm_up]
        if len(kept) < MIN_INTERVALS:
            return None
        quarter = max(1, len(kept) // 4)
        first, last = kept[:quarter], kept[-quarter:]
        rss = (_median(line["rss_mb"], first), _median(line["rss_mb"], last))
        cpu = (_mean(line["cpu_cores"], first), _mean(line["cpu_cores"], last))
        drifts.append(
            Drift(
                name,
                rss,
                cpu,
                rss_drift=rss[1] - rss[0] > max(RSS_GROWTH * rss[0], RSS_FLOOR_MB),
                cpu_drift=cpu[1] - cpu[0] > max(CPU_GROWTH * cpu[0], CPU_FLOOR_CORES),
            )
        )
    return drifts


def _median(values: list[float], at: list[int]) -> float:
    return statistics.median(values[i] for i in at)


def _mean(values: list[float], at: list[int]) -> float:
    return statistics.fmean(values[i] for i in at)


def report(
    samples: Sequence[Sample], interval: float, load_seconds: float | None = None
) -> dict[str, Any]:
    """What resources.json holds: the rule, the series and the verdict per process."""
    drifts = judge_drift(samples, load_seconds)
    return {
        "sample_seconds": interval,
        "load_seconds": load_seconds,
        "not_judged": NOT_JUDGED,
        "rule": {
            "rss_growth": RSS_GROWTH,
            "rss_floor_mb": RSS_FLOOR_MB,
            "cpu_growth": CPU_GROWTH,
            "cpu_floor_cores": CPU_FLOOR_CORES,
            "warm_up_share": WARM_UP_SHARE,
            "min_intervals": MIN_INTERVALS,
        },
        "series": series(samples),
        "drift": None if drifts is None else [asdict(d) | {"line": d.line()} for d in drifts],
    }
