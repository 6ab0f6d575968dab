"""Checking that the stack's pinned ports are free, and naming who holds a taken one."""

from __future__ import annotations

import re
import socket
import subprocess

from harness.errors import HarnessError

EPHEMERAL_PORT_START = 32768  # the kernel hands out ports from here: pinned ones stay below


def require_pinned_range(
    named_ports: dict[str, int], error: type[HarnessError] = HarnessError
) -> None:
    """Every pinned port in 1024..32767, so an offset never moves one out of reach."""
    for name, port in named_ports.items():
        if not 1024 <= port < EPHEMERAL_PORT_START:
            raise error(f"port {port} for {name} must be in 1024..{EPHEMERAL_PORT_START - 1}")


def is_port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def accepts(host: str, port: int, timeout: float = 1) -> bool:
    """Something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_holder(port: int) -> str:
    """Who listens on `port`, as `name (pid N)`, or 'unknown process' if ss cannot tell."""
    try:
        out = subprocess.run(
            ["ss", "-Hltnp", f"sport = :{port}"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown process"
    return describe_ss_users(out)


def describe_ss_users(ss_output: str) -> str:
    match = re.search(r'users:\(\("([^"]+)",pid=(\d+)', ss_output)
    if not match:
        return "unknown process"
    return f"{match.group(1)} (pid {match.group(2)})"


def ensure_ports_free(named_ports: dict[str, int], host: str = "127.0.0.1") -> None:
    """Raise one line naming the first taken port, its owner in the stack, and its holder."""
    for name, port in named_ports.items():
        if not is_port_free(port, host):
            raise HarnessError(
                f"port {port} ({name}) is already taken by {port_holder(port)}; "
                "stop that process or choose another port"
            )
