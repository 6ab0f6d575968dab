"""Jaeger v2 for the local stack: the tracing backend of the tutorial, on loopback only.

Jaeger's v2 binary is built from the Go module proxy by `harness.gobuild`, like the other Go
commands (its go.mod has a replace directive, so `go install` refuses it: the wrapper module
carries the replace); what is present is never rebuilt. It runs with an
in-memory store, an OTLP/HTTP receiver the sidecars export to, and the query API and UI; every
listener binds 127.0.0.1 and its own telemetry server is switched off.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from harness.arguments import run_command
from harness.daprd import replace_lines
from harness.errors import HarnessError
from harness.gobuild import GoCommand, ensure_command, go_directive, module_download
from harness.longrun import say

MODULE = "github.com/jaegertracing/jaeger"
COMMAND = f"{MODULE}/cmd/jaeger"
DEFAULT_VERSION = "1.76.0"
# Jaeger 1.x's all-in-one of the same module: what k3d/manifests/11-jaeger.yaml runs (its
# environment variables, admin port and Zipkin receiver are 1.x's; v2 has none of them).
ALL_IN_ONE_VERSION = "1.62.0"
ALL_IN_ONE = f"{MODULE}/cmd/all-in-one"


def jaeger_command(
    version: str = DEFAULT_VERSION, package: str = COMMAND, name: str = "jaeger"
) -> GoCommand:
    """A Jaeger command at `version`, with the replace lines its own go.mod carries."""
    gomod = Path(module_download(MODULE, f"v{version}")["GoMod"])
    return GoCommand(
        name=name,
        module=MODULE,
        version=f"v{version}",
        package=package,
        replaces=tuple(replace_lines(gomod.read_text())),
        go_directive=go_directive(gomod),
    )


def ensure_jaeger(version: str = DEFAULT_VERSION) -> Path:
    """The Jaeger binary: `$JAEGER`, else the suite's build cache, built when absent."""
    named = os.environ.get("JAEGER")
    if named:
        if not Path(named).is_file():
            raise HarnessError(f"JAEGER={named} does not exist")
        return Path(named)
    cached = GoCommand("jaeger", MODULE, f"v{version}", COMMAND).binary()
    if cached.is_file():
        return cached
    binary, _ = ensure_command(jaeger_command(version), say("jaeger"))
    return binary


def all_in_one_command(version: str = ALL_IN_ONE_VERSION) -> GoCommand:
    """Jaeger 1.x's all-in-one (collector, Zipkin receiver, memory store, query API)."""
    return jaeger_command(version, ALL_IN_ONE, name="jaeger-all-in-one")


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


def main(argv: list[str] | None = None) -> int:
    """`python -m harness.jaeger`: install Jaeger for the local stack (standard library only)."""
    return run_command(
        lambda: f"jaeger at {ensure_jaeger()}", "python -m harness.jaeger", main.__doc__, argv
    )


if __name__ == "__main__":
    sys.exit(main())
