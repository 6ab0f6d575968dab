"""Rendering the local stack's configuration files into its run directory.

The Dapr resources in `system_under_test/resources/` are what a user reads; the harness
only points them at the local stack (redis port, name-resolver file), so one set serves
both the harness and `dapr run -f`.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import yaml

from harness.settings import REPO_ROOT, StackSettings
from harness.subscription_profile import keeps_resource, redelivery_metadata

SOURCE_DIR = REPO_ROOT / "system_under_test" / "resources"
CONFIG_FILE = "config.yaml"


def _set_metadata(resource: dict[str, Any], name: str, value: str) -> None:
    entries = resource["spec"].setdefault("metadata", [])
    for entry in entries:
        if entry.get("name") == name:
            entry["value"] = value
            return
    entries.append({"name": name, "value": value})


# Component metadata that daprd itself reads, whatever the broker: kept on a broker change
RUNTIME_METADATA = ("publishingScopes", "subscriptionScopes", "allowedTopics", "protectedTopics")


def render_component(resource: dict[str, Any], settings: StackSettings) -> dict[str, Any]:
    if resource.get("kind") != "Component":
        return resource
    spec = resource["spec"]
    if spec["type"].startswith("pubsub.") and settings.broker != "redis":
        return _on_broker(resource, settings)
    if spec["type"].endswith(".redis"):
        _set_metadata(resource, "redisHost", f"{settings.host}:{settings.redis_dialled()}")
    for name, value in redelivery_metadata(resource, settings.subscription_profile).items():
        _set_metadata(resource, name, value)
    return resource


def _on_broker(resource: dict[str, Any], settings: StackSettings) -> dict[str, Any]:
    """The pubsub component moved onto the selected broker: its type and its metadata."""
    broker = settings.broker_server()
    spec = resource["spec"]
    kept = [e for e in spec.get("metadata") or [] if e.get("name") in RUNTIME_METADATA]
    own = broker.component_metadata(settings.broker_place(), resource["metadata"]["name"])
    spec["type"] = broker.component_type
    spec["version"] = broker.component_version
    spec["metadata"] = [{"name": k, "value": v} for k, v in own.items()] + kept
    return resource


def broker_topics(resources_dir: Path, environ: dict[str, str]) -> list[str]:
    """Every topic the services publish or subscribe: what a broker must hold beforehand.

    The tutorial's topics come from service-1's TOPICS (default t1,t2) with their
    dead-letter topics; the feature topics from the publishing scopes of the components.
    """
    tutorial = [t.strip() for t in environ.get("TOPICS", "t1,t2").split(",") if t.strip()]
    topics = [*tutorial, *(f"{t}-dead-letter" for t in tutorial)]
    for path in sorted(resources_dir.glob("*.yaml")):
        resource = yaml.safe_load(path.read_text())
        for entry in (resource.get("spec") or {}).get("metadata") or []:
            if entry.get("name") == "publishingScopes":
                for scope in str(entry.get("value", "")).split(";"):
                    _, _, listed = scope.partition("=")
                    topics += [t.strip() for t in listed.split(",") if t.strip()]
    return list(dict.fromkeys(topics))


NAME_RESOLVER_GC_OFF = "0"
NAME_RESOLVER_BUSY_TIMEOUT = "5s"
NAME_RESOLVER_TIMEOUT = "3s"


def create_name_db(path: Path) -> None:
    """The resolver's file, empty and in WAL mode, before any sidecar opens it: sidecars that
    switch a new file to WAL at the same moment can fail at once, whatever their wait for a
    lock (16 of 600 openings, three at a time, here), and daprd then runs without a resolver."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL")


