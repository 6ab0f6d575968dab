"""`.ci/run` runs the installers with the machine's python3 before any virtualenv exists,
so the modules they import must need nothing but the standard library."""

from __future__ import annotations

import subprocess
import sys

from harness.settings import REPO_ROOT

INSTALLERS = ["harness.daprd", "harness.faults.toxiproxy", "harness.jaeger", "harness.kafka_jars"]


def test_the_installers_import_on_the_standard_library_alone() -> None:
    # -S: no site-packages, so a third-party import anywhere on the way fails here
    result = subprocess.run(
        [sys.executable, "-S", "-c", f"import {', '.join(INSTALLERS)}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
