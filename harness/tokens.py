"""The credentials of a target: Dapr's API token, the app token, and the suite's own token.

Each start of the local stack issues fresh ones (`issue_tokens`) and keeps them in the run
folder, readable by the owner only; everything that calls a protected route reads them back
(`read_tokens`). They go to processes through the environment, never on a command line,
and no report or log line carries them. `HARNESS_TOKENS=off` starts a tokenless stack, to
reproduce a deployment without tokens.

- Dapr API token: daprd refuses API calls without it (`dapr-api-token` header); the
  services send it (DAPR_API_TOKEN).
- App token: daprd sends it with every call to its app (APP_API_TOKEN); the services refuse
  deliveries, invocations and `/dapr/subscribe` without it.
- Suite token: the services' own API refuses calls that change something without it
  (`suite-api-token` header; SUITE_API_TOKEN), see docs/architecture.md.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import SettingsError

TOKENS_FILE = "tokens.json"
DAPR_TOKEN_HEADER = "dapr-api-token"
SUITE_TOKEN_HEADER = "suite-api-token"
SUITE_TOKEN_ENV = "SUITE_API_TOKEN"
MODES = {"on": True, "off": False}


class TokenSettingError(SettingsError):
    """HARNESS_TOKENS has a value that is neither on nor off."""


def tokens_enabled(env: Mapping[str, str]) -> bool:
    raw = env.get("HARNESS_TOKENS", "").strip().lower() or "on"
    if raw not in MODES:
        raise TokenSettingError(f"HARNESS_TOKENS={raw!r} must be 'on' or 'off'")
    return MODES[raw]


@dataclass(frozen=True)
class StackTokens:
    """The three tokens, or none of them; repr never shows a value."""

    dapr_api: str = field(default="", repr=False)
    app_api: str = field(default="", repr=False)
    suite_api: str = field(default="", repr=False)

    @property
    def enabled(self) -> bool:
        return bool(self.dapr_api and self.app_api and self.suite_api)

    @property
    def mode(self) -> str:
        return "on" if self.enabled else "off"

    def values(self) -> list[str]:
        return [token for token in (self.dapr_api, self.app_api, self.suite_api) if token]

    # Off means off: empty values also override tokens the caller's environment may carry.
    def daprd_env(self) -> dict[str, str]:
        return {"DAPR_API_TOKEN": self.dapr_api, "APP_API_TOKEN": self.app_api}

    def service_env(self) -> dict[str, str]:
        return {**self.daprd_env(), "SUITE_API_TOKEN": self.suite_api}

    def dapr_headers(self) -> dict[str, str]:
        """For calls to daprd's API."""
        return {DAPR_TOKEN_HEADER: self.dapr_api} if self.enabled else {}

    def app_headers(self) -> dict[str, str]:
        """What daprd sends to its app: only a test that plays daprd needs it."""
        return {DAPR_TOKEN_HEADER: self.app_api} if self.enabled else {}

    def suite_headers(self) -> dict[str, str]:
        """For the services' own API (publish, state)."""
        return {SUITE_TOKEN_HEADER: self.suite_api} if self.enabled else {}


def suite_token_env(tokens: StackTokens) -> dict[str, str]:
    """For a child process of the suite (locust) that publishes: the token in its environment."""
    return {SUITE_TOKEN_ENV: tokens.suite_api} if tokens.enabled else {}


def suite_headers_from_env(env: Mapping[str, str]) -> dict[str, str]:
    """The headers a child process started with `suite_token_env` sends."""
    token = env.get(SUITE_TOKEN_ENV, "")
    return {SUITE_TOKEN_HEADER: token} if token else {}


def new_tokens() -> StackTokens:
    return StackTokens(
        dapr_api=secrets.token_urlsafe(32),
        app_api=secrets.token_urlsafe(32),
        suite_api=secrets.token_urlsafe(32),
    )


def issue_tokens(run_dir: Path, enabled: bool) -> StackTokens:
    """Fresh tokens written to the run folder (0600), or none and no file when off."""
    path = run_dir / TOKENS_FILE
    path.unlink(missing_ok=True)
    if not enabled:
        return StackTokens()
    tokens = new_tokens()
    text = json.dumps(
        {"dapr_api": tokens.dapr_api, "app_api": tokens.app_api, "suite_api": tokens.suite_api}
    )
    # Created 0600 at once (never readable by others, not even for a moment).
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    return tokens


def read_tokens(run_dir: Path) -> StackTokens:
    """The tokens of the stack in `run_dir`; none when it runs without tokens."""
    try:
        raw = json.loads((run_dir / TOKENS_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return StackTokens()
    except (OSError, ValueError) as err:
        raise TokenSettingError(f"{run_dir / TOKENS_FILE} cannot be read: {err}") from None
    if not isinstance(raw, dict):
        raise TokenSettingError(f"{run_dir / TOKENS_FILE} is not a JSON object")
    return StackTokens(
        dapr_api=str(raw.get("dapr_api", "")),
        app_api=str(raw.get("app_api", "")),
        suite_api=str(raw.get("suite_api", "")),
    )
