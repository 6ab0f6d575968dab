"""Shared parts of the real Kubernetes-path checks: figures printed at the end of the run.

These checks build images and Go commands and start real servers; they are marked
`integration` (so the unit run skips them) and `k8s` (tox -e k8s-validate runs them).
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

from harness.longrun import Progress

FIGURES: list[str] = []


@pytest.fixture(scope="session")
def figures() -> list[str]:
    """Lines a check wants the user to see (sizes, build and start times)."""
    return FIGURES


@pytest.fixture(scope="session")
def progress(pytestconfig: pytest.Config) -> Progress:
    """Progress of long builds, shown live under tox (pytest would capture it)."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")

    def show(message: str) -> None:
        with capture.global_and_fixture_disabled():
            print(f"\n[k8s] {message}", file=sys.stderr, end="", flush=True)

    return show


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("kubernetes path figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
