"""Is the load generator the bottleneck? The suite's locust setup against wrk, same run.

Both drive service-1's publish endpoint for the same time with the same number of connections
and the same body size: locust in the closed model with no think time (the runner's own command
line, ledger polling off so only publishing competes for the CPU), then wrk with a small Lua
script. Each phase waits for its messages to be delivered before the next starts, so neither
inherits the other's backlog. With --rounds N the order alternates (locust first, then wrk
first) and each tool's rate is its messages over its seconds in all rounds, which evens out
drift on a shared machine. The ratio of achieved publish rates should be at least 0.9.

    python -m loadtests.bench_generator --seconds 10 --connections 10 [--rounds 3] [--processes 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import closing
from dataclasses import dataclass, replace

from harness.arguments import one_line_parser
from harness.errors import HarnessError
from harness.ledger import LedgerClient, new_run_id
from harness.targets import Target
from harness.tokens import SUITE_TOKEN_ENV, SUITE_TOKEN_HEADER, suite_token_env
from loadtests.messages import message_body
from loadtests.options import results_dir_of
from loadtests.run import LocustCommand, build_parser, run_locust
from loadtests.target_session import loopback_target

GOAL = 0.9
# flag: (lowest, highest, default)
FLAGS = {
    "--seconds": (3, 60, 10),
    "--connections": (1, 100, 10),
    "--processes": (1, 8, 1),
    "--message-bytes": (64, 60_000, 256),
    "--rounds": (1, 5, 1),
}
WRK_THREADS = 1  # wrk is light; one thread leaves the second core to the stack
DRAIN_TIMEOUT = 120.0


@dataclass(frozen=True)
class Achieved:
    tool: str
    ok_requests: int
    seconds: float
    detail: str = ""

    @property
    def rate(self) -> float:
        return self.ok_requests / self.seconds if self.seconds > 0 else 0.0


# -- locust -----------------------------------------------------------------------------------


def locust_phase(
    service1_url: str, prometheus_url: str, args: argparse.Namespace, env: dict[str, str]
) -> Achieved:
    results = results_dir_of(None, "bench-generator")
    run_args = build_parser().parse_args([
        "--duration", f"{args.seconds}s", "--mode", "closed", "--think-time", "0",
        "--users", str(args.connections), "--spawn-rate", "100",
        "--message-bytes", str(args.message_bytes), "--ledger-poll-seconds", "0",
        "--drain-seconds", str(DRAIN_TIMEOUT), "--processes", str(args.processes),
        # Not a gate here: only the achieved rate counts.
        "--max-p95-publish-ms", "600000", "--max-p95-e2e-ms", "600000",
        "--max-fail-ratio", "1",
    ])  # fmt: skip
    command = LocustCommand(service1_url, prometheus_url, results, run_args)
    code = run_locust(command.argv(), args.seconds + DRAIN_TIMEOUT + 120, env)
    summary_path = results / "summary.json"
    if not summary_path.exists():
        raise HarnessError(f"locust exited with {code} and wrote no {summary_path}")
    summary = json.loads(summary_path.read_text())
    publish = summary["latency_ms"]["publish"]
    detail = f"publish p50 {publish['p50']} ms, p99 {publish['p99']} ms; results {results}"
    return Achieved("locust", summary["published"], summary["load_seconds"], detail)


# -- wrk --------------------------------------------------------------------------------------


def wrk_script(run: str, message_bytes: int) -> str:
    """Lua that POSTs t1 messages of about `message_bytes` with a counter as seq."""
    template = message_body(run, 100000, 0.0, message_bytes)
    padding = template["padding"]
    return f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
-- the suite token comes from the environment, so it is never written into this file
local token = os.getenv("{SUITE_TOKEN_ENV}")
if token ~= nil and token ~= "" then wrk.headers["{SUITE_TOKEN_HEADER}"] = token end
local seq = 0
request = function()
  seq = seq + 1
  local body = string.format('{{"run":"{run}","seq":%d,"sent_at":%d,"padding":"{padding}"}}',
                             seq, os.time())
  return wrk.format(nil, "/publish/t1", nil, body)
end
"""


