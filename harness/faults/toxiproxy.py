"""Toxiproxy, the fault proxy between the sidecars and Redis: found, installed, driven.

The binary is built from the Go module proxy (`go install ...@v2.5.0`) into a suite-owned
bin directory, the way daprd is built; what is there is never rebuilt. It is driven through
its HTTP API: a proxy per upstream, disabled to cut the network, a latency toxic to slow it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from harness.errors import HarnessError
from harness.loopback import require_loopback

if TYPE_CHECKING:
    import httpx

TOXIPROXY_VERSION = "2.5.0"
MODULE = "github.com/Shopify/toxiproxy/v2/cmd/server"
VERSION_VARIABLE = "github.com/Shopify/toxiproxy/v2.Version"
BIN_DIR = Path.home() / ".cache" / "dapr-pubsub-suite" / "bin"
BINARY_NAME = "toxiproxy-server"


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
    """$TOXIPROXY_SERVER, then PATH, then the suite's bin dir; only the pinned version."""
    named = [os.environ.get("TOXIPROXY_SERVER"), shutil.which(BINARY_NAME)]
    candidates = [Path(name) for name in named if name] + [BIN_DIR / BINARY_NAME]
    for candidate in candidates:
        if candidate.is_file() and installed_version(candidate) == TOXIPROXY_VERSION:
            return candidate
    return None


def ensure_toxiproxy() -> Path:
    """The pinned toxiproxy-server, built with `go install` when absent (about 10 s)."""
    found = find_toxiproxy()
    if found is not None:
        return found
    go = shutil.which("go")
    if go is None:
        raise HarnessError("toxiproxy-server is missing and Go is not installed to build it")
    BIN_DIR.mkdir(parents=True, exist_ok=True)
    print(f"[harness] building toxiproxy-server {TOXIPROXY_VERSION}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="toxiproxy-build-") as gobin:
        result = subprocess.run(
            # the release stamps its version the same way; a plain install says "git"
            [go, "install", "-ldflags", f"-X {VERSION_VARIABLE}={TOXIPROXY_VERSION}",
             f"{MODULE}@v{TOXIPROXY_VERSION}"],
            env={**os.environ, "GOBIN": gobin, "CGO_ENABLED": "0"},
            capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise HarnessError(f"building toxiproxy-server failed: {last}")
        shutil.move(str(Path(gobin) / "server"), BIN_DIR / BINARY_NAME)
    return BIN_DIR / BINARY_NAME


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


if __name__ == "__main__":
    try:
        print(ensure_toxiproxy())
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
