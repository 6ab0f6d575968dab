"""A pytest plugin: each e2e run leaves JUnit XML and one self-contained HTML report.

Both go into `results/e2e-<timestamp>/` (or `--e2e-report-dir` / `E2E_REPORT_DIR`), the
folder a CI keeps as its artifact. The HTML shows every check's outcome with the scoreboard
rows and metric deltas it recorded, charts of the burst, and on a failure the sections the
conftest attached (log tails, Prometheus queries). A folder that cannot be written stops
the run before any test with one line; a session refused at its start removes the folder
it made, so refused runs leave no empty folders.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from e2e.report_html import CheckResult, render_report
from e2e.scoreboard import SESSION_SCOREBOARD, Scoreboard
from harness.results import results_folder

ENV_VAR = "E2E_REPORT_DIR"
OPTION = "--e2e-report-dir"
SCOREBOARD_FILE = "scoreboard.json"  # the scoreboard and each check's outcome


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        OPTION,
        default=None,
        help=f"folder for junit.xml and report.html (default: ${ENV_VAR} or results/e2e-<ts>)",
    )


def report_dir(option: str | None, env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ if env is None else env)
    return results_folder(option or env.get(ENV_VAR), "e2e")


def writable_or_error(folder: Path) -> None:
    """Create the folder and prove it takes a file; one line naming it when it does not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".writable"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise pytest.UsageError(
            f"the e2e report folder {folder} cannot be written ({exc.strerror or exc}); "
            f"choose another with {OPTION}=<dir> or {ENV_VAR}=<dir>"
        ) from None


class E2eReport:
    """Collects each check's outcome during the run and writes report.html at its end."""

    def __init__(self, folder: Path, scoreboard: Scoreboard, made: bool = False) -> None:
        self.folder = folder
        self.made = made  # this session made the folder: it removes it again if left empty
        self.scoreboard = scoreboard
        self.started = time.time()
        self.checks: dict[str, CheckResult] = {}
        self.written = ""

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        check = self.checks.setdefault(report.nodeid, CheckResult(report.nodeid))
        check.duration += report.duration
        if report.failed and report.when != "call":
            check.outcome = "error"  # a broken setup or teardown
        elif (report.when == "call" or report.skipped) and check.outcome != "error":
            check.outcome = "xfailed" if hasattr(report, "wasxfail") else report.outcome
        if report.failed:
            check.failure = str(report.longreprtext)
            check.sections.extend(
                (title, text) for title, text in report.sections if not title.startswith("Captured")
            )

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        path = self.folder / "report.html"
        html = render_report(list(self.checks.values()), self.scoreboard, self.started, time.time())
        outcomes = {check.nodeid: check.outcome for check in self.checks.values()}
        board = {**self.scoreboard.as_dict(), "checks": outcomes}
        try:
            path.write_text(html, encoding="utf-8")
            (self.folder / SCOREBOARD_FILE).write_text(json.dumps(board, indent=2))
        except OSError as exc:
            self.written = f"e2e report NOT written to {path}: {exc.strerror or exc}"
        else:
            self.written = f"e2e report: {path} (JUnit XML beside it)"

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.written:
            terminalreporter.write_line(self.written)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """A session refused before it ran (bad settings) leaves no empty folder behind."""
        if self.made and self.folder.is_dir() and not any(self.folder.iterdir()):
            self.folder.rmdir()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Runs before pytest's junitxml plugin reads --junitxml, so it can default it here."""
    if config.option.collectonly or config.option.help or hasattr(config, "workerinput"):
        return
    folder = report_dir(config.getoption(OPTION))
    made = not folder.exists()
    writable_or_error(folder)
    if not config.option.xmlpath:
        config.option.xmlpath = str(folder / "junit.xml")
    config.pluginmanager.register(E2eReport(folder, SESSION_SCOREBOARD, made), "e2e-report")
