"""Shell scripts: shellcheck, strict mode, and the executable bit of scripts with a shebang."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from k3d.validate.report import SetupError, one_line


def shellcheck() -> str:
    """The shellcheck executable; without it the check cannot run (and so fails)."""
    found = shutil.which("shellcheck")
    if found is None:
        raise SetupError(
            "shellcheck is not installed (apt-get install shellcheck / brew install shellcheck)"
        )
    return found


def check_shell_script(path: Path) -> list[str]:
    result = subprocess.run(
        [shellcheck(), "--format=gcc", "--external-sources", "--source-path=SCRIPTDIR", path.name],
        capture_output=True,
        text=True,
        cwd=path.parent,
        timeout=120,
        check=False,
    )
    problems = [line for line in result.stdout.splitlines() if line]
    if result.returncode != 0 and not problems:
        problems.append(f"shellcheck failed: {one_line(result.stderr)}")
    text = path.read_text(encoding="utf-8")
    if text.startswith("#!"):
        if not re.search(r"^set -euo pipefail$", text, flags=re.M):
            problems.append("an executable script must 'set -euo pipefail'")
        if not os.access(path, os.X_OK):
            problems.append("has a shebang but is not executable (chmod +x)")
    return problems