def render_configuration(
    resource: dict[str, Any], name_db: Path, otlp_endpoint: str | None = None
) -> dict[str, Any]:
    resolver = resource["spec"]["nameResolution"]
    if resolver.get("component") != "sqlite":
        raise ValueError("the local stack needs the sqlite name resolver (mDNS would multicast)")
    configuration = resolver.setdefault("configuration", {})
    configuration["connectionString"] = str(name_db)
    # The resolver's garbage collector deletes the live registrations instead of the stale
    # ones (Dapr 1.16 to 1.18: `last_update < updateInterval`), and every daprd then exits on
    # "Host registration lost": an hour after the start, by default. A stale row is harmless,
    # since lookups skip rows older than updateInterval, so the collector stays off.
    configuration["cleanupInterval"] = NAME_RESOLVER_GC_OFF
    # The sidecars start together on a new file, and each creates its tables in an exclusive
    # transaction: at the resolver's default 800 ms wait for a lock, a busy machine made one
    # sidecar give up and run without a name resolver.
    configuration.setdefault("busyTimeout", NAME_RESOLVER_BUSY_TIMEOUT)
    # A sidecar renews its row every updateInterval - timeout (5 s - 1 s by default), and lookups
    # skip rows older than updateInterval: one renewal held up past the 1 s timeout left its
    # app without a host for seconds ("no host found", in an hour's soak). At 3 s a renewal
    # every 2 s leaves room for one to fail, and a dead sidecar's row still ages out in 5 s.
    configuration.setdefault("timeout", NAME_RESOLVER_TIMEOUT)
    if otlp_endpoint:  # Jaeger runs: the sidecars export their spans to it over OTLP/HTTP
        tracing = resource["spec"].setdefault("tracing", {"samplingRate": "1"})
        tracing["otel"] = {"endpointAddress": otlp_endpoint, "isSecure": False, "protocol": "http"}
    return resource


def render_dapr_resources(settings: StackSettings, source: Path = SOURCE_DIR) -> tuple[Path, Path]:
    """Write the resources folder and the Configuration file; return both paths."""
    source = settings.dapr_resources or source
    out_dir = settings.run_dir / "resources"
    out_dir.mkdir(parents=True, exist_ok=True)
    config_path = settings.run_dir / "config.yaml"
    for path in sorted(source.glob("*.yaml")):
        if path.name == CONFIG_FILE:
            continue
        resource = yaml.safe_load(path.read_text())
        if not keeps_resource(resource, settings.subscription_profile):
            (out_dir / path.name).unlink(missing_ok=True)
            continue
        rendered = render_component(resource, settings)
        (out_dir / path.name).write_text(yaml.safe_dump(rendered, sort_keys=False))
    config_source = settings.dapr_config or source / CONFIG_FILE
    configuration = yaml.safe_load(config_source.read_text())
    otlp = f"{settings.host}:{settings.jaeger_otlp_port}" if settings.jaeger else None
    rendered = render_configuration(configuration, settings.run_dir / "nameresolution.db", otlp)
    config_path.write_text(yaml.safe_dump(rendered, sort_keys=False))
    return out_dir, config_path


def prometheus_config(settings: StackSettings) -> dict[str, Any]:
    """Scrape both sidecars and both services every `scrape_interval_seconds`."""
    interval = f"{settings.scrape_interval_seconds}s"

    def job(name: str, port: int, app_id: str) -> dict[str, Any]:
        return {
            "job_name": name,
            "scrape_interval": interval,
            "scrape_timeout": interval,
            "metrics_path": "/metrics",
            "static_configs": [{"targets": [f"{settings.host}:{port}"], "labels": {"app": app_id}}],
        }

    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": [
            job("daprd-service-1", settings.sidecar1.metrics, "service-1"),
            job("daprd-service-2", settings.sidecar2.metrics, "service-2"),
            job("service-1", settings.service1_port, "service-1"),
            job("service-2", settings.service2_port, "service-2"),
        ],
    }


def render_prometheus_config(settings: StackSettings) -> Path:
    path = settings.run_dir / "prometheus.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(prometheus_config(settings), sort_keys=False))
    return path
