"""Jaeger v2 for the local stack: the tracing backend of the tutorial, on loopback only.

Jaeger's v2 binary is built from the Go module proxy like daprd (its go.mod has a replace
directive, so `go install` refuses it: a throwaway wrapper module carries the replace) and
installed to `~/.jaeger/bin/jaeger`; what is present is never rebuilt. It runs with an
in-memory store, an OTLP/HTTP receiver the sidecars export to, and the query API and UI; every
listener binds 127.0.0.1 and its own telemetry server is switched off.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness.daprd import go_directive, replace_lines
from harness.errors import HarnessError
from harness.progress import say, wait_with_ticks

MODULE = "github.com/jaegertracing/jaeger"
COMMAND = f"{MODULE}/cmd/jaeger"
DEFAULT_VERSION = "1.76.0"
DEFAULT_INSTALL = Path.home() / ".jaeger" / "bin" / "jaeger"


def _say(message: str) -> None:
    say("jaeger", message)


def ensure_jaeger(version: str = DEFAULT_VERSION, install_to: Path = DEFAULT_INSTALL) -> Path:
    """The Jaeger binary: `$JAEGER`, else `~/.jaeger/bin/jaeger`, built when absent."""
    named = os.environ.get("JAEGER")
    if named:
        if not Path(named).is_file():
            raise HarnessError(f"JAEGER={named} does not exist")
        return Path(named)
    if install_to.is_file():
        return install_to
    _say(f"jaeger not found; building {COMMAND}@v{version} (takes minutes the first time)")
    build(version, install_to)
    return install_to


def _go(args: list[str], cwd: Path, doing: str) -> str:
    """Run `go`, a line every 30 s while it works; its stdout, or one line on failure."""
    if not shutil.which("go"):
        raise HarnessError("building Jaeger needs Go: install it (or set JAEGER=<binary>)")
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
        subprocess.Popen(
            ["go", *args], cwd=cwd, stdout=out, stderr=err, text=True,
            env={**os.environ, "CGO_ENABLED": "0"},
        ) as proc,
    ):  # fmt: skip
        code = wait_with_ticks(proc, _say, doing)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if code != 0:
        last = [line.strip() for line in stderr.splitlines() if line.strip()][-1:] or ["no output"]
        raise HarnessError(f"go {args[0]} for Jaeger failed: {last[0]}")
    return stdout


def build(version: str, install_to: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="jaeger-build-") as tmp:
        workdir = Path(tmp)
        info = _go(["mod", "download", "-json", f"{MODULE}@v{version}"], workdir, "downloading")
        gomod = Path(json.loads(info)["GoMod"]).read_text()
        replaces = "\n".join(f"\t{line}" for line in replace_lines(gomod))
        (workdir / "go.mod").write_text(
            f"module jaeger-build\n\ngo {go_directive(gomod)}\n\nrequire {MODULE} v{version}\n\n"
            f"replace (\n{replaces}\n)\n"
        )
        (workdir / "tools.go").write_text(
            f'//go:build tools\n\npackage tools\n\nimport _ "{COMMAND}"\n'
        )
        _go(["mod", "tidy"], workdir, "resolving modules")
        output = workdir / "jaeger"
        _go(["build", "-o", str(output), COMMAND], workdir, "compiling")
        install_to.parent.mkdir(parents=True, exist_ok=True)
        partial = install_to.with_suffix(".partial")
        shutil.copyfile(output, partial)
        partial.chmod(0o755)
        partial.replace(install_to)
    _say(f"installed {install_to}")


def config(host: str, query_port: int, grpc_port: int, otlp_port: int) -> dict[str, Any]:
    """Jaeger v2's configuration: OTLP/HTTP in, memory store, query API and UI out."""
    return {
        "service": {
            "extensions": ["jaeger_storage", "jaeger_query"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["batch"],
                    "exporters": ["jaeger_storage_exporter"],
                }
            },
            "telemetry": {"metrics": {"level": "none"}, "logs": {"level": "info"}},
        },
        "extensions": {
            "jaeger_query": {
                "storage": {"traces": "memstore"},
                "enable_tracing": False,  # else it traces itself to an OTLP collector on :4317
                "http": {"endpoint": f"{host}:{query_port}"},
                "grpc": {"endpoint": f"{host}:{grpc_port}"},
            },
            "jaeger_storage": {"backends": {"memstore": {"memory": {"max_traces": 100000}}}},
        },
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"{host}:{otlp_port}"}}}},
        "processors": {"batch": {"timeout": "200ms"}},
        "exporters": {"jaeger_storage_exporter": {"trace_storage": "memstore"}},
    }


def trace_services(query_url: str, trace_id: str) -> dict[str, list[str]]:
    """{service name: [operation names]} of one trace as Jaeger's API has it; {} if unknown."""
    import httpx  # here: `python -m harness.jaeger` (the build) needs the standard library only

    response = httpx.get(f"{query_url}/api/traces/{trace_id}", timeout=5, trust_env=False)
    if response.status_code == 404:
        return {}
    response.raise_for_status()
    return services_of(response.json())


def services_of(body: dict[str, Any]) -> dict[str, list[str]]:
    """The spans of an `/api/traces/<id>` answer, grouped by the service that sent them."""
    found: dict[str, list[str]] = {}
    for trace in body.get("data") or []:
        processes = {key: p.get("serviceName", "") for key, p in trace["processes"].items()}
        for span in trace["spans"]:
            service = processes.get(span["processID"], "?")
            found.setdefault(service, []).append(span["operationName"])
    return found


def main() -> int:
    """`python -m harness.jaeger`: install Jaeger for the local stack (standard library only)."""
    try:
        print(f"jaeger at {ensure_jaeger()}")
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
