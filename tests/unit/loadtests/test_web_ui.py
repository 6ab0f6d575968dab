"""The locust web UI's own parts (loadtests/web_ui.py, stats_total.py), in a separate pytest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.settings import REPO_ROOT

CASES = Path(__file__).with_name("web_ui_cases.py")


def test_web_ui_cases_pass_in_a_process_of_their_own() -> None:
    # no plugin that imports ssl before locust's gevent patches it (schemathesis would)
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:anyio",
            "-p", "no:schemathesis", str(CASES)]  # fmt: skip
    done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
