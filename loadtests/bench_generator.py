"""How many publishes one core of each load generator sends, against an endpoint that does nothing.

Driving service-1 shows service-1's ceiling, not the generator's. Here every generator drives a
no-op publish endpoint (loadtests/noop_endpoint.py, uvicorn in a process of its own) for the
same time with the same connections and body size:

- `locust`: the suite's locust setup, the runner's own command line (closed model, no think
  time; ledger polling and drain off, as there is no ledger);
- `locust-bare`: locust alone, a FastHttpUser posting a fixed body (loadtests/bare_locustfile.py),
  which tells locust's own cost from what the suite adds per publish;
- `wrk`: one thread and a small Lua script.

In the middle of each run (start-up and wind-down left out) the benchmark counts the requests the
endpoint answered and the CPU time the generator's processes used (read from /proc), and reports
requests per CPU-second of the generator: what one core of it sends, whatever the endpoint or the
rest of the machine leaves it. The endpoint's own CPU shows whether it was the limit. With
--rounds N the order of the generators rotates. The goal: locust at least 0.9 of wrk per core.

    python -m loadtests.bench_generator --seconds 10 --connections 10 [--rounds 2] [--processes 2]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from harness.arguments import command_failed, one_line_parser
from harness.errors import HarnessError
from harness.processes import stop_group, tree_cpu_seconds
from harness.results import require_makeable, results_folder
from harness.settings import REPO_ROOT
from harness.tokens import SUITE_TOKEN_ENV, SUITE_TOKEN_HEADER
from harness.wait import WaitTimeout, poll
from loadtests.messages import message_body
from loadtests.run import LocustCommand, build_parser, start_locust, stop_locust, wait_locust
from loadtests.served_app import pinned_port, served

GOAL = 0.9
PORT = 6069  # the no-op endpoint; HARNESS_PORT_OFFSET moves it
# flag: (lowest, highest, default)
FLAGS = {
    "--seconds": (5, 60, 10),
    "--connections": (1, 100, 10),
    "--processes": (1, 8, 1),
    "--message-bytes": (64, 60_000, 256),
    "--rounds": (1, 5, 1),
    "--port": (0, 65535, 0),  # 0: 6069 moved by HARNESS_PORT_OFFSET
}
GENERATORS = ("locust", "locust-bare", "wrk")
WRK_THREADS = 1
START_TIMEOUT = 60.0  # until the first publish: locust imports for a while on a busy machine
WARM_UP = 1.0  # left out at the start of a run
WIND_DOWN = 2.0  # left out at its end


@dataclass(frozen=True)
class Sample:
    at: float
    requests: int
    generator_cpu: float
    endpoint_cpu: float


@dataclass(frozen=True)
class Stretch:
    """What one generator did in the measured middle of its run."""

    tool: str
    requests: int
    seconds: float
    cpu_seconds: float
    endpoint_cpu_seconds: float
    detail: str = ""

    @classmethod
    def between(cls, tool: str, first: Sample, last: Sample) -> Stretch:
        return cls(
            tool,
            last.requests - first.requests,
            last.at - first.at,
            last.generator_cpu - first.generator_cpu,
            last.endpoint_cpu - first.endpoint_cpu,
        )

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def per_core(self) -> float:
        return self.requests / self.cpu_seconds if self.cpu_seconds > 0 else 0.0


@dataclass
class Endpoint:
    url: str
    pid: int
    http: httpx.Client

    def answered(self) -> int:
        return int(self.http.get("/count").json()["requests"])

    def sample(self, generator_pid: int) -> Sample:
        requests = self.answered()
        return Sample(
            time.monotonic(), requests, tree_cpu_seconds(generator_pid), tree_cpu_seconds(self.pid)
        )


def measure(tool: str, endpoint: Endpoint, generator_pid: int, seconds: float) -> Stretch:
    """Wait for the generator's first publish, then sample the middle of its run."""
    before = endpoint.answered()
    try:
        poll(endpoint.answered, lambda n: n > before, timeout=START_TIMEOUT, interval=0.05)
    except WaitTimeout:
        raise HarnessError(f"{tool} sent nothing within {START_TIMEOUT:g} s") from None
    time.sleep(WARM_UP)
    first = endpoint.sample(generator_pid)
    time.sleep(seconds - WARM_UP - WIND_DOWN)
    return Stretch.between(tool, first, endpoint.sample(generator_pid))


