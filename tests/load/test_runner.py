"""The runner's command line: bad input stops it before anything starts; the locust argv."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.settings import REPO_ROOT
from loadtests.bench_generator import parse_wrk, wrk_script
from loadtests.options import LoadOptionError
from loadtests.run import LocustCommand, build_parser, check_given


def command(*flags: str) -> LocustCommand:
    args = build_parser().parse_args(list(flags))
    return LocustCommand("http://127.0.0.1:6060", "http://127.0.0.1:9095", Path("/r"), args)


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--arrival-rate", "-5"], "--arrival-rate"),
        (["--max-fail-ratio", "1.5"], "--max-fail-ratio"),
        (["--mode", "burst"], "not a mode"),
        (["--mix", "t1=50,t2=30"], "sum to 80"),
        (["--duration", "0"], "--duration"),
        (["--duration", "20m"], "--duration"),
        (["--users", "0"], "--users"),
        (["--processes", "99"], "--processes"),
        (["--max-p95-publish-ms", "0"], "--max-p95-publish-ms"),
        (["--spawn-rate", "-1"], "--spawn-rate"),
    ],
)
def test_given_flags_are_checked_before_anything_starts(flags: list[str], named: str) -> None:
    with pytest.raises(LoadOptionError, match=named):
        check_given(build_parser().parse_args(flags))


def test_only_given_flags_are_passed_on_so_locust_conf_keeps_the_rest() -> None:
    argv = command("--duration", "10s", "--users", "5").argv()
    assert argv[argv.index("--run-time") + 1] == "10s"
    assert argv[argv.index("--users") + 1] == "5"
    assert "--arrival-rate" not in argv
    assert "--config" in argv
    assert argv[-1] == "--headless"
    assert "--csv" in argv and "--html" in argv


def test_the_web_ui_listens_on_loopback_only() -> None:
    argv = command("--ui").argv()
    assert "--headless" not in argv
    assert argv[argv.index("--web-host") + 1] == "127.0.0.1"
    assert argv[argv.index("--web-port") + 1] == "8089"


def test_processes_use_locusts_own_distribution() -> None:
    argv = command("--processes", "2").argv()
    assert argv[argv.index("--processes") + 1] == "2"
    assert "--processes" not in command("--processes", "2").argv(validate_only=True)


def run_cli(*flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loadtests.run", *flags],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--arrival-rate", "-5"], "error: --arrival-rate (msgs/s) -5 must be in 0.1..5000"),
        (["--max-fail-ratio", "2"], "error: --max-fail-ratio 2 must be in 0..1"),
        (["--mode", "burst"], "error: --mode 'burst' is not a mode: use 'open' or 'closed'"),
        (["--users", "many"], "error: argument --users: invalid int value: 'many'"),
    ],
)
def test_bad_input_exits_2_with_one_line(flags: list[str], message: str) -> None:
    started = time.monotonic()
    done = run_cli(*flags)
    assert done.returncode == 2
    assert done.stderr.strip() == message
    assert done.stdout == ""
    assert time.monotonic() - started < 10  # refused at once: no stack, no locust


def test_a_non_loopback_host_is_refused_even_after_double_dash() -> None:
    """Flags after -- reach locust; the locustfile's own check refuses them before any load."""
    done = run_cli("--", "--host", "http://10.1.2.3:6060")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: --host 'http://10.1.2.3:6060' is refused: load goes to http://127.0.0.1:<port> only"
    )


def test_a_threshold_from_the_environment_is_checked_too() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loadtests.run"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LOCUST_MAX_LOST": "-1"},
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --max-lost -1 must not be negative"


WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:6060
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    52.10ms   30.00ms 210.00ms   70.00%
    Req/Sec   190.00     20.00   230.00     70.00%
  Latency Distribution
     50%   47.02ms
     75%   60.00ms
     90%   90.00ms
     99%  210.92ms
  1905 requests in 10.01s, 500.00KB read
  Non-2xx or 3xx responses: 5
Requests/sec:    190.31
Transfer/sec:     49.95KB
"""


def test_wrk_output_is_read() -> None:
    achieved = parse_wrk(WRK_OUTPUT)
    assert achieved.ok_requests == 1900
    assert achieved.seconds == pytest.approx(10.01)
    assert achieved.rate == pytest.approx(1900 / 10.01)
    assert "p50 47.020 ms" in achieved.detail and "non-2xx 5" in achieved.detail


def test_the_wrk_script_posts_t1_messages() -> None:
    script = wrk_script("bench-wrk-1", 256)
    assert 'wrk.format(nil, "/publish/t1", nil, body)' in script
    assert '"run":"bench-wrk-1"' in script
    # the suite token is read from the environment, never written into the script
    assert 'os.getenv("SUITE_API_TOKEN")' in script
    assert 'wrk.headers["suite-api-token"] = token' in script
