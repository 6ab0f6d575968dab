"""What must agree between files: host ports and NodePorts, images, Dapr names, versions."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from harness.settings import DEFAULT_DAPR_VERSION
from k3d.validate.go_modules import K3D_VERSION
from k3d.validate.yaml_files import load_yaml, load_yaml_docs

LOCAL_RESOURCES = "system_under_test/resources"
# What the architecture names; the manifests must define them.
REQUIRED_DAPR_RESOURCES = {
    ("Component", "messagebus"): "pubsub.redis",
    ("Component", "statestore"): "state.redis",
    ("Component", "featurebus"): "pubsub.redis",
    ("Subscription", "declared"): None,
    ("Configuration", "suite-config"): None,
    ("Resiliency", "suite-resiliency"): None,
}


def check_consistency(k3d_dir: Path, dapr_version: str) -> list[str]:
    """Host ports, NodePorts and Dapr names that must agree between files."""
    problems: list[str] = []
    docs = []
    for path in sorted((k3d_dir / "manifests").glob("*.yaml")):
        docs += [doc for doc in load_yaml_docs(path) if isinstance(doc, dict)]
    node_ports = _manifest_node_ports(docs)
    prometheus = load_yaml(k3d_dir / "values" / "prometheus.yaml") or {}
    grafana = load_yaml(k3d_dir / "values" / "grafana.yaml") or {}
    for owner, service in (
        ("Prometheus", (prometheus.get("server") or {}).get("service") or {}),
        ("Grafana", grafana.get("service") or {}),
    ):
        if service.get("nodePort"):
            node_ports[int(service["nodePort"])] = f"{owner} (helm values)"
    config = load_yaml(k3d_dir / "cluster.yaml") or {}
    host_ports: dict[int, int] = {}
    for mapping in config.get("ports", []):
        match = re.match(r"^(?:[\d.]+:)?(\d+):(\d+)", mapping.get("port", ""))
        if match:
            host_ports[int(match.group(1))] = int(match.group(2))
    for host, node_port in sorted(host_ports.items()):
        if node_port not in node_ports:
            problems.append(
                f"cluster.yaml maps {host} to NodePort {node_port}, which no Service has"
            )
        if not 1024 <= host < 32768:
            problems.append(f"host port {host} is not in 1024..32767")
    for node_port, owner in sorted(node_ports.items()):
        if node_port not in host_ports.values():
            problems.append(f"NodePort {node_port} ({owner}) has no host port in cluster.yaml")
    problems += lib_port_problems(k3d_dir / "lib.sh", config, host_ports)
    problems += _image_problems(docs, config)
    problems += _dapr_name_problems(docs)
    problems += _mirror_problems(_local_dapr_resources(k3d_dir.parent), docs)
    problems += workflow_version_problems(k3d_dir, dapr_version)
    return problems


def _local_dapr_resources(root: Path) -> list[dict[str, Any]]:
    """The local stack's Dapr resources (system_under_test/resources)."""
    docs: list[dict[str, Any]] = []
    for path in sorted((root / LOCAL_RESOURCES).glob("*.yaml")):
        docs += [doc for doc in load_yaml_docs(path) if isinstance(doc, dict)]
    return docs


# Component metadata that shapes behaviour and must be the same on both targets (redisHost
# differs by design: the harness points it at the local Redis).
MIRRORED_COMPONENT_METADATA = ("concurrency", "publishingScopes", "subscriptionScopes")


def _mirror_problems(local: list[dict[str, Any]], manifests: list[dict[str, Any]]) -> list[str]:
    """Every local Component, Subscription and Resiliency has its twin in the k3d manifests."""
    problems = []
    defined = {(doc.get("kind"), doc.get("metadata", {}).get("name")): doc for doc in manifests}
    for doc in local:
        kind, name = doc.get("kind"), doc.get("metadata", {}).get("name")
        if kind == "Configuration":  # the cluster's differs on purpose (no sqlite resolver)
            continue
        twin = defined.get((kind, name))
        if twin is None:
            problems.append(f"{kind} {name} of {LOCAL_RESOURCES} is not in the k3d manifests")
            continue
        if doc.get("scopes") != twin.get("scopes"):
            problems.append(f"{kind} {name}: scopes differ from {LOCAL_RESOURCES}")
        if kind in ("Subscription", "Resiliency") and doc.get("spec") != twin.get("spec"):
            problems.append(f"{kind} {name}: spec differs from {LOCAL_RESOURCES}")
        if kind == "Component":
            mine, theirs = (
                {m.get("name"): m.get("value") for m in d["spec"].get("metadata", [])}
                for d in (doc, twin)
            )
            problems += [
                f"Component {name}: {key} differs from {LOCAL_RESOURCES}"
                for key in MIRRORED_COMPONENT_METADATA
                if mine.get(key) != theirs.get(key)
            ]
    return problems


def workflow_version_problems(k3d_dir: Path, dapr_version: str) -> list[str]:
    workflow = load_yaml(k3d_dir / "github-workflow.yaml") or {}
    wanted = {"K3D_VERSION": K3D_VERSION, "DAPR_VERSION": dapr_version}
    problems = []
    for name, job in (workflow.get("jobs") or {}).items():
        env = job.get("env") or {}
        for variable, version in wanted.items():
            if variable in env and str(env[variable]) != version:
                problems.append(
                    f"workflow job {name}: {variable}={env[variable]}, the checks use {version}"
                )
    return problems


