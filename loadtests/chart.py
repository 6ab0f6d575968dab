"""PNGs of a run: publish and consume rates and latency percentiles per second; a rate
search's latency against rate; a soak's memory and CPU per process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt  # the backend must be chosen first

LATENCY_LINES = (
    ("publish_p50", "publish p50", "tab:blue", "-"),
    ("publish_p95", "publish p95", "tab:blue", "--"),
    ("publish_p99", "publish p99", "tab:blue", ":"),
    ("e2e_p50", "e2e p50", "tab:orange", "-"),
    ("e2e_p95", "e2e p95", "tab:orange", "--"),
    ("e2e_p99", "e2e p99", "tab:orange", ":"),
)


def draw_chart(summary: dict[str, Any], path: Path) -> Path:
    points = summary["timeline"]
    seconds = [point["t"] for point in points]
    figure, (rates, latency) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    try:
        rates.plot(seconds, [p["published"] for p in points], label="published/s")
        rates.plot(seconds, [p["consumed"] for p in points], label="consumed/s")
        rates.axvline(summary["load_seconds"], color="grey", linestyle="--", label="end of load")
        rates.set_ylabel("messages per second")
        rates.legend(loc="upper right")
        rates.set_title(f"{summary['run']}: {summary['mode']} model, mix {summary['mix']}")
        positive = False
        for key, label, colour, style in LATENCY_LINES:
            values = [p[key] if p[key] else float("nan") for p in points]  # log: no zeros
            positive = positive or any(v == v for v in values)
            latency.plot(seconds, values, label=label, color=colour, linestyle=style)
        if positive:
            latency.set_yscale("log")
        latency.set_ylabel("latency (ms, log scale)")
        latency.set_xlabel("seconds since the start of the load")
        latency.legend(loc="upper right", ncol=2)
        return _save(figure, path)
    finally:
        plt.close(figure)


def draw_rate_chart(series: dict[str, list[Any]], p99_limit_ms: float, path: Path) -> Path:
    """Rate searches (loadtests.rate_search.Step lists), one line per label: end-to-end
    p50 and p99 against the offered rate, and the consumed rate against the offered one."""
    figure, (latency, rates) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    try:
        for label, steps in series.items():
            ordered = sorted(steps, key=lambda s: s.offered)
            offered = [s.offered for s in ordered]
            line = latency.plot(offered, [_ms(s.e2e_p99_ms) for s in ordered], marker="o",
                                label=f"{label} p99")[0]  # fmt: skip
            latency.plot(offered, [_ms(s.e2e_p50_ms) for s in ordered], marker=".",
                         linestyle="--", color=line.get_color(), label=f"{label} p50")  # fmt: skip
            rates.plot(offered, [s.consumed_rate for s in ordered], marker="o", label=label)
        latency.axhline(p99_limit_ms, color="grey", linestyle=":", label="p99 limit")
        latency.set_yscale("log")
        latency.set_ylabel("end-to-end latency (ms, log)")
        latency.legend(loc="upper left", ncol=2, fontsize="small")
        latency.set_title("rate search: latency and throughput against the offered rate")
        top = max((s.offered for steps in series.values() for s in steps), default=1.0)
        rates.plot([0, top], [0, top], color="grey", linestyle=":", label="offered")
        rates.set_ylabel("consumed msgs/s")
        rates.set_xlabel("offered msgs/s")
        rates.legend(loc="upper left", fontsize="small")
        return _save(figure, path)
    finally:
        plt.close(figure)


def _ms(value: float | None) -> float:
    return value if value else float("nan")  # log scale: no zeros


def draw_resource_chart(lines: dict[str, dict[str, list[float]]], path: Path) -> Path:
    """A soak's resources (loadtests.soak.series): resident memory and CPU of each process
    over the run, one line per process."""
    figure, (memory, cpu) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    try:
        for name, line in sorted(lines.items()):
            memory.plot(line["t"], line["rss_mb"], label=name)
            cpu.plot(line["t"], line["cpu_cores"], label=name)
        memory.set_ylabel("resident memory (MB)")
        memory.set_title("each process with its children, per sample")
        memory.legend(loc="upper left", ncol=2, fontsize="small")
        cpu.set_ylabel("CPU (cores)")
        cpu.set_xlabel("seconds since the start of the load")
        return _save(figure, path)
    finally:
        plt.close(figure)


def _save(figure: Any, path: Path) -> Path:
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path
