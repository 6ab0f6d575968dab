"""Toxiproxy, the fault proxy between the sidecars and Redis: found, installed, driven.

The binary is built from the Go module proxy by `harness.gobuild`, like the suite's other Go
commands, with the version stamped the way the release does; what is there is never
rebuilt. It is driven through its HTTP API: a proxy per upstream, disabled to cut the
network, a latency toxic to slow it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from harness.arguments import run_command
from harness.errors import HarnessError
from harness.gobuild import GoCommand, ensure_command
from harness.longrun import say
from harness.loopback import require_loopback

if TYPE_CHECKING:
    import httpx

TOXIPROXY_VERSION = "2.5.0"
MODULE = "github.com/Shopify/toxiproxy/v2"
# the release stamps its version this way; a plain build says "git"
COMMAND = GoCommand(
    name="toxiproxy-server",
    module=MODULE,
    version=f"v{TOXIPROXY_VERSION}",
    package=f"{MODULE}/cmd/server",
    ldflags=f"-s -w -X {MODULE}.Version={TOXIPROXY_VERSION}",
)


def installed_version(binary: Path) -> str | None:
    try:
        out = subprocess.run(
            [str(binary), "-version"], capture_output=True, text=True, timeout=10, check=False
        )
    except OSError:
        return None
    text = (out.stdout + out.stderr).strip()
    return text.split()[-1].lstrip("v") if text else None


def find_toxiproxy() -> Path | None:
    """$TOXIPROXY_SERVER, then PATH, then the suite's build cache; only the pinned version."""
    named = [os.environ.get("TOXIPROXY_SERVER"), shutil.which("toxiproxy-server")]
    candidates = [Path(name) for name in named if name] + [COMMAND.binary()]
    for candidate in candidates:
        if candidate.is_file() and installed_version(candidate) == TOXIPROXY_VERSION:
            return candidate
    return None


def ensure_toxiproxy() -> Path:
    """The pinned toxiproxy-server, built when absent (about 10 s with a warm Go cache)."""
    found = find_toxiproxy()
    if found is not None:
        return found
    binary, _ = ensure_command(COMMAND, say("toxiproxy"))
    return binary


class Toxiproxy:
    """The HTTP API of one toxiproxy-server on loopback."""

    def __init__(self, api_url: str) -> None:
        import httpx  # here, so that `python -m harness.faults.toxiproxy` needs no packages

        url = require_loopback(api_url, "the toxiproxy API")
        self.http = httpx.Client(base_url=url, timeout=5.0, trust_env=False)

    def close(self) -> None:
        self.http.close()

    def ready(self) -> bool:
        return self.http.get("/version").status_code == 200

    def create_proxy(self, name: str, listen: str, upstream: str) -> None:
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": True}
        self._ok(self.http.post("/proxies", json=body), f"create proxy {name}")

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Disabled: every connection through the proxy is closed and new ones refused."""
        response = self.http.post(f"/proxies/{name}", json={"enabled": enabled})
        self._ok(response, f"{'enable' if enabled else 'disable'} proxy {name}")

    def add_latency(self, name: str, latency_ms: int, toxic: str = "latency") -> None:
        """Delay every answer from the upstream: `latency_ms` added to each round trip."""
        body = {
            "name": toxic,
            "type": "latency",
            "stream": "downstream",
            "attributes": {"latency": latency_ms, "jitter": 0},
        }
        self._ok(self.http.post(f"/proxies/{name}/toxics", json=body), f"add {toxic}")

    def remove_latency(self, name: str, toxic: str = "latency") -> None:
        response = self.http.delete(f"/proxies/{name}/toxics/{toxic}")
        if response.status_code != 404:
            self._ok(response, f"remove {toxic}")

    def proxy(self, name: str) -> dict[str, Any]:
        response = self.http.get(f"/proxies/{name}")
        self._ok(response, f"read proxy {name}")
        return cast(dict[str, Any], response.json())

    @staticmethod
    def _ok(response: httpx.Response, what: str) -> None:
        if response.status_code >= 300:
            raise HarnessError(f"toxiproxy: {what}: {response.status_code} {response.text}")


def main(argv: list[str] | None = None) -> int:
    """`python -m harness.faults.toxiproxy`: build toxiproxy-server for the fault scenarios."""
    return run_command(
        lambda: str(ensure_toxiproxy()), "python -m harness.faults.toxiproxy", main.__doc__, argv
    )


if __name__ == "__main__":
    sys.exit(main())
