"""The fuzz session: one real local stack of its own (tokens on, t2 without delay)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fuzz.tally import TALLY
from harness.errors import HarnessError
from harness.local_stack import LocalStack
from harness.settings import StackSettings


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    settings = replace(
        StackSettings.from_env(),
        t2_delay_seconds=0.0,  # a generated valid t2 delivery must not sleep 10 s
        run_dir=tmp_path_factory.mktemp("fuzz") / "stack",
        tokens=True,
    )
    stack = LocalStack(settings, quiet=True)
    try:
        stack.start()
    except HarnessError as err:
        pytest.fail(f"the local stack did not start: {err}", pytrace=False)
    try:
        yield stack
    finally:
        stack.stop()


def ledger_rows(stack: LocalStack) -> list[tuple[Any, ...]]:
    """Every delivery attempt in service-1's ledger (read-only, beside the running service)."""
    path: Path = stack.settings.run_dir / "ledger.db"
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return connection.execute("SELECT route, run FROM deliveries").fetchall()
    finally:
        connection.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TALLY.cases:
        terminalreporter.section("fuzz summary")
        for line in TALLY.lines():
            terminalreporter.write_line(line)
