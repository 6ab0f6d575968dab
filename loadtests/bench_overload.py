"""`python -m loadtests.bench_overload`: how the stack degrades past its knee, with service-1's
publish admission off and then on.

Two local stacks of its own, one after the other (ports moved by HARNESS_PORT_OFFSET, default
here 7100): the first with PUBLISH_MAX_BACKLOG 0 (every publish admitted), the second with
`--max-backlog`. Each gets open-model steps at `--multiples` of `--knee` for
`--step-seconds` each; before the next step every message of the last one has arrived (at
most 120 s). Per step it prints the rate consumed while the load ran, what was published and
refused (503: admission), the backlog when the load ended, what was still missing after the
settle, and end-to-end p50/p99; it writes overload.json and overload.md.

A stack that degrades gracefully keeps consuming near its knee under two to three times the
load, refusing publishes rather than queueing them without bound; without admission the
backlog, and with it every message's wait, grows for as long as the overload lasts.

    python -m loadtests.bench_overload --knee 200 --multiples 1,2,3 --step-seconds 20
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.arguments import OPTION_ERROR_EXIT, command_failed, one_line_parser
from harness.errors import HarnessError
from harness.results import require_makeable, results_folder
from harness.settings import StackSettings
from harness.targets.local import LocalTarget
from loadtests.options import MAX_ARRIVAL_RATE, MIN_ARRIVAL_RATE
from loadtests.rate_search import Step, check_steps, locust_step

DEFAULT_OFFSET = 7100


@dataclass(frozen=True)
class Degradation:
    max_backlog: int  # 0: admission off
    steps: list[Step]

    @property
    def label(self) -> str:
        return f"admission on ({self.max_backlog})" if self.max_backlog else "admission off"


def build_arguments() -> argparse.ArgumentParser:
    parser = one_line_parser("python -m loadtests.bench_overload", __doc__)
    add = parser.add_argument
    add("--knee", type=float, default=200.0, help="the stack's knee, msgs/s (rate_search)")
    add("--multiples", default="1,2,3", help="offered rates as multiples of the knee")
    add("--step-seconds", type=float, default=20.0, help="load time per step")
    add("--max-backlog", type=int, default=400, help="PUBLISH_MAX_BACKLOG of the second stack")
    add("--results-dir", type=Path, default=None)
    return parser


def multiples_of(text: str) -> list[float]:
    try:
        found = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise HarnessError(
            f"--multiples {text!r}: numbers separated by commas, e.g. 1,2,3"
        ) from None
    if not found or not all(0 < m <= 10 for m in found):
        raise HarnessError(f"--multiples {text!r}: each in 0..10")
    return found


def checked(args: argparse.Namespace) -> list[float]:
    if not 1 <= args.knee <= 5000:
        raise HarnessError("--knee must be between 1 and 5000 msgs/s")
    if not 5 <= args.step_seconds <= 300:
        raise HarnessError("--step-seconds must be between 5 and 300")
    if not 1 <= args.max_backlog <= 1_000_000:
        raise HarnessError("--max-backlog must be between 1 and 1000000 messages")
    rates = [round(args.knee * m, 1) for m in multiples_of(args.multiples)]
    outside = [r for r in rates if not MIN_ARRIVAL_RATE <= r <= MAX_ARRIVAL_RATE]
    if outside:
        raise HarnessError(
            f"--knee {args.knee:g} times --multiples {args.multiples!r} gives "
            f"{', '.join(f'{r:g}' for r in outside)} msgs/s: each rate must be in "
            f"{MIN_ARRIVAL_RATE:g}..{MAX_ARRIVAL_RATE:g}"
        )
    return rates


def stack_settings(max_backlog: int) -> StackSettings:
    env = {"HARNESS_PORT_OFFSET": str(DEFAULT_OFFSET), **os.environ,
           "PUBLISH_MAX_BACKLOG": str(max_backlog)}  # fmt: skip
    return StackSettings.from_env(env)


def degrade(max_backlog: int, rates: list[float], seconds: float, out: Path) -> Degradation:
    """One stack with this admission setting, every rate in turn."""
    target = LocalTarget(stack_settings(max_backlog))
    steps = []
    with target:
        measure = locust_step(out / f"max-backlog-{max_backlog}", seconds, target)
        for rate in rates:
            step = measure(rate)
            print(describe(max_backlog, step), flush=True)
            steps.append(step)
    return Degradation(max_backlog, steps)


def describe(max_backlog: int, s: Step) -> str:
    admission = f"admission {max_backlog}" if max_backlog else "admission off"
    return (
        f"[overload] {admission}, offered {s.offered:g}/s: published {s.published_rate:g}/s, "
        f"refused {s.failed}, consumed {s.consumed_rate:g}/s, backlog {s.backlog}, "
        f"missing after settle {s.missing_after_settle}, lost {s.lost}, "
        f"e2e p50 {s.e2e_p50_ms} ms p99 {s.e2e_p99_ms} ms"
    )


def write_results(out: Path, knee: float, runs: list[Degradation]) -> Path:
    (out / "overload.json").write_text(json.dumps(
        {"knee": knee, "runs": [{"max_backlog": r.max_backlog,
                                 "steps": [asdict(s) for s in r.steps]} for r in runs]},
        indent=2))  # fmt: skip
    columns = ("admission", "offered/s", "published/s", "refused", "consumed/s", "backlog",
               "missing after settle", "e2e p50 ms", "e2e p99 ms")  # fmt: skip
    rows = [
        f"| {r.label} | {s.offered:g} | {s.published_rate:g} | {s.failed} | {s.consumed_rate:g} "
        f"| {s.backlog} | {s.missing_after_settle} | {s.e2e_p50_ms} | {s.e2e_p99_ms} |"
        for r in runs
        for s in r.steps
    ]
    table = [f"| {' | '.join(columns)} |", "|" + " --- |" * len(columns), *rows]
    path = out / "overload.md"
    path.write_text(f"# Past the knee ({knee:g} msgs/s)\n\n" + "\n".join(table) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    args = build_arguments().parse_args(argv)
    try:
        rates = checked(args)
        out = require_makeable(results_folder(args.results_dir, "overload"))
        target = LocalTarget(stack_settings(args.max_backlog))  # a bad HARNESS_* setting
        check_steps(rates, out, args.step_seconds, target)  # nothing is started by either
    except HarnessError as err:
        print(f"error: {err}", file=sys.stderr)
        return OPTION_ERROR_EXIT
    started = time.monotonic()
    try:
        out.mkdir(parents=True, exist_ok=True)
        runs = [degrade(limit, rates, args.step_seconds, out) for limit in (0, args.max_backlog)]
    except (HarnessError, KeyboardInterrupt) as err:
        return command_failed(err)
    path = write_results(out, args.knee, runs)
    print(path.read_text(), end="")
    print(f"({time.monotonic() - started:.0f} s); results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
