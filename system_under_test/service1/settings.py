"""service-1's settings: one frozen dataclass, read once from the environment."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from system_under_test.common.settings import (
    SettingsError,
    dapr_http_endpoint,
    env_float,
    env_int,
    env_list,
    env_log_level,
    env_switch,
    env_text,
)

DEFAULT_TOPICS = ("t1", "t2")
DEFAULT_DAPR_HTTP_PORT = 3500
# Single-segment paths service-1 already serves: a topic of that name could not get its route.
RESERVED_TOPICS = frozenset({"state", "ping", "healthz", "metrics", "ledger", "publish"})
_TOPIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def default_ledger_path() -> Path:
    return Path(tempfile.gettempdir()) / "dapr-pubsub-suite" / "service-1-ledger.sqlite3"


def dead_letter_topic(topic: str) -> str:
    return f"{topic}-dead-letter"


@dataclass(frozen=True)
class Service1Settings:
    app_id: str = "service-1"
    port: int = 6060
    dapr_http_endpoint: str = f"http://127.0.0.1:{DEFAULT_DAPR_HTTP_PORT}"
    dapr_grpc_port: int = 0  # 0: no gRPC streaming subscription (features/streaming.py)
    pubsub_name: str = "messagebus"
    state_store_name: str = "statestore"
    state_key: str = "dapr-series"
    service2_app_id: str = "service-2"
    topics: tuple[str, ...] = DEFAULT_TOPICS
    # off: t1/t2 subscriptions without a dead-letter topic (the harness' plain profile)
    dead_letter_topics: bool = True
    t2_delay_seconds: float = 10.0
    max_body_bytes: int = 65536
    ledger_path: Path = field(default_factory=default_ledger_path)
    app_api_token: str = ""
    dapr_api_token: str = ""
    suite_api_token: str = ""  # system_under_test/suite_token.py
    dapr_timeout_seconds: float = 10.0
    # above 0: publishes refused while this many are on their way (admission.py)
    publish_max_backlog: int = 0
    log_level: str = "info"

    def __post_init__(self) -> None:
        check_topics(self.topics)
        if str(self.ledger_path) in ("", ":memory:") or str(self.ledger_path).startswith("file:"):
            raise SettingsError(f"LEDGER_PATH={str(self.ledger_path)!r} must be a file path")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Service1Settings:
        env = os.environ if env is None else env
        base = cls()
        return cls(
            app_id=env_text(env, "APP_ID", base.app_id),
            port=env_int(env, "APP_PORT", base.port, 1, 65535),
            dapr_http_endpoint=dapr_http_endpoint(env, DEFAULT_DAPR_HTTP_PORT),
            dapr_grpc_port=env_int(env, "DAPR_GRPC_PORT", 0, 0, 65535),
            pubsub_name=env_text(env, "PUBSUB_NAME", base.pubsub_name),
            state_store_name=env_text(env, "STATE_STORE_NAME", base.state_store_name),
            state_key=env_text(env, "STATE_KEY", base.state_key),
            service2_app_id=env_text(env, "SERVICE2_APP_ID", base.service2_app_id),
            topics=env_list(env, "TOPICS", base.topics),
            dead_letter_topics=env_switch(env, "DEAD_LETTER_TOPICS", base.dead_letter_topics),
            t2_delay_seconds=env_float(env, "T2_DELAY_SECONDS", base.t2_delay_seconds, 0.0),
            max_body_bytes=env_int(env, "MAX_BODY_BYTES", base.max_body_bytes, 1024, 16 << 20),
            ledger_path=Path(env_text(env, "LEDGER_PATH", str(base.ledger_path))),
            app_api_token=env_text(env, "APP_API_TOKEN", ""),
            dapr_api_token=env_text(env, "DAPR_API_TOKEN", ""),
            suite_api_token=env_text(env, "SUITE_API_TOKEN", ""),
            dapr_timeout_seconds=env_float(env, "DAPR_TIMEOUT_SECONDS", 10.0, 0.1),
            publish_max_backlog=env_int(env, "PUBLISH_MAX_BACKLOG", 0, 0, 1_000_000),
            log_level=env_log_level(env),
        )


def check_topics(topics: tuple[str, ...]) -> None:
    if not topics:
        raise SettingsError("TOPICS must name at least one topic")
    for topic in topics:
        if not _TOPIC_NAME.match(topic):
            raise SettingsError(f"TOPICS: {topic!r} is not a plain topic name ([A-Za-z0-9._-])")
        if topic in RESERVED_TOPICS:
            raise SettingsError(f"TOPICS: {topic!r} is taken by a service-1 route")
    if len(set(topics)) != len(topics):
        raise SettingsError(f"TOPICS names a topic twice: {','.join(topics)}")
