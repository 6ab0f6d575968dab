"""A pytest plugin: progress lines of long steps appear live, past pytest's output capture.

Without it the daprd build (minutes on a fresh machine) runs inside the session fixture
with its lines captured, and the terminal stays silent. It writes the way pytest's own live
logging does: capture suspended, through the terminal reporter.
"""

from __future__ import annotations

import pytest

from harness import progress


class LiveProgress:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def __call__(self, line: str) -> None:
        capture = self.config.pluginmanager.getplugin("capturemanager")
        reporter = self.config.pluginmanager.getplugin("terminalreporter")
        if capture is None or reporter is None:
            progress.to_stderr(line)
            return
        with capture.global_and_fixture_disabled():
            reporter.ensure_newline()
            reporter.write_line(line)


def pytest_configure(config: pytest.Config) -> None:
    progress.set_sink(LiveProgress(config))


def pytest_unconfigure(config: pytest.Config) -> None:
    progress.set_sink(None)
