"""The CPU split of a run: CPU milliseconds per message of each process of the stack and of
the load generator, all read over the same stretch of time, so their ratios hold on a
machine shared with others (the absolute figures move with what else runs there).

A benchmark starts a meter before its load and asks for the split after it; the split
covers everything each process did meanwhile (publishing, delivering, the drain). The stack's
processes are read from /proc while they run; the load generator is our own child, gone by the
time the split is asked for, so its CPU is what the kernel adds to our children's rusage once
it has been waited for.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Mapping
from dataclasses import dataclass

from harness.processes import trees_cpu_seconds

LOAD_GENERATOR = "locust"


@dataclass
class CpuMeter:
    """CPU seconds of named processes (each with its descendants) since the meter started."""

    pids: dict[str, int]
    started: dict[str, float]
    children_started: float
    started_at: float

    @classmethod
    def start(cls, pids: Mapping[str, int]) -> CpuMeter:
        """Call it before the load generator starts: its CPU counts from here."""
        return cls(dict(pids), trees_cpu_seconds(pids), _children_cpu(), time.monotonic())

    def split(self, messages: int) -> dict[str, dict[str, float]]:
        """Per process: `ms_per_msg`, its CPU ms per message, and `cores`, the share of a
        core it used meanwhile; empty when nothing was sent. Call it after the load generator
        has been waited for."""
        if messages <= 0:
            return {}
        now = trees_cpu_seconds(self.pids)
        used = {name: now[name] - self.started[name] for name in self.pids}
        used[LOAD_GENERATOR] = _children_cpu() - self.children_started
        seconds = max(time.monotonic() - self.started_at, 1e-9)
        split = {}
        for name, seconds_used in used.items():
            cpu = max(0.0, seconds_used)
            split[name] = {"ms_per_msg": round(1000 * cpu / messages, 3),
                           "cores": round(cpu / seconds, 3)}  # fmt: skip
        return split


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def stack_pids(target: object) -> dict[str, int]:
    """The target's processes when it can name them (the local stack), else none."""
    process_ids = getattr(target, "process_ids", None)
    return process_ids() if callable(process_ids) else {}


def describe_split(split: Mapping[str, Mapping[str, float]]) -> str:
    """One line: CPU ms per message of each process, and service-1 against its sidecar."""
    if not split:
        return "no CPU split"
    parts = [f"{name} {cpu['ms_per_msg']:g}" for name, cpu in split.items()]
    line = "CPU ms/msg: " + ", ".join(parts)
    service, sidecar = split.get("service-1"), split.get("daprd-service-1")
    if service is not None and sidecar is not None and sidecar["ms_per_msg"] > 0:
        line += f"; service-1/daprd-service-1 {service['ms_per_msg'] / sidecar['ms_per_msg']:.2f}"
    return line
