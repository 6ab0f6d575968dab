"""`python -m loadtests.rate_search`: the highest arrival rate the stack sustains, found by search.

Each step is one bounded open-model locust run at a fixed arrival rate against the same stack
(started once, like `loadtests.run` does). A step is sustained when the generator and the
subscriber both kept up with the offered rate, nothing was lost, the backlog at the end stayed
under a second of traffic, and p99 end-to-end latency stayed under the limit. Before the
next step the search waits until every message of the last one has arrived (at most 120 s;
what is still missing then is reported with the step). It doubles the rate
from `--start` until a step fails (or halves it, down to an eighth, while steps fail), then
halves the gap between the last sustained and the first failed rate until they are within
`--precision`, bounded by `--max-steps`. It prints each step and the knee, and writes
steps.json, knee.md and chart.png (latency and consumed rate against the offered rate).
Each step also prints the CPU split of the local stack (`loadtests.cpu_split`: CPU ms per
message of service-1, service-2, each daprd, Redis, Prometheus and locust), so one step at a
fixed rate (`--start 100 --max-steps 1`) is the stack's CPU split at that rate.

    python -m loadtests.rate_search --start 50 --max-rate 1600 --step-seconds 15
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.arguments import OPTION_ERROR_EXIT, command_failed, one_line_parser
from harness.errors import HarnessError
from harness.ledger import arrivals_until_settled
from harness.results import require_makeable, results_folder
from harness.tokens import suite_token_env
from loadtests.cpu_split import CpuMeter, describe_split, stack_pids
from loadtests.options import MAX_ARRIVAL_RATE, MAX_USERS, MIN_ARRIVAL_RATE
from loadtests.run import LocustCommand, build_parser, run_locust, time_limit, validate_merged
from loadtests.target_session import loopback_target

QUIET_SECONDS = 3.0  # no new arrival for this long: the step's backlog has drained
SETTLE_LIMIT_SECONDS = 120.0
KEPT_UP = 0.95  # a rate counts as reached at 95% of what was offered
IN_FLIGHT_SECONDS = 0.5  # open-model users: room for this much latency at the offered rate


@dataclass(frozen=True)
class Limits:
    p99_e2e_ms: float = 1000.0
    backlog_seconds: float = 1.0  # what may still wait at the end, in seconds of traffic


@dataclass(frozen=True)
class Step:
    offered: float
    published_rate: float
    consumed_rate: float
    backlog: int
    lost: int
    failed: int
    e2e_p50_ms: float | None
    e2e_p99_ms: float | None
    results: str = ""
    settled_seconds: float = 0.0  # how long its backlog took to drain before the next step
    missing_after_settle: int = 0  # published, still not arrived when the settling gave up
    cpu: dict[str, dict[str, float]] = field(default_factory=dict)  # loadtests.cpu_split

    def shortfalls(self, limits: Limits) -> list[str]:
        """Why this step was not sustained; empty when it was."""
        why = []
        if self.published_rate < KEPT_UP * self.offered:
            why.append(f"published {self.published_rate:g}/s")
        if self.consumed_rate < KEPT_UP * self.offered:
            why.append(f"consumed {self.consumed_rate:g}/s")
        if self.lost or self.failed:
            why.append(f"lost {self.lost}, failed {self.failed}")
        if self.backlog > limits.backlog_seconds * self.offered:
            why.append(f"backlog {self.backlog}")
        if self.e2e_p99_ms is None or self.e2e_p99_ms > limits.p99_e2e_ms:
            why.append(f"p99 e2e {self.e2e_p99_ms} ms")
        return why


@dataclass(frozen=True)
class Search:
    start: float
    max_rate: float
    precision: float = 0.1  # stop when the failed rate is within 10% of the sustained one
    max_steps: int = 8


Measure = Callable[[float], Step]


Progress = Callable[[Step, list[str]], None]


def search(
    measure: Measure, plan: Search, limits: Limits, progress: Progress = lambda s, w: None
) -> list[Step]:
    """Every step measured, in order; the knee is the highest sustained offered rate."""
    steps: list[Step] = []
    good, bad = 0.0, 0.0
    rate = plan.start
    while len(steps) < plan.max_steps and rate > 0:
        step = measure(rate)
        steps.append(step)
        why = step.shortfalls(limits)
        progress(step, why)
        if why:
            bad = rate
        else:
            good = rate
        rate = _next_rate(good, bad, plan)
    return steps


def _next_rate(good: float, bad: float, plan: Search) -> float:
    """Double until a failure, then bisect; 0 when the search is done."""
    if not bad:
        return 0.0 if good >= plan.max_rate else min(good * 2, plan.max_rate)
    if not good:  # the knee is below --start: halve down to an eighth of it, or locust's floor
        half = bad / 2
        return half if half >= lowest_rate(plan) else 0.0
    if bad - good <= plan.precision * good:
        return 0.0
    middle = round((good + bad) / 2, 1)
    return middle if good < middle < bad else 0.0  # rounding met a measured rate: done


def knee(steps: list[Step], limits: Limits) -> Step | None:
    sustained = [s for s in steps if not s.shortfalls(limits)]
    return max(sustained, key=lambda s: s.offered) if sustained else None


def step_from_summary(offered: float, summary: dict[str, Any], results: Path) -> Step:
    e2e = summary["latency_ms"]["e2e"]
    return Step(
        offered=offered,
        published_rate=summary["publish_rate"],
        consumed_rate=summary["consume_rate"],
        backlog=summary["backlog"],
        lost=summary["lost"],
        failed=summary["failed"],
        e2e_p50_ms=e2e.get("p50"),
        e2e_p99_ms=e2e.get("p99"),
        results=str(results),
    )


# The search judges each step, not the load gate: its thresholds out of the way.
LOOSE = ["--max-p95-publish-ms", "1000000000", "--max-p95-e2e-ms", "1000000000",
         "--max-lost", "1000000000", "--max-fail-ratio", "1"]  # fmt: skip


def step_command(out: Path, seconds: float, target: Any, rate: float) -> LocustCommand:
    """The bounded open-model locust run of the step at `rate`, into out/rate-<rate>."""
    users = min(MAX_USERS, max(10, int(rate * IN_FLIGHT_SECONDS)))  # locust's bound
    folder = out / f"rate-{rate:g}"
    args = build_parser().parse_args([
        "--mode", "open", "--arrival-rate", f"{rate:g}", "--users", str(users),
        "--spawn-rate", str(users), "--duration", f"{seconds:g}s", "--drain-seconds", "10",
        "--results-dir", str(folder),
    ])  # fmt: skip
    return LocustCommand(target.service1_url, target.prometheus_url, folder, args, LOOSE)


def check_steps(rates: list[float], out: Path, seconds: float, target: Any) -> None:
    """locust's own check (locust.conf, LOCUST_* settings and the step's flags merged) of
    the slowest and the fastest step, before any stack starts: a setting locust refuses
    would otherwise stop the run at its first step, or at a later one."""
    for rate in sorted({min(rates), max(rates)}):
        validate_merged(step_command(out, seconds, target, rate))


def lowest_rate(plan: Search) -> float:
    """The slowest step a search can reach (see `_next_rate`)."""
    return max(plan.start / 8, MIN_ARRIVAL_RATE)


def locust_step(out: Path, seconds: float, target: Any) -> Measure:
    """One bounded open-model locust run per call, into out/rate-<rate>."""

    def measure(rate: float) -> Step:
        command = step_command(out, seconds, target, rate)
        folder = command.results_dir
        folder.mkdir(parents=True, exist_ok=True)
        meter = CpuMeter.start(stack_pids(target))
        code = run_locust(command.argv(), time_limit(command.args), suite_token_env(target.tokens))
        summary_path = folder / "summary.json"
        if code not in (0, 1) or not summary_path.is_file():
            raise HarnessError(f"the step at {rate:g}/s ended with code {code}; see {folder}")
        summary = json.loads(summary_path.read_text())
        settled, missing = settle(target.service1_url, summary["run"], summary["published"])
        step = step_from_summary(rate, summary, folder)
        cpu = meter.split(summary["published"])  # locust's own start-up and drain included
        return replace(step, settled_seconds=settled, missing_after_settle=missing, cpu=cpu)

    return measure


def settle(service1_url: str, run: str, published: int) -> tuple[float, int]:
    """Wait until every message the step published has arrived and arrivals have stopped, so
    that its backlog never counts against the next step; bounded by SETTLE_LIMIT_SECONDS.
    Returns the seconds until the last arrival and how many messages were still missing."""
    found = arrivals_until_settled(service1_url, run, published, quiet=QUIET_SECONDS,
                                   timeout=SETTLE_LIMIT_SECONDS, interval=0.5)  # fmt: skip
    last = max((at for _, at in found), default=0.0)
    return round(last, 1), max(0, published - len({seq for seq, _ in found}))


def _drained(step: Step) -> str:
    if step.missing_after_settle:
        return f"{step.missing_after_settle} still missing after {SETTLE_LIMIT_SECONDS:g} s"
    return f"all arrived {step.settled_seconds:g} s after the step"


def describe(step: Step, why: list[str]) -> str:
    verdict = "sustained" if not why else "NOT sustained: " + ", ".join(why)
    return (
        f"[rate-search] offered {step.offered:g}/s: published {step.published_rate:g}/s, "
        f"consumed {step.consumed_rate:g}/s, backlog {step.backlog}, lost {step.lost}, "
        f"e2e p50 {step.e2e_p50_ms} ms p99 {step.e2e_p99_ms} ms, {_drained(step)}: {verdict}"
        f"\n[rate-search]   {describe_split(step.cpu)}"
    )


def write_results(out: Path, steps: list[Step], limits: Limits, label: str = "") -> Step | None:
    found = knee(steps, limits)
    (out / "steps.json").write_text(
        json.dumps(
            {
                "limits": asdict(limits),
                "knee": asdict(found) if found else None,
                "steps": [asdict(s) for s in steps],
            },
            indent=2,
        )  # fmt: skip
    )
    rows = [
        f"| {s.offered:g} | {s.published_rate:g} | {s.consumed_rate:g} | {s.backlog} | {s.lost} "
        f"| {s.e2e_p50_ms} | {s.e2e_p99_ms} | {'yes' if not s.shortfalls(limits) else 'no'} |"
        for s in sorted(steps, key=lambda s: s.offered)
    ]
    head = f"knee: {found.offered:g} msgs/s" if found else "knee: below the first step"
    columns = ("offered/s", "published/s", "consumed/s", "backlog", "lost", "e2e p50 ms",
               "e2e p99 ms", "sustained")  # fmt: skip
    table = [f"| {' | '.join(columns)} |", "|" + " --- |" * len(columns), *rows]
    title = f"# Rate search{' ' + label if label else ''}"
    limit = f"(p99 e2e limit {limits.p99_e2e_ms:g} ms)"
    split = f"\n\nAt the knee, {describe_split(found.cpu)}\n" if found and found.cpu else "\n"
    (out / "knee.md").write_text(f"{title}\n\n{head} {limit}\n\n" + "\n".join(table) + split)
    from loadtests.chart import draw_rate_chart  # matplotlib: only when a chart is drawn

    draw_rate_chart({label or "stack": steps}, limits.p99_e2e_ms, out / "chart.png")
    return found


def build_arguments() -> argparse.ArgumentParser:
    parser = one_line_parser("python -m loadtests.rate_search", __doc__)
    parser.add_argument("--start", type=float, default=50.0, help="first rate, msgs/s")
    parser.add_argument("--max-rate", type=float, default=1600.0, help="highest rate tried")
    parser.add_argument("--step-seconds", type=float, default=15.0, help="load time per step")
    parser.add_argument("--max-steps", type=int, default=8)
    parser.add_argument("--precision", type=float, default=0.1, help="stop within this fraction")
    parser.add_argument("--p99-e2e-ms", type=float, default=1000.0, help="p99 end-to-end limit")
    parser.add_argument("--results-dir", type=Path, default=None)
    return parser


def checked(args: argparse.Namespace) -> tuple[Search, Limits]:
    if not MIN_ARRIVAL_RATE <= args.start <= args.max_rate <= MAX_ARRIVAL_RATE:  # NaN fails too
        raise HarnessError(
            f"--start and --max-rate: {MIN_ARRIVAL_RATE:g} <= start <= max-rate <= "
            f"{MAX_ARRIVAL_RATE:g} msgs/s"
        )
    if not 5 <= args.step_seconds <= 300:
        raise HarnessError("--step-seconds must be between 5 and 300")
    if not 1 <= args.max_steps <= 20:
        raise HarnessError("--max-steps must be between 1 and 20")
    if not 0.01 <= args.precision <= 1:
        raise HarnessError("--precision must be between 0.01 and 1")
    if not args.p99_e2e_ms > 0:
        raise HarnessError("--p99-e2e-ms must be positive")
    plan = Search(args.start, args.max_rate, args.precision, args.max_steps)
    return plan, Limits(p99_e2e_ms=args.p99_e2e_ms)


def main(argv: list[str] | None = None) -> int:
    args = build_arguments().parse_args(argv)
    try:
        plan, limits = checked(args)
        out = require_makeable(results_folder(args.results_dir, "rate-search"))
        target = loopback_target()
        check_steps([lowest_rate(plan), plan.max_rate], out, args.step_seconds, target)
    except HarnessError as err:
        print(f"error: {err}", file=sys.stderr)
        return OPTION_ERROR_EXIT
    started = time.monotonic()
    try:
        with target:
            out.mkdir(parents=True, exist_ok=True)
            steps = search(locust_step(out, args.step_seconds, target), plan, limits,
                           lambda s, w: print(describe(s, w), flush=True))  # fmt: skip
        found = write_results(out, steps, limits)
    except (HarnessError, KeyboardInterrupt) as err:
        return command_failed(err)
    where = f"{found.offered:g} msgs/s" if found else f"below {plan.start:g} msgs/s"
    print(f"knee: {where} ({len(steps)} steps, {time.monotonic() - started:.0f} s); results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
