"""The Debian-packaged servers the stack runs: found on PATH, or installed with apt-get."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from harness.errors import HarnessError

# command -> Debian package that provides it
PACKAGES = {"redis-server": "redis-server", "prometheus": "prometheus"}


def _apt_possible() -> bool:
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def ensure_tools(commands: list[str] | None = None) -> dict[str, str]:
    """Return {command: path}; install missing ones with apt-get where that works."""
    commands = commands or list(PACKAGES)
    missing = [command for command in commands if not shutil.which(command)]
    if missing and _apt_possible():
        packages = [PACKAGES[command] for command in missing]
        print(f"[harness] installing {' '.join(packages)} with apt-get", file=sys.stderr)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        result = subprocess.run(
            ["apt-get", "install", "-y", "-qq", *packages],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", *packages], env=env, capture_output=True,
                check=False,
            )  # fmt: skip
        missing = [command for command in missing if not shutil.which(command)]
    if missing:
        packages = " ".join(PACKAGES[command] for command in missing)
        raise HarnessError(
            f"missing {', '.join(missing)}: install them (Debian/Ubuntu: "
            f"sudo apt-get install {packages})"
        )
    return {command: shutil.which(command) or command for command in commands}
