"""Shared parts of the real Kubernetes-path checks: figures printed at the end of the run.

These checks build images and Go commands and start real servers; they are marked
`integration` (so the unit run skips them) and `k8s` (tox -e k8s-validate runs them).
"""

from __future__ import annotations

from typing import Any

import pytest

FIGURES: list[str] = []


@pytest.fixture(scope="session")
def figures() -> list[str]:
    """Lines a check wants the user to see (sizes, build and start times)."""
    return FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("kubernetes path figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
