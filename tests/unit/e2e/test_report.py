"""The e2e report plugin: JUnit XML and one self-contained HTML page per run, in one folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

from e2e.report_html import CheckResult, render_report
from e2e.scoreboard import Scoreboard
from harness.settings import REPO_ROOT
from harness.verdict import delivery_verdict

CHECKS = textwrap.dedent(
    """
    import pytest
    from e2e.scoreboard import SESSION_SCOREBOARD
    from harness.verdict import delivery_verdict

    def records(seqs, topic="t1"):
        return [{"topic": topic, "seq": s, "run": "r", "count": 1, "sent_at": 100.0 + s / 100,
                 "first_received_at": 100.05 + s / 100} for s in seqs]

    def test_all_arrive():
        verdict = delivery_verdict("t1", range(1, 11), records(range(1, 11)))
        SESSION_SCOREBOARD.verdict("ten on t1", verdict)
        SESSION_SCOREBOARD.delivery_times("ten on t1", records(range(1, 11)))
        SESSION_SCOREBOARD.delta("ten on t1", "sum(dapr_component_pubsub_egress_count)", 10)

    def test_two_lost():
        verdict = delivery_verdict("t1", range(1, 5), records(range(1, 3)))
        SESSION_SCOREBOARD.verdict("four on t1", verdict)
        assert verdict.ok, str(verdict)
    """
)
CONFTEST = textwrap.dedent(
    """
    import pytest
    pytest_plugins = ["e2e.report"]

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(item, call):
        outcome = yield
        report = outcome.get_result()
        if report.failed:
            report.sections.append(("log tail: daprd-service-1", "level=error msg=<boom>"))
    """
)


def run_pytest(tmp_path: Path, *args: str, env: dict[str, str] | None = None):
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_checks.py").write_text(CHECKS)
    environ = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    if not env:
        environ.pop("E2E_REPORT_DIR", None)
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args, str(tmp_path)]
    return subprocess.run(
        argv, cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=120, check=False
    )


def test_a_run_leaves_junit_and_html(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    done = run_pytest(tmp_path, f"--e2e-report-dir={folder}")
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"e2e report: {folder / 'report.html'}" in done.stdout
    suite = ET.parse(folder / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"
    page = (folder / "report.html").read_text()
    assert "dapr pub/sub e2e: <span class='failed'>FAILED</span>" in page
    assert "ten on t1 t1: ok" in page and "four on t1 t1: NOT ok" in page
    assert "sum(dapr_component_pubsub_egress_count)" in page
    assert "data:image/png;base64," in page  # the chart is inside the page
    assert "lost 2" in page  # the failure's message
    assert "log tail: daprd-service-1" in page and "&lt;boom&gt;" in page
    board = json.loads((folder / "scoreboard.json").read_text())
    assert [(r["scenario"], r["arrivals"], r["lost"]) for r in board["rows"]] == [
        ("ten on t1", 10, 0),
        ("four on t1", 2, 2),
    ]
    assert board["deltas"][0]["delta"] == 10
    assert sorted(board["checks"].values()) == ["failed", "passed"]


def test_the_folder_comes_from_the_environment(tmp_path: Path) -> None:
    folder = tmp_path / "from-env"
    run_pytest(tmp_path, env={"E2E_REPORT_DIR": str(folder)})
    assert (folder / "report.html").exists() and (folder / "junit.xml").exists()


def test_a_folder_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = run_pytest(tmp_path, f"--e2e-report-dir={blocker / 'report'}")
    assert done.returncode == 4
    assert "Traceback" not in done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == [
        f"ERROR: the e2e report folder {blocker / 'report'} cannot be written (Not a directory); "
        "choose another with --e2e-report-dir=<dir> or E2E_REPORT_DIR=<dir>"
    ]


def test_render_report_passes_when_every_check_passed() -> None:
    board = Scoreboard()
    board.verdict("one", delivery_verdict("t1", [1], []))
    page = render_report([CheckResult("e2e/test_x.py::test_y")], board, 0.0, 1.0)
    assert "<span class='passed'>PASSED</span>" in page
    assert "NOT ok" in page  # the row itself: one message lost


REFUSING_CONFTEST = textwrap.dedent(
    """
    import pytest
    pytest_plugins = ["e2e.report"]

    def pytest_sessionstart(session):
        pytest.exit("faults: a bad setting", returncode=4)
    """
)


def test_a_session_refused_at_its_start_leaves_no_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(REFUSING_CONFTEST)
    (tmp_path / "test_checks.py").write_text(CHECKS)
    made, kept = tmp_path / "made" / "report", tmp_path / "kept"
    kept.mkdir()
    for folder in (made, kept):
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
             f"--e2e-report-dir={folder}", str(tmp_path)],
            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 4, done.stdout + done.stderr
    assert not made.exists()  # the session made it and left it empty
    assert kept.is_dir()  # it was there before: not the session's to remove
