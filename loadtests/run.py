"""`python -m loadtests.run`: one bounded locust run against the target, results in one folder.

Opens the target (the local stack unless E2E_TARGET says otherwise; started when not running,
stopped afterwards only if this run started it), checks every option before anything starts,
runs locust as a child process (headless, or the web UI on 127.0.0.1:8089 with --ui) and
writes locust's CSV and HTML report, summary.json and chart.png to results/load-<timestamp>/.
The exit code is locust's: 0 when the gate passed, 1 when a threshold broke, 2 for bad options.

    python -m loadtests.run --duration 30s --mode open --arrival-rate 100 --users 10
    python -m loadtests.run --mode closed --think-time 0.01 --users 20 --processes 2
    python -m loadtests.run --ui            # the web UI; each test is still bounded
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
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from harness.errors import HarnessError
from harness.processes import stop_group
from harness.settings import REPO_ROOT, SettingsError
from harness.target import Target
from harness.tokens import suite_token_env
from loadtests.options import (
    MAX_RUN_SECONDS,
    LoadOptionError,
    LoadOptions,
    Thresholds,
    parse_duration,
    parse_mix,
)
from loadtests.target_session import loopback_target, started

LOADTESTS = Path(__file__).resolve().parent
LOCUSTFILE = LOADTESTS / "locustfile.py"
LOCUST_CONF = LOADTESTS / "locust.conf"
WEB_PORT = 8089
MAX_PROCESSES = 8
DEFAULT_UI_MINUTES = 30.0
STOP_GRACE_SECONDS = 15.0
OPTION_ERROR_EXIT = 2


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag gives one line and exit code 2 (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(OPTION_ERROR_EXIT)


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number in low..high."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not in {low}..{high}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m loadtests.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--duration", help="load time, e.g. 30s, 2m (default: run-time in locust.conf)")
    add("--users", type=int, help="users (open model: the most messages in flight)")
    add("--spawn-rate", type=float, help="users started per second")
    add("--mode", help="open (constant arrival rate) or closed (users with think time)")
    add("--arrival-rate", type=float, help="open model: messages per second")
    add("--think-time", type=float, help="closed model: seconds between a user's messages")
    add("--mix", help="topic mix in percent, e.g. t1=90,t2=10")
    add("--message-bytes", type=int, help="JSON body size of each message")
    add("--drain-seconds", type=float, help="how long to wait for stragglers after the load")
    add("--max-messages", type=int, help="stop after this many messages")
    add("--ledger-poll-seconds", type=float, help="ledger reads during the load (0: at the end)")
    add("--max-fail-ratio", type=float, help="gate: highest publish failure ratio (0..1)")
    add("--max-p95-publish-ms", type=float, help="gate: highest p95 publish latency")
    add("--max-p95-e2e-ms", type=float, help="gate: highest p95 end-to-end latency")
    add("--max-lost", type=int, help="gate: most lost messages")
    add("--processes", type=int, default=1, help="locust processes (>1: master and workers)")
    add("--results-dir", type=Path, help="default: results/load-<timestamp>")
    add("--ui", action="store_true", help="the web UI on 127.0.0.1:8089 instead of headless")
    add("--ui-minutes", type=float, default=DEFAULT_UI_MINUTES, help="web UI session limit")
    add("locust_args", nargs=argparse.REMAINDER, help="after --: more flags for locust")
    return parser


# Runner flag -> locust flag, for the flags passed on only when given.
PASSED_ON = (
    ("users", "--users"),
    ("spawn_rate", "--spawn-rate"),
    ("mode", "--mode"),
    ("arrival_rate", "--arrival-rate"),
    ("think_time", "--think-time"),
    ("mix", "--mix"),
    ("message_bytes", "--message-bytes"),
    ("drain_seconds", "--drain-seconds"),
    ("max_messages", "--max-messages"),
    ("ledger_poll_seconds", "--ledger-poll-seconds"),
    ("max_fail_ratio", "--max-fail-ratio"),
    ("max_p95_publish_ms", "--max-p95-publish-ms"),
    ("max_p95_e2e_ms", "--max-p95-e2e-ms"),
    ("max_lost", "--max-lost"),
)


def check_given(args: argparse.Namespace) -> None:
    """Check the flags given here at once, with the locustfile's own rules; raise one line."""
    given = {name: getattr(args, name) for name, _ in PASSED_ON if getattr(args, name) is not None}
    threshold_names = set(Thresholds.__dataclass_fields__)
    thresholds = Thresholds(**{k: v for k, v in given.items() if k in threshold_names})
    plain = {k: v for k, v in given.items() if k not in threshold_names and k != "spawn_rate"}
    if "mode" in plain:
        plain["mode"] = str(plain["mode"]).strip().lower()
    if "mix" in plain:
        plain["mix"] = parse_mix(plain["mix"])
    if args.duration is not None:
        plain["run_seconds"] = parse_duration(args.duration)
    LoadOptions(thresholds=thresholds, **plain).validate()
    if args.spawn_rate is not None and not 0 < args.spawn_rate <= 1000:
        raise LoadOptionError(f"--spawn-rate {args.spawn_rate:g} must be in 0..1000")
    if not 1 <= args.processes <= MAX_PROCESSES:
        raise LoadOptionError(f"--processes {args.processes} must be in 1..{MAX_PROCESSES}")
    if not 0 < args.ui_minutes <= 240:
        raise LoadOptionError(f"--ui-minutes {args.ui_minutes:g} must be in 0..240")


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
        for name, flag in PASSED_ON:
            value = getattr(self.args, name)
            if value is not None:
                argv += [flag, str(value)]
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


