"""The load options, their limits and their checks: one place for the locustfile and the runner.

Every check raises `LoadOptionError` with a one-line message, so a bad value stops a run before
any load starts. The limits keep every run bounded in time, users, rate and message count.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

MODES = ("open", "closed")
TOPICS = ("t1", "t2")
LOOPBACK_HOST = "127.0.0.1"

MAX_RUN_SECONDS = 600
MAX_USERS = 100
MAX_ARRIVAL_RATE = 5000.0
MAX_MESSAGES = 1_000_000
MAX_MESSAGE_BYTES = 60_000  # service-1 refuses bodies above 64 KiB
MAX_DRAIN_SECONDS = 300.0
DEFAULT_RUN_SECONDS = 30


class LoadOptionError(ValueError):
    """An option that makes no sense; the message is one line naming it."""


@dataclass(frozen=True)
class Thresholds:
    """The CI gate: the run fails when one of these is broken."""

    max_fail_ratio: float = 0.01
    max_p95_publish_ms: float = 250.0
    max_p95_e2e_ms: float = 1000.0
    max_lost: int = 0

    def validate(self) -> None:
        if not 0 <= self.max_fail_ratio <= 1:
            raise LoadOptionError(f"--max-fail-ratio {self.max_fail_ratio:g} must be in 0..1")
        for flag, value in (
            ("--max-p95-publish-ms", self.max_p95_publish_ms),
            ("--max-p95-e2e-ms", self.max_p95_e2e_ms),
        ):
            if not math.isfinite(value) or value <= 0:
                raise LoadOptionError(f"{flag} {value:g} must be a positive number of ms")
        if self.max_lost < 0:
            raise LoadOptionError(f"--max-lost {self.max_lost} must not be negative")


@dataclass(frozen=True)
class LoadOptions:
    """What one load run does; built from locust's parsed options or the runner's flags."""

    host: str = "http://127.0.0.1:6060"
    prometheus_url: str = "http://127.0.0.1:9095"
    mode: str = "open"
    users: int = 10
    run_seconds: float = DEFAULT_RUN_SECONDS
    arrival_rate: float = 50.0
    think_time: float = 0.05
    mix: dict[str, float] = field(default_factory=lambda: {"t1": 1.0})
    message_bytes: int = 256
    drain_seconds: float = 30.0
    max_messages: int = 100_000
    ledger_poll_seconds: float = 2.0
    thresholds: Thresholds = field(default_factory=Thresholds)

    def validate(self) -> None:
        check_loopback_url(self.host, "--host")
        check_loopback_url(self.prometheus_url, "--prometheus-url")
        if self.mode not in MODES:
            raise LoadOptionError(f"--mode {self.mode!r} is not a mode: use 'open' or 'closed'")
        _check_range("--users", self.users, 1, MAX_USERS)
        _check_range("--run-time (seconds)", self.run_seconds, 1, MAX_RUN_SECONDS)
        if self.mode == "open":
            _check_range("--arrival-rate (msgs/s)", self.arrival_rate, 0.1, MAX_ARRIVAL_RATE)
        _check_range("--think-time (seconds)", self.think_time, 0, 60)
        _check_range("--message-bytes", self.message_bytes, 0, MAX_MESSAGE_BYTES)
        _check_range("--drain-seconds", self.drain_seconds, 0, MAX_DRAIN_SECONDS)
        _check_range("--max-messages", self.max_messages, 1, MAX_MESSAGES)
        _check_range("--ledger-poll-seconds", self.ledger_poll_seconds, 0, 60)
        self.thresholds.validate()


def _check_range(flag: str, value: float, low: float, high: float) -> None:
    if not math.isfinite(value) or not low <= value <= high:
        raise LoadOptionError(f"{flag} {value:g} must be in {low:g}..{high:g}")


def check_loopback_url(url: str, flag: str) -> None:
    """Load goes to 127.0.0.1 only: anything else is refused before a request is made."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname != LOOPBACK_HOST:
        raise LoadOptionError(
            f"{flag} {url!r} is refused: load goes to http://{LOOPBACK_HOST}:<port> only"
        )


_MIX_PART = re.compile(r"^\s*(?P<topic>[\w.-]+)\s*=\s*(?P<weight>[0-9.]+)\s*$")


