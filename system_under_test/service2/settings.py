"""service-2's settings: one frozen dataclass, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from system_under_test.common.settings import (
    dapr_http_endpoint,
    env_float,
    env_int,
    env_log_level,
    env_text,
)

DEFAULT_DAPR_HTTP_PORT = 3510


@dataclass(frozen=True)
class Service2Settings:
    app_id: str = "service-2"
    port: int = 7070
    dapr_http_endpoint: str = f"http://127.0.0.1:{DEFAULT_DAPR_HTTP_PORT}"
    state_store_name: str = "statestore"
    state_key: str = "service-2"
    max_body_bytes: int = 65536
    app_api_token: str = ""
    dapr_api_token: str = ""
    suite_api_token: str = ""  # system_under_test/suite_token.py
    dapr_timeout_seconds: float = 10.0
    log_level: str = "info"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Service2Settings:
        env = os.environ if env is None else env
        base = cls()
        return cls(
            app_id=env_text(env, "APP_ID", base.app_id),
            port=env_int(env, "APP_PORT", base.port, 1, 65535),
            dapr_http_endpoint=dapr_http_endpoint(env, DEFAULT_DAPR_HTTP_PORT),
            state_store_name=env_text(env, "STATE_STORE_NAME", base.state_store_name),
            state_key=env_text(env, "STATE_KEY", base.state_key),
            max_body_bytes=env_int(env, "MAX_BODY_BYTES", base.max_body_bytes, 1024, 16 << 20),
            app_api_token=env_text(env, "APP_API_TOKEN", ""),
            dapr_api_token=env_text(env, "DAPR_API_TOKEN", ""),
            suite_api_token=env_text(env, "SUITE_API_TOKEN", ""),
            dapr_timeout_seconds=env_float(env, "DAPR_TIMEOUT_SECONDS", 10.0, 0.1),
            log_level=env_log_level(env),
        )
