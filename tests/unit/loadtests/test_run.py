"""The runner's command line: bad input stops it before anything starts; the locust argv."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.settings import REPO_ROOT
from loadtests.options import PASSED_ON, LoadOptionError
from loadtests.run import LocustCommand, build_parser, check_given


def test_help_is_generated_from_the_option_table() -> None:
    text = build_parser().format_help()
    for option in PASSED_ON:
        assert option.flag in text
    assert "--prometheus-url" not in text  # the runner sets it from the target


def test_given_flags_are_passed_on_as_their_locust_flags() -> None:
    argv = command("--mode", "closed", "--think-time", "0", "--max-lost", "2").argv()
    assert argv[argv.index("--mode") + 1] == "closed"
    assert argv[argv.index("--think-time") + 1] == "0.0"
    assert argv[argv.index("--max-lost") + 1] == "2"


def test_a_mode_is_accepted_in_any_case() -> None:
    check_given(build_parser().parse_args(["--mode", " Closed"]))


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
        (["--duration", "25h"], "--duration"),
        (["--sample-seconds", "0"], "--sample-seconds"),
        (["--sample-seconds", "7200"], "--sample-seconds"),
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
        check=False,
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


def test_a_results_folder_that_cannot_be_made_is_refused_before_the_run(tmp_path) -> None:
    (tmp_path / "file").write_text("")
    done = run_cli("--results-dir", str(tmp_path / "file" / "run"))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"error: results folder {tmp_path / 'file' / 'run'}: "
        f"{tmp_path / 'file'} is a file, not a folder"
    )
    assert done.stdout == ""


def test_a_non_loopback_host_is_refused_even_after_double_dash() -> None:
    """Flags after -- reach locust; the locustfile's own check refuses them before any load."""
    done = run_cli("--", "--host", "http://10.1.2.3:6060")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: --host 'http://10.1.2.3:6060' is refused: "
        "the suite only reaches 127.0.0.1, ::1 or localhost"
    )


def test_a_threshold_from_the_environment_is_checked_too() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loadtests.run"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LOCUST_MAX_LOST": "-1"},
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --max-lost -1 must not be negative"