def parse_mix(text: str) -> dict[str, float]:
    """'t1=90,t2=10' (percent) -> {'t1': 0.9, 't2': 0.1}; the weights must sum to 100."""
    shares: dict[str, float] = {}
    for part in text.split(","):
        match = _MIX_PART.match(part)
        if match is None:
            raise LoadOptionError(f"--mix {text!r}: write it as t1=90,t2=10 (percent)")
        topic, weight = match["topic"], float(match["weight"])
        if topic not in TOPICS:
            raise LoadOptionError(f"--mix {text!r}: unknown topic {topic!r} (topics: t1, t2)")
        if topic in shares:
            raise LoadOptionError(f"--mix {text!r}: topic {topic!r} given twice")
        shares[topic] = weight
    total = sum(shares.values())
    if not math.isclose(total, 100.0, abs_tol=1e-6):
        raise LoadOptionError(f"--mix {text!r}: the percentages sum to {total:g}, not 100")
    return {topic: weight / 100.0 for topic, weight in shares.items() if weight > 0}


def format_mix(mix: dict[str, float]) -> str:
    return ",".join(f"{topic}={share * 100:g}" for topic, share in mix.items())


_DURATION = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+(?:\.\d+)?)s?)?$")


def parse_duration(text: str, flag: str = "--duration") -> float:
    """'30s', '2m', '1m30s' or a number of seconds; at least one second, at most the limit."""
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None:
        raise LoadOptionError(f"{flag} {text!r} is not a duration (e.g. 30s, 2m, 1m30s)")
    seconds = 3600 * int(match["h"] or 0) + 60 * int(match["m"] or 0) + float(match["s"] or 0)
    _check_range(flag, seconds, 1, MAX_RUN_SECONDS)
    return seconds


# -- locust's side ----------------------------------------------------------------------------

# (flag, type, default, help); every one can also come from locust.conf or LOCUST_<NAME>.
LOCUST_ARGUMENTS: tuple[tuple[str, type, Any, str], ...] = (
    ("--mode", str, "open", "open: constant arrival rate; closed: users with a think time"),
    ("--arrival-rate", float, 50.0, "open model: messages per second over all users"),
    ("--think-time", float, 0.05, "closed model: seconds a user waits between messages"),
    ("--mix", str, "t1=100", "topic mix in percent, e.g. t1=90,t2=10 (t2 takes T2_DELAY_SECONDS)"),
    ("--message-bytes", int, 256, "JSON body size of a message (a padding field fills it)"),
    ("--drain-seconds", float, 30.0, "after the load, wait up to this long for stragglers"),
    ("--max-messages", int, 100_000, "stop publishing after this many messages"),
    ("--ledger-poll-seconds", float, 2.0, "how often to read the ledger (0: only at the end)"),
    ("--prometheus-url", str, "http://127.0.0.1:9095", "Prometheus scraping the sidecars"),
    ("--results-dir", str, "", "where summary.json and chart.png go (default results/load-<ts>)"),
    ("--max-fail-ratio", float, 0.01, "gate: highest publish failure ratio"),
    ("--max-p95-publish-ms", float, 250.0, "gate: highest p95 publish latency"),
    ("--max-p95-e2e-ms", float, 1000.0, "gate: highest p95 end-to-end delivery latency"),
    ("--max-lost", int, 0, "gate: most messages published but never delivered"),
)


def env_var_of(flag: str) -> str:
    return "LOCUST_" + flag.lstrip("-").replace("-", "_").upper()


def add_locust_arguments(parser: Any) -> None:
    """Register the options on locust's parser (an init_command_line_parser listener)."""
    for flag, kind, default, text in LOCUST_ARGUMENTS:
        parser.add_argument(flag, type=kind, default=default, help=text, env_var=env_var_of(flag))
    parser.add_argument(
        "--validate-only",
        action="store_true",
        default=False,
        help="check the options, print them and exit before any load",
        include_in_web_ui=False,
    )


def from_locust(parsed: Any) -> LoadOptions:
    """LoadOptions from locust's parsed options (config file, environment and flags merged)."""
    thresholds = Thresholds(
        max_fail_ratio=parsed.max_fail_ratio,
        max_p95_publish_ms=parsed.max_p95_publish_ms,
        max_p95_e2e_ms=parsed.max_p95_e2e_ms,
        max_lost=parsed.max_lost,
    )
    return LoadOptions(
        host=parsed.host or "",
        prometheus_url=parsed.prometheus_url,
        mode=str(parsed.mode).strip().lower(),
        users=int(parsed.num_users if parsed.num_users is not None else 1),
        run_seconds=float(DEFAULT_RUN_SECONDS if parsed.run_time is None else parsed.run_time),
        arrival_rate=parsed.arrival_rate,
        think_time=parsed.think_time,
        mix=parse_mix(parsed.mix),
        message_bytes=parsed.message_bytes,
        drain_seconds=parsed.drain_seconds,
        max_messages=parsed.max_messages,
        ledger_poll_seconds=parsed.ledger_poll_seconds,
        thresholds=thresholds,
    )