def default_results_dir() -> Path:
    return REPO_ROOT / "results" / time.strftime("load-%Y%m%d-%H%M%S")


def validate_merged(command: LocustCommand) -> None:
    """Let the locustfile check config file, environment and flags merged, before any start."""
    done = subprocess.run(  # noqa: S603 - our own command line
        command.argv(validate_only=True), cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise LoadOptionError(lines[-1].removeprefix("error: ") if lines else "locust refused")


def run_locust(argv: list[str], limit_seconds: float, env: Mapping[str, str] | None = None) -> int:
    """Run locust in its own process group; stop the group on timeout, Ctrl-C or SIGTERM.

    `env`: added to ours, e.g. the suite token (in the environment, never on the command line).
    """
    child = subprocess.Popen(  # noqa: S603 - our own command line
        argv,
        cwd=REPO_ROOT,
        start_new_session=True,
        preexec_fn=default_sigint,
        env={**os.environ, **(env or {})},
    )
    try:
        return child.wait(timeout=limit_seconds)
    except subprocess.TimeoutExpired:
        print(f"error: locust ran past {limit_seconds:g} s; stopping it", file=sys.stderr)
        return 1
    finally:
        if child.poll() is None:
            stop_locust(child)


def default_sigint() -> None:
    """In the child: a shell that started us in the background may have us ignore SIGINT;
    locust must not inherit that, or the SIGINT that asks it to stop is lost."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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
    """The longest the child may run: a bounded run plus drain, or the UI session."""
    if args.ui:
        return args.ui_minutes * 60
    return MAX_RUN_SECONDS + (args.drain_seconds or 300.0) + 120.0


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
        results = args.results_dir or default_results_dir()
        command = LocustCommand(target.service1_url, target.prometheus_url, results, args, extra)
        validate_merged(command)
    except (LoadOptionError, HarnessError, SettingsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return OPTION_ERROR_EXIT
    raise_on_sigterm()
    try:
        return run_against(target, command, args)
    except HarnessError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def run_against(target: Target, command: LocustCommand, args: argparse.Namespace) -> int:
    with started(target):
        command.results_dir.mkdir(parents=True, exist_ok=True)
        if args.ui:
            print(f"locust web UI: http://127.0.0.1:{WEB_PORT} (Ctrl-C ends the session)")
        code = run_locust(command.argv(), time_limit(args), suite_token_env(target.tokens))
        report(command.results_dir)
        return code


if __name__ == "__main__":
    sys.exit(main())
