"""The option table and its checks: every nonsense value stops the run with one line naming
the option, and loadtests/locust.conf says what the table says."""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.settings import REPO_ROOT
from loadtests.options import (
    BY_NAME,
    MAX_RUN_SECONDS,
    MAX_USERS,
    OPTIONS,
    LoadOptionError,
    LoadOptions,
    Thresholds,
    from_locust,
    parse_duration,
    parse_mix,
)

LOCUST_CONF = REPO_ROOT / "loadtests" / "locust.conf"


def test_the_defaults_are_valid() -> None:
    LoadOptions().validate()


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"arrival_rate": -5.0}, "--arrival-rate"),
        ({"arrival_rate": 0.0}, "--arrival-rate"),
        ({"arrival_rate": float("inf")}, "--arrival-rate"),
        ({"mode": "burst"}, "--mode 'burst' is not a mode"),
        ({"run_seconds": 0.0}, "--run-time"),
        ({"run_seconds": MAX_RUN_SECONDS + 1.0}, "--run-time"),
        ({"users": 0}, "--users"),
        ({"users": MAX_USERS + 1}, "--users"),
        ({"message_bytes": -1}, "--message-bytes"),
        ({"drain_seconds": -1.0}, "--drain-seconds"),
        ({"max_messages": 0}, "--max-messages"),
        ({"ledger_poll_seconds": -1.0}, "--ledger-poll-seconds"),
        ({"think_time": -0.1}, "--think-time"),
        ({"host": "http://10.0.0.1:6060"}, "--host 'http://10.0.0.1:6060' is refused"),
        ({"host": "ftp://127.0.0.1:6060"}, "--host"),
        ({"host": "http://127.0.0.1:port"}, "--host"),
        ({"prometheus_url": "http://192.168.1.2:9095"}, "--prometheus-url"),
    ],
)
def test_nonsense_options_are_refused_in_one_line(changes: dict[str, object], named: str) -> None:
    with pytest.raises(LoadOptionError) as refused:
        replace(LoadOptions(), **changes).validate()  # type: ignore[arg-type]
    assert named in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"max_fail_ratio": 1.5}, "--max-fail-ratio 1.5 must be in 0..1"),
        ({"max_fail_ratio": -0.1}, "--max-fail-ratio"),
        ({"max_p95_publish_ms": 0.0}, "--max-p95-publish-ms"),
        ({"max_p95_e2e_ms": -3.0}, "--max-p95-e2e-ms"),
        ({"max_lost": -1}, "--max-lost"),
    ],
)
def test_nonsense_thresholds_are_refused(changes: dict[str, object], named: str) -> None:
    options = LoadOptions(thresholds=replace(Thresholds(), **changes))  # type: ignore[arg-type]
    with pytest.raises(LoadOptionError, match=named):
        options.validate()


@pytest.mark.parametrize(
    "host", ["http://127.0.0.1:6060", "http://127.0.0.2:6060", "http://[::1]:6060",
             "http://localhost:6060"],
)  # fmt: skip
def test_every_loopback_host_is_accepted(host: str) -> None:
    LoadOptions(host=host).validate()


def test_a_refused_option_is_a_harness_error_so_every_command_line_reports_it() -> None:
    with pytest.raises(HarnessError):
        LoadOptions(host="http://10.0.0.1:6060").validate()


def test_the_arrival_rate_does_not_matter_in_the_closed_model() -> None:
    LoadOptions(mode="closed", arrival_rate=0.0).validate()


@pytest.mark.parametrize(
    ("text", "shares"),
    [
        ("t1=100", {"t1": 1.0}),
        ("t1=90,t2=10", {"t1": 0.9, "t2": 0.1}),
        (" t2 = 25 , t1 = 75 ", {"t2": 0.25, "t1": 0.75}),
        ("t1=100,t2=0", {"t1": 1.0}),
    ],
)
def test_a_mix_is_read_as_percent(text: str, shares: dict[str, float]) -> None:
    assert parse_mix(text) == pytest.approx(shares)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("t1=50,t2=30", "sum to 80, not 100"),
        ("t1=60,t2=60", "sum to 120"),
        ("t3=100", "unknown topic 't3'"),
        ("t1=50,t1=50", "given twice"),
        ("t1:100", "write it as"),
        ("", "write it as"),
    ],
)
def test_a_mix_that_does_not_add_up_is_refused(text: str, why: str) -> None:
    with pytest.raises(LoadOptionError, match=why):
        parse_mix(text)


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("2m", 120), ("1m30s", 90), ("45", 45), ("1.5", 1.5)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["0", "0s", "abc", "-5s", "24h1s", "25h", ""])
def test_durations_that_make_no_sense(text: str) -> None:
    with pytest.raises(LoadOptionError, match="--duration"):
        parse_duration(text)


