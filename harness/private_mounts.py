"""Starting a command in a private mount namespace, with files of its own at fixed paths.

Dapr's control plane and kube-apiserver read some things only from fixed paths: the
sidecar injector its sentry token and trust anchors under /var/run/secrets/dapr.io,
kube-apiserver the host names of a webhook in /etc/hosts. `unshare --mount` gives the one
process (and its children) mounts nobody else sees; they die with it, so nothing is left
mounted and the machine's own files are never touched. Needs root.
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

from harness.errors import HarnessError

_RUN_DIRS = ("/run/", "/var/run/")  # /var/run is a link to /run on Debian


def require_unshare() -> None:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        raise HarnessError("a private mount namespace needs root and unshare (util-linux)")


def _unshare(steps: list[str], argv: list[str]) -> list[str]:
    script = " && ".join([*steps, 'exec "$@"'])
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *argv]


def with_private_mounts(
    argv: list[str], binds: dict[str, Path] | None = None, run_files: dict[str, Path] | None = None
) -> list[str]:
    """`argv` seeing each `binds` source at its path (a file over a file), and, with
    `run_files`, an empty /run holding a copy of each source at its path under /run."""
    steps = []
    if run_files:
        steps.append("mount -t tmpfs -o mode=0755 tmpfs /run")
    for target, source in (run_files or {}).items():
        if not target.startswith(_RUN_DIRS):
            raise HarnessError(f"{target}: only paths under /run can be given privately")
        steps.append(f"mkdir -p {shlex.quote(os.path.dirname(target))}")
        steps.append(f"cp {shlex.quote(str(source))} {shlex.quote(target)}")
    for target, source in (binds or {}).items():
        steps.append(f"mount --bind {shlex.quote(str(source))} {shlex.quote(target)}")
    return _unshare(steps, argv)


def loopback_names(directory: Path, hosts: dict[str, str] | None = None) -> dict[str, Path]:
    """Binds for /etc/hosts (localhost and `hosts`) and /etc/resolv.conf: a name not in
    the file is asked of 127.0.0.1, never of the machine's DNS server."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "hosts").write_text(hosts_text(hosts or {}))
    (directory / "resolv.conf").write_text("nameserver 127.0.0.1\n")
    return {"/etc/hosts": directory / "hosts", "/etc/resolv.conf": directory / "resolv.conf"}


def hosts_text(hosts: dict[str, str]) -> str:
    lines = ["127.0.0.1 localhost"] + [f"{address} {name}" for name, address in hosts.items()]
    return "\n".join(lines) + "\n"
