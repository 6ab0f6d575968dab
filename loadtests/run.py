"""`python -m loadtests.run`: one bounded locust run against the target, results in one folder.

Opens the target (the local stack unless E2E_TARGET says otherwise; started when not running,
stopped afterwards only if this run started it), checks every option before anything starts,
runs locust as a child process (headless, or the web UI on 127.0.0.1:8089 with --ui) and
writes locust's CSV and HTML report, summary.json and chart.png to results/load-<timestamp>/.
On the local stack it also samples each process's CPU and resident memory every
--sample-seconds (resources.json, resources.png) and, on a run long enough, judges their drift
(loadtests/soak.py): a soak is a long run, e.g. `--duration 1h`.
The exit code is locust's: 0 when the gate passed, 1 when a threshold broke or a process
drifted, 2 for bad options.

    python -m loadtests.run --duration 30s --mode open --arrival-rate 100 --users 10
    python -m loadtests.run --mode closed --think-time 0.01 --users 20 --processes 2
    python -m loadtests.run --ui            # the web UI; each test is still bounded
    python -m loadtests.run --duration 1h --arrival-rate 40 --max-messages 200000   # a soak
    python -m loadtests.run -- --max-p95-publish-ms 50    # anything after -- goes to locust
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from harness.arguments import OPTION_ERROR_EXIT, command_failed, one_line_parser
from harness.errors import HarnessError
from harness.processes import default_sigint, stop_group
from harness.results import require_makeable, results_folder
from harness.settings import REPO_ROOT
from harness.targets import Target
from harness.tokens import suite_token_env
from loadtests import soak
from loadtests.chart import draw_resource_chart
from loadtests.cpu_split import LOAD_GENERATOR, stack_pids
from loadtests.options import (
    OPTIONS,
    PASSED_ON,
    LoadOptionError,
    default,
    options_from,
    parse_duration,
)
from loadtests.target_session import loopback_target

LOADTESTS = Path(__file__).resolve().parent
LOCUSTFILE = LOADTESTS / "locustfile.py"
LOCUST_CONF = LOADTESTS / "locust.conf"
WEB_PORT = 8089
MAX_PROCESSES = 8
DEFAULT_UI_MINUTES = 30.0
STOP_GRACE_SECONDS = 15.0
DEFAULT_SAMPLE_SECONDS = 60.0


def build_parser() -> argparse.ArgumentParser:
    """The load options of loadtests.options (default None: only given ones are passed on to
    locust, so locust.conf keeps the rest), and the runner's own flags."""
    parser = one_line_parser("python -m loadtests.run", __doc__)
    add_load_flags(parser)
    add = parser.add_argument
    add("--processes", type=int, default=1, help="locust processes (>1: master and workers)")
    add("--ui", action="store_true", help="the web UI on 127.0.0.1:8089 instead of headless")
    add("--ui-minutes", type=float, default=DEFAULT_UI_MINUTES, help="web UI session limit")
    add("--sample-seconds", type=float, default=DEFAULT_SAMPLE_SECONDS,
        help="how often each process's CPU and memory are read (local stack), 1..3600")  # fmt: skip
    add("locust_args", nargs=argparse.REMAINDER, help="after --: more flags for locust")
    return parser


def add_load_flags(parser: argparse.ArgumentParser) -> None:
    """--duration, the options passed on to locust and --results-dir: what every runner of
    the locustfile offers (this one, loadtests.in_cluster)."""
    add = parser.add_argument
    add("--duration", help="load time, e.g. 30s, 2m (default: run-time in locust.conf)")
    for option in PASSED_ON:
        add(option.flag, type=option.kind, help=option.help)
    add("--results-dir", type=Path, help="default: results/load-<timestamp>")


def check_load_flags(args: argparse.Namespace) -> None:
    """Check the load flags given, with the locustfile's own rules; raise one line."""
    values = {option.name: option.default for option in OPTIONS}
    values.update(
        {o.name: getattr(args, o.name) for o in PASSED_ON if getattr(args, o.name) is not None}
    )
    values["run_time"] = None if args.duration is None else parse_duration(args.duration)
    options_from(values).validate()
    if args.spawn_rate is not None and not 0 < args.spawn_rate <= 1000:
        raise LoadOptionError(f"--spawn-rate {args.spawn_rate:g} must be in 0..1000")


