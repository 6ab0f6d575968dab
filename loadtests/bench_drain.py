"""`python -m loadtests.bench_drain`: how fast the stack works off a backlog.

On a local stack of its own (moved ports: HARNESS_PORT_OFFSET, default here 7000), the
subscriber's sidecar (daprd of service-1) is frozen with SIGSTOP, `--messages` t1 events
are published through service-2's sidecar at `--rate` so that they wait in the broker, then
the sidecar is resumed. Printed: how long the backlog took to arrive in service-1's ledger,
the drain rate, the time to the first arrival, and lost / duplicated. The sidecar is resumed
in a `finally`, and the stack is always stopped.

    python -m loadtests.bench_drain --messages 3000 --rate 300
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.arguments import OPTION_ERROR_EXIT, command_failed, one_line_parser
from harness.errors import HarnessError
from harness.faults.load import OpenLoad
from harness.ledger import arrivals_until_settled, new_run_id
from harness.local_stack import LocalStack
from harness.results import require_makeable, results_folder
from harness.settings import StackSettings

SUBSCRIBER_SIDECAR = "daprd-service-1"
DEFAULT_OFFSET = 7000
QUIET_SECONDS = 5.0  # no new arrival for this long after the last one: the drain is over


@dataclass(frozen=True)
class Drain:
    messages: int
    accepted: int  # publishes daprd answered 2xx while the subscriber was frozen
    refused: dict[str, int]  # the other publishes, by how they ended (HTTP 500, ReadTimeout)
    backlog_built_s: float
    first_arrival_s: float | None  # from the resume
    drained_s: float | None  # from the resume to the last arrival
    drain_rate: float | None  # accepted messages per second of drain
    arrived: int
    lost: int
    duplicated: int


def measure(stack: LocalStack, messages: int, rate: float, limit: float) -> Drain:
    s = stack.settings
    run = new_run_id("drain")
    load = OpenLoad(s.url(s.sidecar2.http), run, "t1", rate=rate, seconds=messages / rate,
                    via_dapr=True, headers=stack.tokens.dapr_headers())  # fmt: skip
    built = time.monotonic()
    stack.send_signal(SUBSCRIBER_SIDECAR, signal.SIGSTOP)
    try:
        load.start()
        calls = load.join()
        built_s = time.monotonic() - built
    finally:
        stack.send_signal(SUBSCRIBER_SIDECAR, signal.SIGCONT)
    resumed = time.monotonic()
    accepted = {c.seq for c in calls if c.outcome.value == "ok"}
    refused = Counter(c.detail for c in calls if c.outcome.value != "ok")
    if len(calls) < messages:  # the generator fell behind its schedule and was cut off
        refused["not sent in time"] = messages - len(calls)
    times = arrivals_until_settled(s.url(s.service1_port), run, len(accepted),
                                   quiet=QUIET_SECONDS, timeout=limit, since=resumed)  # fmt: skip
    return summarize(messages, accepted, times, built_s, dict(refused))


def summarize(
    messages: int,
    accepted: set[int],
    times: list[tuple[int, float]],
    built_s: float,
    refused: dict[str, int] | None = None,
) -> Drain:
    seen = Counter(seq for seq, _ in times if seq in accepted)
    first = min((t for _, t in times), default=None)
    last = max((t for _, t in times), default=None)
    return Drain(
        messages=messages,
        accepted=len(accepted),
        refused=refused or {},
        backlog_built_s=round(built_s, 2),
        first_arrival_s=round(first, 3) if first is not None else None,
        drained_s=round(last, 2) if last is not None else None,
        drain_rate=round(len(seen) / last, 1) if last else None,
        arrived=len(seen),
        lost=len(accepted - set(seen)),
        duplicated=sum(1 for n in seen.values() if n > 1),
    )


def build_arguments() -> argparse.ArgumentParser:
    parser = one_line_parser("python -m loadtests.bench_drain", __doc__)
    parser.add_argument("--messages", type=int, default=3000, help="backlog size (100..100000)")
    parser.add_argument("--rate", type=float, default=300.0, help="publishes per second")
    parser.add_argument("--limit-seconds", type=float, default=300.0, help="longest drain")
    parser.add_argument("--results-dir", type=Path, default=None)
    return parser


def checked(args: argparse.Namespace) -> None:
    if not 100 <= args.messages <= 100_000:
        raise HarnessError("--messages must be between 100 and 100000")
    if not 1 <= args.rate <= 5000:
        raise HarnessError("--rate must be between 1 and 5000 publishes per second")
    if not 10 <= args.limit_seconds <= 3600:
        raise HarnessError("--limit-seconds must be between 10 and 3600")


def main(argv: list[str] | None = None) -> int:
    args = build_arguments().parse_args(argv)
    env = {"HARNESS_PORT_OFFSET": str(DEFAULT_OFFSET), **os.environ}
    try:
        checked(args)
        settings = StackSettings.from_env(env)
        out = require_makeable(results_folder(args.results_dir, "drain"))
    except HarnessError as err:
        print(f"error: {err}", file=sys.stderr)
        return OPTION_ERROR_EXIT
    try:
        with LocalStack(settings) as stack:
            print(f"[drain] subscriber frozen; publishing {args.messages} at {args.rate:g}/s",
                  flush=True)  # fmt: skip
            result = measure(stack, args.messages, args.rate, args.limit_seconds)
    except (HarnessError, KeyboardInterrupt) as err:
        return command_failed(err)
    out.mkdir(parents=True, exist_ok=True)
    (out / "drain.json").write_text(json.dumps(asdict(result), indent=2))
    print(describe(result))
    print(f"results: {out}")
    return 0 if result.lost == 0 else 1


def describe(d: Drain) -> str:
    return (
        f"backlog of {d.accepted} (of {d.messages} published{_refused(d)}) built in "
        f"{d.backlog_built_s} s; "
        f"after the resume: first arrival {d.first_arrival_s} s, all arrived in {d.drained_s} s, "
        f"drain rate {d.drain_rate} msgs/s; arrived {d.arrived}, lost {d.lost}, "
        f"duplicated {d.duplicated}"
    )


def _refused(d: Drain) -> str:
    if not d.refused:
        return ""
    return "; not accepted: " + ", ".join(f"{n} {why}" for why, n in sorted(d.refused.items()))


if __name__ == "__main__":
    sys.exit(main())