def test_every_option_can_come_from_the_environment() -> None:
    assert BY_NAME["max_p95_publish_ms"].env_var == "LOCUST_MAX_P95_PUBLISH_MS"


def locust_namespace(**changes: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "host": "http://127.0.0.1:6060",
        "prometheus_url": "http://127.0.0.1:9095",
        "mode": " Open",
        "num_users": 4,
        "spawn_rate": 4.0,
        "results_dir": "",
        "run_time": 12,
        "arrival_rate": 40.0,
        "think_time": 0.1,
        "mix": "t1=80,t2=20",
        "message_bytes": 512,
        "drain_seconds": 5.0,
        "max_messages": 1000,
        "ledger_poll_seconds": 1.0,
        "max_fail_ratio": 0.0,
        "max_p95_publish_ms": 100.0,
        "max_p95_e2e_ms": 500.0,
        "max_lost": 0,
    }
    values.update(changes)
    return argparse.Namespace(**values)


def test_locusts_parsed_options_become_load_options() -> None:
    options = from_locust(locust_namespace())
    assert options.mode == "open"
    assert options.users == 4
    assert options.run_seconds == 12
    assert options.mix == pytest.approx({"t1": 0.8, "t2": 0.2})
    assert options.thresholds.max_p95_e2e_ms == 500.0
    options.validate()


def test_a_zero_run_time_from_locust_is_refused_not_defaulted() -> None:
    with pytest.raises(LoadOptionError, match="--run-time"):
        from_locust(locust_namespace(run_time=0)).validate()


# -- the table, locust and locust.conf --------------------------------------------------------


def test_the_defaults_come_from_the_table() -> None:
    options = LoadOptions()
    assert options.mode == BY_NAME["mode"].default
    assert options.users == BY_NAME["users"].default
    assert options.run_seconds == parse_duration(BY_NAME["run_time"].default)
    assert options.mix == parse_mix(BY_NAME["mix"].default)
    assert options.thresholds.max_p95_e2e_ms == BY_NAME["max_p95_e2e_ms"].default


# locust monkey-patches the standard library when imported, so it is asked in a child process.
LOCUST_FACTS = """
import json, sys
from locust.argument_parser import get_empty_argument_parser, setup_parser_arguments
from loadtests.options import OPTIONS, add_locust_arguments
parser = get_empty_argument_parser(add_help=False, default_config_files=[])
setup_parser_arguments(parser)
own = sorted(f.removeprefix("--") for a in parser._actions for f in a.option_strings)
add_locust_arguments(parser)
parsed = parser.parse_args(sys.argv[1:])
print(json.dumps({"own": own, "parsed": {o.parsed_name: getattr(parsed, o.parsed_name)
                                         for o in OPTIONS}}))
"""


def locust_facts(*args: str, env: dict[str, str] | None = None) -> dict[str, object]:
    """locust's own option keys, and our options as locust parses them from `args`."""
    done = subprocess.run(
        [sys.executable, "-c", LOCUST_FACTS, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=True,
    )
    facts: dict[str, object] = json.loads(done.stdout)
    return facts


@functools.cache
def locusts_own_keys() -> set[str]:
    return set(locust_facts()["own"])  # type: ignore[call-overload]


def conf_entries(path: Path = LOCUST_CONF) -> dict[str, str]:
    entries = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            entries[key.strip()] = value.strip()
    return entries


def test_every_custom_key_of_locust_conf_is_in_the_table_with_the_same_default() -> None:
    by_key = {option.conf_key: option for option in OPTIONS}
    locusts_own = locusts_own_keys()
    for key, text in conf_entries().items():
        option = by_key.get(key)
        assert option is not None or key in locusts_own, f"locust.conf: {key} is not an option"
        if option is not None:
            assert option.kind(text) == option.default, f"locust.conf: {key} = {text}"


def test_every_option_of_the_table_is_in_locust_conf_or_documented_there() -> None:
    conf, text = conf_entries(), LOCUST_CONF.read_text()
    locusts_own = locusts_own_keys()
    for option in OPTIONS:
        assert option.conf_key in conf or f"# {option.conf_key}:" in text, option.flag
        assert option.locusts_own == (option.conf_key in locusts_own), option.flag


def test_locust_reads_the_table_options_from_locust_conf() -> None:
    parsed = locust_facts("--config", str(LOCUST_CONF))["parsed"]
    assert from_locust(argparse.Namespace(**parsed)) == LoadOptions()  # type: ignore[arg-type]


def test_an_option_from_the_environment_reaches_locust() -> None:
    parsed = locust_facts(env={"LOCUST_MAX_LOST": "3", "LOCUST_MODE": "Closed"})["parsed"]
    assert parsed["max_lost"] == 3  # type: ignore[index]
    assert from_locust(argparse.Namespace(**parsed)).mode == "closed"  # type: ignore[arg-type]