def check_given(args: argparse.Namespace) -> None:
    """Check the flags given here at once, with the locustfile's own rules; raise one line."""
    check_load_flags(args)
    if not 1 <= args.processes <= MAX_PROCESSES:
        raise LoadOptionError(f"--processes {args.processes} must be in 1..{MAX_PROCESSES}")
    if not 0 < args.ui_minutes <= 240:
        raise LoadOptionError(f"--ui-minutes {args.ui_minutes:g} must be in 0..240")
    if not 1 <= args.sample_seconds <= 3600:
        raise LoadOptionError(f"--sample-seconds {args.sample_seconds:g} must be in 1..3600")


@dataclass
class LocustCommand:
    """The locust command line for one run."""

    host: str
    prometheus_url: str
    results_dir: Path
    args: argparse.Namespace
    extra: list[str] = field(default_factory=list)

    def argv(self, validate_only: bool = False) -> list[str]:
        argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--config", str(LOCUST_CONF),
                "--host", self.host, "--prometheus-url", self.prometheus_url,
                "--results-dir", str(self.results_dir)]  # fmt: skip
        if self.args.duration is not None:
            argv += ["--run-time", f"{math.ceil(parse_duration(self.args.duration))}s"]
        for option in PASSED_ON:
            value = getattr(self.args, option.name)
            if value is not None:
                argv += [option.flag, str(value)]
        argv += self.extra
        if validate_only:
            return [*argv, "--headless", "--validate-only"]
        argv += ["--csv", str(self.results_dir / "locust"), "--html",
                 str(self.results_dir / "report.html")]  # fmt: skip
        if self.args.processes > 1:  # the master's port for its workers: loopback only
            argv += ["--processes", str(self.args.processes), "--master-bind-host", "127.0.0.1"]
        if self.args.ui:
            return [*argv, "--web-host", "127.0.0.1", "--web-port", str(WEB_PORT)]
        return [*argv, "--headless"]


VALIDATE_SECONDS = 60.0  # locust's own start-up, gevent and the locustfile's imports