_REQUESTS = re.compile(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_PERCENTILE = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def parse_wrk(output: str) -> Achieved:
    match = _REQUESTS.search(output)
    if match is None:
        raise HarnessError(f"wrk printed no request count:\n{output}")
    requests, seconds = int(match[1]), float(match[2]) * _SECONDS[match[3]]
    non_2xx = int(m[1]) if (m := _NON_2XX.search(output)) else 0
    errors = sum(map(int, m.groups())) if (m := _ERRORS.search(output)) else 0
    latency = {q: float(v) * _SECONDS[unit] * 1000 for q, v, unit in _PERCENTILE.findall(output)}
    shown = ", ".join(f"p{q} {v:.3f} ms" for q, v in latency.items())
    detail = f"publish {shown}; non-2xx {non_2xx}, socket errors {errors}"
    return Achieved("wrk", requests - non_2xx, seconds, detail)


def wrk_phase(
    service1_url: str, args: argparse.Namespace, run: str, env: dict[str, str]
) -> Achieved:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise HarnessError("wrk is not installed (Debian package `wrk`)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-wrk-") as script:
        script.write(wrk_script(run, args.message_bytes))
        script.flush()
        argv = [wrk, "-t", str(WRK_THREADS), "-c", str(args.connections),
                "-d", f"{args.seconds}s", "--latency", "-s", script.name, service1_url]  # fmt: skip
        done = subprocess.run(  # fixed argv, bounded by -d and the timeout
            argv,
            capture_output=True,
            text=True,
            timeout=args.seconds + 60,
            env={**os.environ, **env},
            check=False,
        )
    if done.returncode != 0:
        raise HarnessError(f"wrk exited with {done.returncode}: {done.stderr.strip()}")
    return parse_wrk(done.stdout)


def wait_delivered(service1_url: str, run: str, expected: int, timeout: float) -> int:
    """Wait until the ledger holds `expected` deliveries of the run, so the stack is idle."""
    with closing(LedgerClient(service1_url)) as ledger:
        return ledger.wait_for_deliveries(run, expected, timeout)


# -- main -------------------------------------------------------------------------------------


def build_bench_parser() -> argparse.ArgumentParser:
    return one_line_parser("python -m loadtests.bench_generator", __doc__, FLAGS)


def main(argv: list[str] | None = None) -> int:
    args = build_bench_parser().parse_args(argv)
    phases: list[Achieved] = []
    try:
        target = loopback_target()
        with target:
            for round_ in range(args.rounds):
                locust_first = round_ % 2 == 0
                for tool in ("locust", "wrk") if locust_first else ("wrk", "locust"):
                    phases.append(run_phase(tool, target, args))
    except HarnessError as err:  # a LoadOptionError too
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print_result(phases, args)
    return 0


def run_phase(tool: str, target: Target, args: argparse.Namespace) -> Achieved:
    """One bounded phase; it returns once its messages are delivered (the stack is idle)."""
    env = suite_token_env(target.tokens)
    if tool == "locust":  # drains by itself
        return locust_phase(target.service1_url, target.prometheus_url, args, env)
    run = new_run_id("bench-wrk")
    achieved = wrk_phase(target.service1_url, args, run, env)
    delivered = wait_delivered(target.service1_url, run, achieved.ok_requests, DRAIN_TIMEOUT)
    return replace(achieved, detail=f"{achieved.detail}; delivered {delivered}")


def overall_rate(phases: list[Achieved], tool: str) -> float:
    mine = [p for p in phases if p.tool == tool]
    return sum(p.ok_requests for p in mine) / max(sum(p.seconds for p in mine), 1e-9)


def print_result(phases: list[Achieved], args: argparse.Namespace) -> None:
    print(
        f"\ngenerator benchmark: {args.rounds} round(s) of {args.seconds} s per tool, "
        f"{args.connections} connections, {args.message_bytes}-byte messages to t1, "
        f"locust processes {args.processes}"
    )
    for phase in phases:
        print(
            f"  {phase.tool:6} {phase.rate:8.1f} publishes/s "
            f"({phase.ok_requests} in {phase.seconds:.2f} s); {phase.detail}"
        )
    locust, wrk = overall_rate(phases, "locust"), overall_rate(phases, "wrk")
    ratio = locust / wrk if wrk else 0.0
    verdict = "ok" if ratio >= GOAL else "BELOW GOAL"
    print(f"  locust {locust:.1f}/s, wrk {wrk:.1f}/s over all rounds")
    print(f"  locust / wrk publish rate: {ratio:.3f} (goal >= {GOAL}) {verdict}")


if __name__ == "__main__":
    sys.exit(main())
