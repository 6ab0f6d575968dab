"""The Debian-packaged servers the stack runs: found on PATH, or installed with apt-get."""

from __future__ import annotations

import os
import shutil
import subprocess

from harness.errors import HarnessError
from harness.progress import say, wait_with_ticks

# command -> Debian package that provides it
PACKAGES = {
    "redis-server": "redis-server",
    "prometheus": "prometheus",
    "nats-server": "nats-server",
    "mosquitto": "mosquitto",
    "rabbitmq-server": "rabbitmq-server",
    "java": "openjdk-17-jre-headless",  # Kafka's node (harness/brokers/kafka.py)
    "mvn": "maven",  # fetches Kafka's jars (harness/kafka_jars.py)
}
# named when missing but never installed by the harness: a JDK is the machine's choice
NOT_INSTALLED = {"java", "mvn"}
STACK_COMMANDS = ["redis-server", "prometheus"]  # what every local stack runs


def _apt_possible() -> bool:
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def _apt_get(*args: str) -> int:
    """Run apt-get quietly, with a line every 30 s so a slow mirror does not look hung."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with subprocess.Popen(
        ["apt-get", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as proc:
        return wait_with_ticks(proc, lambda line: say("harness", line), f"apt-get {args[0]}")


def ensure_tools(commands: list[str] | None = None) -> dict[str, str]:
    """Return {command: path}; install missing ones with apt-get where that works."""
    commands = commands or STACK_COMMANDS
    missing = [command for command in commands if not shutil.which(command)]
    installable = [command for command in missing if command not in NOT_INSTALLED]
    if installable and _apt_possible():
        packages = [PACKAGES[command] for command in installable]
        say("harness", f"installing {' '.join(packages)} with apt-get")
        if _apt_get("install", "-y", "-qq", *packages) != 0:
            _apt_get("update", "-qq")
            _apt_get("install", "-y", "-qq", *packages)
        missing = [command for command in missing if not shutil.which(command)]
    if missing:
        to_install = " ".join(PACKAGES[command] for command in missing)
        raise HarnessError(
            f"missing {', '.join(missing)}: install them (Debian/Ubuntu: "
            f"sudo apt-get install {to_install})"
        )
    return {command: shutil.which(command) or command for command in commands}
