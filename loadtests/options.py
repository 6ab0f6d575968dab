"""The load options, declared once: their flags, defaults, limits and checks.

`OPTIONS` is the one table of them. The locustfile registers its custom options from it (each
with a LOCUST_<NAME> variable), the runner builds its argparse flags and the list it passes on
to locust from it, and `LoadOptions` and `Thresholds` take their defaults from it.
loadtests/locust.conf repeats those defaults for people who read it; a unit test holds the two
together. Every check raises `LoadOptionError` with a one-line message, so a bad value stops a
run before any load starts. The limits keep every run bounded in time, users, rate and count.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.errors import HarnessError
from harness.loopback import require_loopback

MODES = ("open", "closed")
TOPICS = ("t1", "t2")

MAX_RUN_SECONDS = 24 * 3600  # a soak runs for hours; every run still has an end
MAX_USERS = 100
MIN_ARRIVAL_RATE = 0.1  # locust's constant_throughput cannot pace slower than this
MAX_ARRIVAL_RATE = 5000.0
MAX_MESSAGES = 5_000_000  # an hour at 400 msgs/s is 1.44 million
MAX_MESSAGE_BYTES = 60_000  # service-1 refuses bodies above 64 KiB
MAX_DRAIN_SECONDS = 300.0


class LoadOptionError(HarnessError):
    """An option that makes no sense; the message is one line naming it."""


# -- reading values ---------------------------------------------------------------------------


def _check_range(flag: str, value: float, low: float, high: float) -> None:
    if not math.isfinite(value) or not low <= value <= high:
        raise LoadOptionError(f"{flag} {value:g} must be in {low:g}..{high:g}")


def check_loopback_url(url: str, flag: str) -> None:
    """Load stays on this machine (harness.loopback's rule), refused as a bad option."""
    try:
        require_loopback(url, flag)
    except HarnessError as err:
        raise LoadOptionError(str(err)) from None


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


# -- the table --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One load option as locust, locust.conf, LOCUST_<NAME> and the runner know it."""

    flag: str
    kind: Callable[[str], Any]
    default: Any
    help: str
    locusts_own: bool = False  # locust defines it; its default here is what locust.conf sets
    passed_on: bool = True  # the runner offers it and hands it to locust when given
    dest: str = ""  # its name on locust's parsed options when that is not the flag's

    @property
    def name(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")

    @property
    def parsed_name(self) -> str:
        return self.dest or self.name

    @property
    def env_var(self) -> str:
        return "LOCUST_" + self.name.upper()

    @property
    def conf_key(self) -> str:
        return self.flag.removeprefix("--")


OPTIONS: tuple[Option, ...] = (
    # locust's own options whose defaults the suite sets in locust.conf
    Option("--host", str, "http://127.0.0.1:6060", "service-1", locusts_own=True,
           passed_on=False),
    Option("--users", int, 10, "users (open model: the most messages in flight)",
           locusts_own=True, dest="num_users"),
    Option("--spawn-rate", float, 10.0, "users started per second", locusts_own=True),
    Option("--run-time", str, "30s", "load time, e.g. 30s, 2m", locusts_own=True,
           passed_on=False),
    # the suite's own options
    Option("--mode", str, "open",
           "open: constant arrival rate; closed: users with a think time"),
    Option("--arrival-rate", float, 50.0, "open model: messages per second over all users"),
    Option("--think-time", float, 0.05, "closed model: seconds a user waits between messages"),
    Option("--mix", str, "t1=100",
           "topic mix in percent, e.g. t1=90,t2=10 (t2 takes T2_DELAY_SECONDS)"),
    Option("--message-bytes", int, 256, "JSON body size of a message (a padding field fills it)"),
    Option("--drain-seconds", float, 30.0, "after the load, wait up to this long for stragglers"),
    Option("--max-messages", int, 100_000, "stop publishing after this many messages"),
    Option("--ledger-poll-seconds", float, 2.0,
           "how often to read the ledger (0: only at the end)"),
    Option("--prometheus-url", str, "http://127.0.0.1:9095", "Prometheus scraping the sidecars",
           passed_on=False),
    Option("--results-dir", str, "",
           "where summary.json and chart.png go (default results/load-<timestamp>)",
           passed_on=False),
    Option("--max-fail-ratio", float, 0.01, "gate: highest publish failure ratio (0..1)"),
    Option("--max-p95-publish-ms", float, 250.0, "gate: highest p95 publish latency"),
    Option("--max-p95-e2e-ms", float, 1000.0, "gate: highest p95 end-to-end delivery latency"),
    Option("--max-lost", int, 0, "gate: most messages published but never delivered"),
)  # fmt: skip

BY_NAME = {option.name: option for option in OPTIONS}
# The options the runner hands to locust only when they are given, so locust.conf keeps the rest.
PASSED_ON = tuple(option for option in OPTIONS if option.passed_on)


def default(name: str) -> Any:
    return BY_NAME[name].default


DEFAULT_RUN_SECONDS = parse_duration(default("run_time"), "--run-time")


# -- the values -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """The CI gate: the run fails when one of these is broken."""

    max_fail_ratio: float = default("max_fail_ratio")
    max_p95_publish_ms: float = default("max_p95_publish_ms")
    max_p95_e2e_ms: float = default("max_p95_e2e_ms")
    max_lost: int = default("max_lost")

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

    host: str = default("host")
    prometheus_url: str = default("prometheus_url")
    mode: str = default("mode")
    users: int = default("users")
    run_seconds: float = DEFAULT_RUN_SECONDS
    arrival_rate: float = default("arrival_rate")
    think_time: float = default("think_time")
    mix: dict[str, float] = field(default_factory=lambda: parse_mix(default("mix")))
    message_bytes: int = default("message_bytes")
    drain_seconds: float = default("drain_seconds")
    max_messages: int = default("max_messages")
    ledger_poll_seconds: float = default("ledger_poll_seconds")
    thresholds: Thresholds = field(default_factory=Thresholds)

    def validate(self) -> None:
        check_loopback_url(self.host, "--host")
        check_loopback_url(self.prometheus_url, "--prometheus-url")
        if self.mode not in MODES:
            raise LoadOptionError(f"--mode {self.mode!r} is not a mode: use 'open' or 'closed'")
        _check_range("--users", self.users, 1, MAX_USERS)
        _check_range("--run-time (seconds)", self.run_seconds, 1, MAX_RUN_SECONDS)
        if self.mode == "open":
            _check_range("--arrival-rate (msgs/s)", self.arrival_rate, MIN_ARRIVAL_RATE,
                         MAX_ARRIVAL_RATE)  # fmt: skip
        _check_range("--think-time (seconds)", self.think_time, 0, 60)
        _check_range("--message-bytes", self.message_bytes, 0, MAX_MESSAGE_BYTES)
        _check_range("--drain-seconds", self.drain_seconds, 0, MAX_DRAIN_SECONDS)
        _check_range("--max-messages", self.max_messages, 1, MAX_MESSAGES)
        _check_range("--ledger-poll-seconds", self.ledger_poll_seconds, 0, 60)
        self.thresholds.validate()


def options_from(values: Mapping[str, Any]) -> LoadOptions:
    """LoadOptions from option values by name (Option.name), with run-time in seconds."""
    run_time = values["run_time"]
    if isinstance(run_time, str):  # as written in locust.conf, before locust converts it
        run_time = parse_duration(run_time, "--run-time")
    plain = {
        name: values[name]
        for name in LoadOptions.__dataclass_fields__
        if name in BY_NAME and name not in ("host", "mode", "users", "mix")
    }
    return LoadOptions(
        host=values["host"] or "",
        # The one normalisation of --mode: the web UI's form hands its text over as typed.
        mode=str(values["mode"]).strip().lower(),
        users=int(values["users"] if values["users"] is not None else 1),
        run_seconds=float(DEFAULT_RUN_SECONDS if run_time is None else run_time),
        mix=parse_mix(values["mix"]),
        thresholds=Thresholds(**{name: values[name] for name in Thresholds.__dataclass_fields__}),
        **plain,
    )


# -- locust's side ----------------------------------------------------------------------------


def add_locust_arguments(parser: Any) -> None:
    """Register the suite's options on locust's parser (an init_command_line_parser listener)."""
    for option in OPTIONS:
        if not option.locusts_own:
            parser.add_argument(
                option.flag,
                type=option.kind,
                default=option.default,
                help=option.help,
                env_var=option.env_var,
            )
    parser.add_argument(
        "--validate-only",
        action="store_true",
        default=False,
        help="check the options, print them and exit before any load",
        include_in_web_ui=False,
    )


def from_locust(parsed: Any) -> LoadOptions:
    """LoadOptions from locust's parsed options (config file, environment and flags merged)."""
    return options_from({option.name: getattr(parsed, option.parsed_name) for option in OPTIONS})