# -- the generators ---------------------------------------------------------------------------


def locust_argv(endpoint_url: str, args: argparse.Namespace, results: Path) -> list[str]:
    """The runner's own command line, aimed at the endpoint (no ledger, no Prometheus there)."""
    run_args = build_parser().parse_args([
        "--duration", f"{args.seconds}s", "--mode", "closed", "--think-time", "0",
        "--users", str(args.connections), "--spawn-rate", "100",
        "--message-bytes", str(args.message_bytes), "--ledger-poll-seconds", "0",
        "--drain-seconds", "0", "--processes", str(args.processes),
        # Not a gate here: only the requests and the CPU count.
        "--max-p95-publish-ms", "600000", "--max-p95-e2e-ms", "600000",
        "--max-fail-ratio", "1", "--max-lost", "1000000",
    ])  # fmt: skip
    return LocustCommand(endpoint_url, endpoint_url, results, run_args).argv()


def bare_locust_argv(endpoint_url: str, args: argparse.Namespace) -> list[str]:
    locustfile = REPO_ROOT / "loadtests" / "bare_locustfile.py"
    argv = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
            "--host", endpoint_url, "--users", str(args.connections), "--spawn-rate", "100",
            "--run-time", f"{args.seconds}s", "--only-summary",
            "--loglevel", "WARNING"]  # fmt: skip
    if args.processes > 1:
        argv += ["--processes", str(args.processes), "--master-bind-host", "127.0.0.1"]
    return argv


def run_locust_phase(tool: str, endpoint: Endpoint, args: argparse.Namespace) -> Stretch:
    """One locust run; its output goes to a log in the benchmark's results folder."""
    folder = args.results / f"{tool}-{time.strftime('%H%M%S')}"  # a run lasts over 5 s
    if tool == "locust":
        argv = locust_argv(endpoint.url, args, folder)
    else:
        argv = bare_locust_argv(endpoint.url, args)
    env = {"BENCH_MESSAGE_BYTES": str(args.message_bytes)}
    child = start_locust(argv, env, log=folder.with_suffix(".log"))
    try:
        stretch = measure(tool, endpoint, child.pid, args.seconds)
    except BaseException:
        stop_locust(child)
        raise
    code = wait_locust(child, args.seconds + 120)
    return replace(
        stretch, detail=f"exit code {code} (its gate has no ledger here), log {folder}.log"
    )


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


@dataclass(frozen=True)
class WrkResult:
    ok_requests: int
    seconds: float
    detail: str

    @property
    def rate(self) -> float:
        return self.ok_requests / self.seconds if self.seconds > 0 else 0.0


def parse_wrk(output: str) -> WrkResult:
    match = _REQUESTS.search(output)
    if match is None:
        raise HarnessError(f"wrk printed no request count:\n{output}")
    requests, seconds = int(match[1]), float(match[2]) * _SECONDS[match[3]]
    non_2xx = int(m[1]) if (m := _NON_2XX.search(output)) else 0
    errors = sum(map(int, m.groups())) if (m := _ERRORS.search(output)) else 0
    latency = {q: float(v) * _SECONDS[unit] * 1000 for q, v, unit in _PERCENTILE.findall(output)}
    shown = ", ".join(f"p{q} {v:.3f} ms" for q, v in latency.items())
    detail = f"publish {shown}; non-2xx {non_2xx}, socket errors {errors}"
    return WrkResult(requests - non_2xx, seconds, detail)


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise HarnessError("wrk is not installed (Debian package `wrk`)")
    return wrk


