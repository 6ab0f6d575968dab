"""Option checks: every nonsense value stops the run with one line naming the option."""

from __future__ import annotations

import argparse
from dataclasses import replace

import pytest

from loadtests.options import (
    MAX_RUN_SECONDS,
    MAX_USERS,
    LoadOptionError,
    LoadOptions,
    Thresholds,
    env_var_of,
    from_locust,
    parse_duration,
    parse_mix,
)


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
        ({"host": "http://localhost:6060"}, "--host"),
        ({"host": "https://127.0.0.1:6060"}, "--host"),
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


@pytest.mark.parametrize("text", ["0", "0s", "abc", "-5s", "11m", "2h", ""])
def test_durations_that_make_no_sense(text: str) -> None:
    with pytest.raises(LoadOptionError, match="--duration"):
        parse_duration(text)


def test_every_option_can_come_from_the_environment() -> None:
    assert env_var_of("--max-p95-publish-ms") == "LOCUST_MAX_P95_PUBLISH_MS"


def locust_namespace(**changes: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "host": "http://127.0.0.1:6060",
        "prometheus_url": "http://127.0.0.1:9095",
        "mode": "Open",
        "num_users": 4,
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