def validate_merged(command: LocustCommand) -> None:
    """Let the locustfile check config file, environment and flags merged, before any start."""
    try:
        done = subprocess.run(  # our own command line
            command.argv(validate_only=True),
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=VALIDATE_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise LoadOptionError(
            f"locust's option check did not finish within {VALIDATE_SECONDS:g} s"
        ) from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise LoadOptionError(lines[-1].removeprefix("error: ") if lines else "locust refused")


def run_locust(argv: list[str], limit_seconds: float, env: Mapping[str, str] | None = None) -> int:
    """Run locust in its own process group; stop the group on timeout, Ctrl-C or SIGTERM.

    `env`: added to ours, e.g. the suite token (in the environment, never on the command line).
    """
    return wait_locust(start_locust(argv, env), limit_seconds)


def start_locust(
    argv: list[str], env: Mapping[str, str] | None = None, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start locust in its own process group; the caller must `wait_locust` on it.

    `log`: a file for its output instead of our terminal (a benchmark keeps its own clean).
    """
    with contextlib.ExitStack() as files:
        output = None
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            output = files.enter_context(log.open("ab"))  # the child keeps its own copy
        return subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            start_new_session=True,
            preexec_fn=default_sigint,  # noqa: PLW1509 - the runner starts no threads
            env={**os.environ, **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT if output is not None else None,
        )


def wait_locust(child: subprocess.Popen[bytes], limit_seconds: float) -> int:
    """Its exit code; on timeout, Ctrl-C, SIGTERM or any error its group is stopped."""
    try:
        return child.wait(timeout=limit_seconds)
    except subprocess.TimeoutExpired:
        print(f"error: locust ran past {limit_seconds:g} s; stopping it", file=sys.stderr)
        return 1
    finally:
        if child.poll() is None:
            stop_locust(child)


def stop_locust(child: subprocess.Popen[bytes]) -> None:
    """SIGINT first: locust treats it as Ctrl-C and still writes its HTML report and summary
    (on SIGTERM it skips the report); then SIGTERM and SIGKILL for whatever is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout=STOP_GRACE_SECONDS)
    stop_group(child.pid, grace=5.0)
    child.wait()


def time_limit(args: argparse.Namespace) -> float:
    """The longest the child may run: this run's load time plus drain, or the UI session."""
    if args.ui:
        minutes: float = args.ui_minutes
        return minutes * 60
    return load_seconds(args) + (args.drain_seconds or 300.0) + 120.0


def load_seconds(args: argparse.Namespace) -> float:
    """The load time: --duration, else locust's run-time from the environment or locust.conf."""
    run_time = args.duration or os.environ.get("LOCUST_RUN_TIME") or default("run_time")
    return parse_duration(run_time)


def report(results_dir: Path) -> None:
    summary_path = results_dir / "summary.json"
    print(f"\nresults: {results_dir}")
    if not summary_path.exists():
        print("  no summary.json (the run did not conclude)")
        return
    summary: dict[str, Any] = json.loads(summary_path.read_text())
    latency = summary["latency_ms"]
    print(
        f"  published {summary['published']} at {summary['publish_rate']}/s, "
        f"consumed {summary['consume_rate']}/s, backlog {summary['backlog']}, "
        f"lost {summary['lost']}, duplicated {summary['duplicated']}"
    )
    for name in ("publish", "e2e", "publish_delay"):
        figures = latency.get(name)
        if figures:
            shown = ", ".join(f"{k} {figures[k]}" for k in ("p50", "p75", "p95", "p99", "p99.9"))
            print(f"  {name} ms: {shown}")
    dapr = summary.get("dapr_metrics") or {}
    if "egress_delta" in dapr:
        print(f"  dapr egress delta {dapr['egress_delta']}, ingress delta {dapr['ingress_delta']}")
    for check in summary["gate"]["checks"]:
        print(f"  {check['line']}")


def raise_on_sigterm() -> None:
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    extra = [a for a in args.locust_args if a != "--"]
    try:
        check_given(args)
        target = loopback_target()
        results = require_makeable(results_folder(args.results_dir, "load"))
        command = LocustCommand(target.service1_url, target.prometheus_url, results, args, extra)
        validate_merged(command)
    except HarnessError as err:  # LoadOptionError and SettingsError are HarnessErrors
        print(f"error: {err}", file=sys.stderr)
        return OPTION_ERROR_EXIT
    raise_on_sigterm()
    try:
        return run_against(target, command, args)
    except (HarnessError, KeyboardInterrupt) as err:
        return command_failed(err)


def run_against(target: Target, command: LocustCommand, args: argparse.Namespace) -> int:
    with target:
        command.results_dir.mkdir(parents=True, exist_ok=True)
        if args.ui:
            print(f"locust web UI: http://127.0.0.1:{WEB_PORT} (Ctrl-C ends the session)")
        child = start_locust(command.argv(), suite_token_env(target.tokens))

        def pids() -> dict[str, int]:  # read again at each sample: a restarted part moves
            return {**stack_pids(target), LOAD_GENERATOR: child.pid}

        with soak.ResourceSampler(pids, args.sample_seconds) as sampler:
            code = wait_locust(child, time_limit(args))
        report(command.results_dir)
        judged = None if args.ui else load_seconds(args)  # the UI's tests have no one length
        drifted = report_resources(sampler, judged, command.results_dir)
        return code or (1 if drifted else 0)


def report_resources(sampler: soak.ResourceSampler, load: float | None, results_dir: Path) -> bool:
    """resources.json and resources.png, one line per process when the load was judged; True
    when a process drifted."""
    resources = soak.report(sampler.samples, sampler.interval, load)
    (results_dir / "resources.json").write_text(json.dumps(resources, indent=2) + "\n")
    if resources["series"]:
        draw_resource_chart(resources["series"], results_dir / "resources.png")
    if resources["drift"] is None:
        print(f"  resources: sampled every {sampler.interval:g} s; too short to judge drift "
              f"({soak.MIN_INTERVALS} intervals after the warm-up)")  # fmt: skip
        return False
    for drift in resources["drift"]:
        print(f"  resources: {drift['line']}")
    drifted = [d["process"] for d in resources["drift"] if d["rss_drift"] or d["cpu_drift"]]
    if drifted:
        print(f"threshold broken: drift in {', '.join(drifted)}", file=sys.stderr)
    return bool(drifted)


if __name__ == "__main__":
    sys.exit(main())