@contextmanager
def wrk_process(endpoint_url: str, args: argparse.Namespace) -> Iterator[subprocess.Popen[str]]:
    """wrk in its own process group, stopped if the block ends before it did."""
    wrk = require_wrk()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-wrk-") as script:
        script.write(wrk_script("bench-wrk", args.message_bytes))
        script.flush()
        argv = [wrk, "-t", str(WRK_THREADS), "-c", str(args.connections),
                "-d", f"{args.seconds}s", "--latency", "-s", script.name, endpoint_url]  # fmt: skip
        child = subprocess.Popen(  # fixed argv, bounded by -d
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        try:
            yield child
        finally:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
                stop_group(child.pid, grace=2.0)
            child.wait()


def run_wrk_phase(endpoint: Endpoint, args: argparse.Namespace) -> Stretch:
    with wrk_process(endpoint.url, args) as child:
        stretch = measure("wrk", endpoint, child.pid, args.seconds)
        output, errors = child.communicate(timeout=args.seconds + 60)
    if child.returncode != 0:
        raise HarnessError(f"wrk exited with {child.returncode}: {errors.strip()}")
    whole = parse_wrk(output)
    detail = f"whole run {whole.rate:.0f}/s; {whole.detail}"
    return replace(stretch, detail=detail)


# -- main -------------------------------------------------------------------------------------


def build_bench_parser() -> argparse.ArgumentParser:
    return one_line_parser("python -m loadtests.bench_generator", __doc__, FLAGS)


Phase = Callable[[Endpoint, argparse.Namespace], Stretch]
PHASES: dict[str, Phase] = {
    "locust": lambda endpoint, args: run_locust_phase("locust", endpoint, args),
    "locust-bare": lambda endpoint, args: run_locust_phase("locust-bare", endpoint, args),
    "wrk": run_wrk_phase,
}


def main(argv: list[str] | None = None) -> int:
    args = build_bench_parser().parse_args(argv)
    stretches: list[Stretch] = []
    try:
        args.results = require_makeable(results_folder(None, "bench-generator"))
        require_wrk()  # before locust's phases, which may come first
        port = args.port or pinned_port(PORT)
        url = f"http://127.0.0.1:{port}"
        with (
            tempfile.TemporaryDirectory(prefix="bench-generator-") as workdir,
            served("noop-endpoint", "loadtests.noop_endpoint:app", port, Path(workdir)) as server,
            closing(httpx.Client(base_url=url, timeout=10.0, trust_env=False)) as http,
        ):
            assert server.pid is not None
            endpoint = Endpoint(url, server.pid, http)
            for round_ in range(args.rounds):
                order = GENERATORS[round_ % 3 :] + GENERATORS[: round_ % 3]
                for tool in order:
                    stretches.append(PHASES[tool](endpoint, args))
                    print_stretch(stretches[-1])
    except (HarnessError, httpx.HTTPError, KeyboardInterrupt) as err:
        return command_failed(err)
    print_result(stretches, args)
    return 0


def print_stretch(stretch: Stretch) -> None:
    endpoint_share = stretch.endpoint_cpu_seconds / max(stretch.seconds, 1e-9)
    generator_share = stretch.cpu_seconds / max(stretch.seconds, 1e-9)
    print(
        f"  {stretch.tool:11} {stretch.per_core:9.0f} publishes per CPU-second "
        f"({stretch.requests} in {stretch.seconds:.1f} s = {stretch.rate:.0f}/s on "
        f"{generator_share:.2f} cores; endpoint busy {endpoint_share:.2f} cores); {stretch.detail}",
        flush=True,
    )


def overall_per_core(stretches: list[Stretch], tool: str) -> float:
    mine = [s for s in stretches if s.tool == tool]
    return sum(s.requests for s in mine) / max(sum(s.cpu_seconds for s in mine), 1e-9)


def overall_rate(stretches: list[Stretch], tool: str) -> float:
    """Requests per second of wall time: the endpoint's ceiling when it was the limit."""
    mine = [s for s in stretches if s.tool == tool]
    return sum(s.requests for s in mine) / max(sum(s.seconds for s in mine), 1e-9)


def print_result(stretches: list[Stretch], args: argparse.Namespace) -> None:
    print(
        f"\ngenerator benchmark: {args.rounds} round(s) of {args.seconds} s per generator, "
        f"{args.connections} connections, {args.message_bytes}-byte messages, no-op endpoint, "
        f"locust processes {args.processes}"
    )
    figures = {tool: overall_per_core(stretches, tool) for tool in GENERATORS}
    for tool, per_core in figures.items():
        rate = overall_rate(stretches, tool)
        print(f"  {tool:11} {per_core:9.0f} publishes per second per core ({rate:.0f}/s achieved)")
    wrk = figures["wrk"]
    for tool in ("locust", "locust-bare"):
        ratio = figures[tool] / wrk if wrk else 0.0
        verdict = "ok" if ratio >= GOAL else "BELOW GOAL"
        print(f"  {tool} / wrk per core: {ratio:.3f} (goal >= {GOAL}) {verdict}")


if __name__ == "__main__":
    sys.exit(main())
