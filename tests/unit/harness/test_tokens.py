"""The local stack's tokens: fresh per start, owner-only on disk, never shown, off on request."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.settings import StackSettings
from harness.tokens import (
    TOKENS_FILE,
    StackTokens,
    TokenSettingError,
    issue_tokens,
    read_tokens,
    suite_headers_from_env,
    suite_token_env,
    tokens_enabled,
)


def test_each_start_issues_fresh_tokens_readable_by_the_owner_only(tmp_path: Path) -> None:
    first = issue_tokens(tmp_path, enabled=True)
    second = issue_tokens(tmp_path, enabled=True)
    assert first.enabled and second.enabled
    assert set(first.values()).isdisjoint(second.values())
    assert len(set(first.values())) == 3
    assert all(len(token) >= 40 for token in first.values())
    assert (tmp_path / TOKENS_FILE).stat().st_mode & 0o777 == 0o600
    assert read_tokens(tmp_path) == second


def test_off_leaves_no_token_file_and_blanks_inherited_tokens(tmp_path: Path) -> None:
    issue_tokens(tmp_path, enabled=True)
    tokens = issue_tokens(tmp_path, enabled=False)
    assert not (tmp_path / TOKENS_FILE).exists()
    assert read_tokens(tmp_path) == StackTokens()
    assert tokens.mode == "off"
    assert tokens.service_env() == {
        "DAPR_API_TOKEN": "",
        "APP_API_TOKEN": "",
        "SUITE_API_TOKEN": "",
    }
    assert tokens.dapr_headers() == tokens.suite_headers() == {}


def test_where_each_token_goes(tmp_path: Path) -> None:
    tokens = StackTokens(dapr_api="d" * 43, app_api="a" * 43, suite_api="s" * 43)
    assert tokens.daprd_env() == {"DAPR_API_TOKEN": "d" * 43, "APP_API_TOKEN": "a" * 43}
    assert tokens.service_env()["SUITE_API_TOKEN"] == "s" * 43
    assert tokens.dapr_headers() == {"dapr-api-token": "d" * 43}
    assert tokens.app_headers() == {"dapr-api-token": "a" * 43}
    assert tokens.suite_headers() == {"suite-api-token": "s" * 43}
    assert suite_headers_from_env(suite_token_env(tokens)) == tokens.suite_headers()


def test_repr_never_shows_a_token() -> None:
    tokens = StackTokens(dapr_api="secret-d", app_api="secret-a", suite_api="secret-s")
    assert "secret" not in repr(tokens)


@pytest.mark.parametrize(("raw", "enabled"), [("", True), ("on", True), ("OFF", False)])
def test_the_switch(raw: str, enabled: bool) -> None:
    assert tokens_enabled({"HARNESS_TOKENS": raw}) is enabled
    assert StackSettings.from_env({"HARNESS_TOKENS": raw}).tokens is enabled


def test_a_bad_switch_is_one_line() -> None:
    with pytest.raises(TokenSettingError, match=r"^HARNESS_TOKENS='maybe' must be 'on' or 'off'$"):
        tokens_enabled({"HARNESS_TOKENS": "maybe"})


def test_an_unreadable_token_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / TOKENS_FILE).write_text("[1]")
    with pytest.raises(TokenSettingError, match="is not a JSON object"):
        read_tokens(tmp_path)