def lib_port_problems(
    lib_sh: Path, config: Mapping[str, Any], host_ports: Mapping[int, int]
) -> list[str]:
    lib = lib_sh.read_text(encoding="utf-8")
    problems = []
    known = set(host_ports)
    for name, port in re.findall(r"^([A-Z0-9_]+_PORT)=(\d+)$", lib, flags=re.M):
        if int(port) not in known:
            problems.append(f"lib.sh {name}={port} is not a host port of cluster.yaml")
    registry = config.get("registries", {}).get("create", {})
    push = re.search(r'^REGISTRY_PUSH="?([\d.]+):(\d+)"?$', lib, flags=re.M)
    name = re.search(r"^REGISTRY_NAME=(\S+)$", lib, flags=re.M)
    if not push or push.group(2) != str(registry.get("hostPort")):
        problems.append("lib.sh REGISTRY_PUSH does not use the registry's hostPort")
    if not name or name.group(1) != registry.get("name"):
        problems.append("lib.sh REGISTRY_NAME is not the registry's name in cluster.yaml")
    if not re.search(
        rf'DAPR_VERSION="\$\{{DAPR_VERSION:-{re.escape(DEFAULT_DAPR_VERSION)}\}}"', lib
    ):
        problems.append(f"lib.sh's default DAPR_VERSION is not {DEFAULT_DAPR_VERSION}")
    return problems


def _manifest_node_ports(docs: Iterable[Mapping[str, Any]]) -> dict[int, str]:
    ports: dict[int, str] = {}
    for doc in docs:
        if doc.get("kind") != "Service":
            continue
        for port in doc.get("spec", {}).get("ports", []):
            if "nodePort" in port:
                ports[int(port["nodePort"])] = f"Service {doc['metadata']['name']}"
    return ports


def _image_problems(docs: Iterable[Mapping[str, Any]], config: Mapping[str, Any]) -> list[str]:
    """The services' images must come from the cluster's registry (up.sh pins them there)."""
    registry = config.get("registries", {}).get("create", {})
    prefix = f"{registry.get('name')}:{registry.get('hostPort')}/"
    problems = []
    for doc in docs:
        name = doc.get("metadata", {}).get("name", "")
        if doc.get("kind") != "Deployment" or not name.startswith("service-"):
            continue
        for container in doc["spec"]["template"]["spec"].get("containers", []):
            if container.get("name") == name and container.get("image") != f"{prefix}{name}:dev":
                problems.append(f"Deployment {name}: image must be {prefix}{name}:dev")
    return problems


def _dapr_name_problems(docs: list[dict[str, Any]]) -> list[str]:
    """Apps' dapr.io/config, Resiliency targets and the architecture's names must exist."""
    problems = []
    defined = {(doc.get("kind"), doc.get("metadata", {}).get("name")): doc for doc in docs}
    for (kind, name), component_type in REQUIRED_DAPR_RESOURCES.items():
        doc = defined.get((kind, name))
        if doc is None:
            problems.append(f"no {kind} named {name}")
        elif component_type and doc.get("spec", {}).get("type") != component_type:
            problems.append(f"Component {name} is not of type {component_type}")
    for doc in docs:
        if doc.get("kind") == "Resiliency":
            targets = doc.get("spec", {}).get("targets", {}).get("components", {})
            problems += [
                f"Resiliency targets component {name}, which is not defined"
                for name in targets
                if ("Component", name) not in defined
            ]
        if doc.get("kind") == "Subscription":
            pubsub = doc.get("spec", {}).get("pubsubname")
            if ("Component", pubsub) not in defined:
                name = doc.get("metadata", {}).get("name")
                problems.append(f"Subscription {name} names pubsub {pubsub}, which is not defined")
        if doc.get("kind") != "Deployment":
            continue
        template = doc.get("spec", {}).get("template", {})
        annotations = template.get("metadata", {}).get("annotations", {})
        if annotations.get("dapr.io/enabled") != "true":
            continue
        name = doc["metadata"]["name"]
        for key in ("dapr.io/app-id", "dapr.io/app-port", "dapr.io/config", "dapr.io/metrics-port"):
            if key not in annotations:
                problems.append(f"Deployment {name}: annotation {key} is missing")
        config = annotations.get("dapr.io/config")
        if config and ("Configuration", config) not in defined:
            problems.append(f"Deployment {name}: dapr.io/config {config} is not defined")
        container_ports = {
            str(port.get("containerPort"))
            for container in template.get("spec", {}).get("containers", [])
            for port in container.get("ports", [])
        }
        if annotations.get("dapr.io/app-port") not in container_ports:
            problems.append(f"Deployment {name}: dapr.io/app-port is no container port")
        problems += _k3d_parity_problems(name, doc, annotations)
    return problems


def _k3d_parity_problems(
    name: str, doc: Mapping[str, Any], annotations: Mapping[str, Any]
) -> list[str]:
    """What keeps k3d figures comparable with the local stack and the ledger story true."""
    problems = []
    if annotations.get("dapr.io/enable-api-logging") == "true":
        problems.append(f"Deployment {name}: API logging is off on the local stack; keep it off")
    containers = doc["spec"]["template"]["spec"].get("containers", [])
    env = {e.get("name"): e.get("value") for c in containers for e in c.get("env", [])}
    if "APP_PORT" in env and env["APP_PORT"] != annotations.get("dapr.io/app-port"):
        problems.append(f"Deployment {name}: APP_PORT differs from dapr.io/app-port")
    if name == "service-1" and doc["spec"].get("strategy", {}).get("type") != "Recreate":
        problems.append(
            "Deployment service-1: strategy must be Recreate (one consumer, one ledger)"
        )
    return problems
