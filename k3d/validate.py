"""Offline checks of everything under k3d/: run `python k3d/validate.py`.

Nothing here needs Docker or a cluster. Each file is checked against the real schema of
what will read it:
- Kubernetes manifests against the Kubernetes version of the pinned k3s image
  (kubernetes-validate, strict: unknown fields fail, as `kubectl apply` does);
- Dapr resources against the CRDs of the pinned Dapr release, read from the Dapr Go
  module (`go mod download github.com/dapr/dapr@vX`), unknown fields failing too;
- cluster.yaml against k3d's JSON schema from the k3d Go module;
- shell scripts with shellcheck; the GitHub workflow, the helm values and the
  dashboard with our own rules; and the host ports against the NodePorts they reach.

Prints one line per file, `ok` or `FAIL` with the problems, and exits 1 on any failure.
Environment: DAPR_VERSION (default: harness.settings), DAPR_MODULE_DIR and K3D_MODULE_DIR
(use an unpacked module instead of the Go module cache).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `k3d` and `harness` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml

from harness.settings import DEFAULT_DAPR_VERSION
from k3d.dashboard import check_dashboard

REPO_ROOT = Path(__file__).resolve().parent.parent
DAPR_MODULE = "github.com/dapr/dapr"
K3D_MODULE = "github.com/k3d-io/k3d/v5"
# The k3d release whose config schema cluster.yaml must satisfy; the workflow installs it.
K3D_VERSION = "v5.9.0"
K3D_SCHEMA_PATH = "pkg/config/v1alpha5/schema.json"
DAPR_CRD_DIR = "charts/dapr/crds"
LOCAL_RESOURCES = "system_under_test/resources"
CLUSTER_SCOPED_KINDS = frozenset({"Namespace", "ClusterRole", "ClusterRoleBinding"})
# What the architecture names; the manifests must define them.
REQUIRED_DAPR_RESOURCES = {
    ("Component", "messagebus"): "pubsub.redis",
    ("Component", "statestore"): "state.redis",
    ("Component", "featurebus"): "pubsub.redis",
    ("Subscription", "declared"): None,
    ("Configuration", "suite-config"): None,
    ("Resiliency", "suite-resiliency"): None,
}
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# k3d's node filter syntax (pkg/util/filter.go): group, optional subset, optional suffix.
_NODE_FILTER = re.compile(
    r"^(server|servers|agent|agents|loadbalancer|all)"
    r"(:(\d+(,\d+)*|\d*-\d*|\*))?(:(proxy|direct))?$"
)
_PINNED_ACTION = re.compile(r"^[\w.-]+/[\w./-]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")


class SetupError(Exception):
    """A check could not run (a tool or a module is missing); its text is one line."""


@dataclass
class FileReport:
    path: Path
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self, root: Path) -> str:
        try:
            name = self.path.relative_to(root)
        except ValueError:
            name = self.path
        if self.ok:
            return f"ok    {name}"
        return f"FAIL  {name}: " + "; ".join(self.problems)


# --- Go modules ---------------------------------------------------------------------------


def _escape_module_path(path: str) -> str:
    """The module cache spells upper-case letters as '!' + lower case."""
    return re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), path)


def go_module_dir(module: str, version: str) -> Path:
    """The unpacked module in the Go module cache, downloaded first if it is missing."""
    go = shutil.which("go")
    if go is None:
        raise SetupError(f"Go is needed to read {module}@{version} (install Go 1.21+)")
    try:
        modcache = subprocess.run(
            [go, "env", "GOMODCACHE"], capture_output=True, text=True, check=True, timeout=60
        ).stdout.strip()
    except (subprocess.SubprocessError, OSError) as err:
        raise SetupError(f"'go env GOMODCACHE' failed: {err}") from None
    cached = Path(modcache) / f"{_escape_module_path(module)}@{version}"
    if cached.is_dir():
        return cached
    with tempfile.TemporaryDirectory() as workdir:  # outside any go.mod
        result = subprocess.run(
            [go, "mod", "download", "-json", f"{module}@{version}"],
            capture_output=True,
            text=True,
            cwd=workdir,
            timeout=900,
        )
    try:
        info = json.loads(result.stdout)
    except json.JSONDecodeError:
        info = {"Error": (result.stderr or result.stdout).strip().splitlines()[-1:]}
    if result.returncode != 0 or info.get("Error") or not info.get("Dir"):
        raise SetupError(f"go mod download {module}@{version} failed: {info.get('Error')}")
    return Path(info["Dir"])


def _module_dir(env: Mapping[str, str], variable: str, module: str, version: str) -> Path:
    override = env.get(variable, "").strip()
    if override:
        path = Path(override)
        if not path.is_dir():
            raise SetupError(f"{variable}={override} is not a directory")
        return path
    return go_module_dir(module, version)


# --- Dapr CRDs as JSON schemas ------------------------------------------------------------


def crd_schema_to_jsonschema(node: Any, strict: bool = True) -> Any:
    """An openAPIV3Schema as a JSON schema that rejects what the API server would.

    Kubernetes prunes unknown fields of structural schemas and `kubectl apply` (strict
    field validation) refuses them, so an object schema with `properties` and neither
    `additionalProperties` nor x-kubernetes-preserve-unknown-fields gets
    additionalProperties: false. x-kubernetes-int-or-string and nullable become types;
    x-kubernetes-validations (CEL) cannot be evaluated here and are dropped.
    """
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties"):
            out[key] = {name: crd_schema_to_jsonschema(sub, strict) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = crd_schema_to_jsonschema(value, strict)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [crd_schema_to_jsonschema(sub, strict) for sub in value]
        elif key.startswith("x-kubernetes-") or key in ("description", "nullable", "format"):
            continue
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    if strict and "properties" in node and "additionalProperties" not in node and not preserve:
        out["additionalProperties"] = False
    return out


def load_dapr_crds(crd_dir: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> JSON schema, for every served version of every Dapr CRD."""
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(crd_dir.glob("*.yaml")):
        with open(path, encoding="utf-8") as handle:
            for crd in yaml.safe_load_all(handle):
                if not crd or crd.get("kind") != "CustomResourceDefinition":
                    continue
                spec = crd["spec"]
                for version in spec["versions"]:
                    if not version.get("served", False):
                        continue
                    schema = crd_schema_to_jsonschema(version["schema"]["openAPIV3Schema"])
                    api_version = f"{spec['group']}/{version['name']}"
                    schemas[(api_version, spec["names"]["kind"])] = schema
    if not schemas:
        raise SetupError(f"no CRDs in {crd_dir}")
    return schemas


def _metadata_problems(doc: Mapping[str, Any]) -> list[str]:
    metadata = doc.get("metadata")
    if not isinstance(metadata, dict):
        return ["metadata is missing"]
    problems = []
    name = metadata.get("name")
    if not isinstance(name, str) or not _DNS_SUBDOMAIN.match(name) or len(name) > 253:
        problems.append(f"metadata.name {name!r} is not a DNS subdomain name")
    namespace = metadata.get("namespace")
    if doc.get("kind") not in CLUSTER_SCOPED_KINDS and namespace is None:
        problems.append("metadata.namespace is missing (it would land in 'default')")
    if namespace is not None and (
        not isinstance(namespace, str) or not _DNS_LABEL.match(namespace)
    ):
        problems.append(f"metadata.namespace {namespace!r} is not a DNS label")
    for key in ("labels", "annotations"):
        values = metadata.get(key, {})
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            problems.append(f"metadata.{key} must map names to strings")
    return problems


def _where(error: Any) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "(top)"


# --- the checker ----------------------------------------------------------------------------


class Validator:
    """Checks the files of a k3d/ folder; schemas and modules are loaded once, when needed."""

    def __init__(self, root: Path = REPO_ROOT, env: Mapping[str, str] | None = None) -> None:
        self.root = root
        self.k3d_dir = root / "k3d"
        self.env: Mapping[str, str] = os.environ if env is None else env
        version = self.env.get("DAPR_VERSION", "").strip().lstrip("v")
        self.dapr_version = version or DEFAULT_DAPR_VERSION

    def for_root(self, root: Path) -> Validator:
        """A validator of another tree (a test's broken copy) reusing this one's schemas."""
        other = Validator(root, self.env)
        other.__dict__["dapr_crds"] = self.dapr_crds
        other.__dict__["k3d_schema"] = self.k3d_schema
        return other

    # Loaded on first use, so a run that checks only shell scripts needs no Go.

    @cached_property
    def dapr_module_dir(self) -> Path:
        """The unpacked github.com/dapr/dapr module of the pinned release."""
        return _module_dir(self.env, "DAPR_MODULE_DIR", DAPR_MODULE, f"v{self.dapr_version}")

    @cached_property
    def dapr_crds(self) -> dict[tuple[str, str], dict[str, Any]]:
        return load_dapr_crds(self.dapr_module_dir / DAPR_CRD_DIR)

    @cached_property
    def k3d_schema_path(self) -> Path:
        """k3d's JSON schema of cluster configs, in the k3d Go module of K3D_VERSION."""
        module = _module_dir(self.env, "K3D_MODULE_DIR", K3D_MODULE, K3D_VERSION)
        return module / K3D_SCHEMA_PATH

    @cached_property
    def k3d_schema(self) -> dict[str, Any]:
        with open(self.k3d_schema_path, encoding="utf-8") as handle:
            schema: dict[str, Any] = json.load(handle)
        return schema

    @cached_property
    def kubernetes_version(self) -> str:
        """major.minor of the k3s image pinned in cluster.yaml."""
        config = _load_yaml(self.k3d_dir / "cluster.yaml")
        image = config.get("image", "") if isinstance(config, dict) else ""
        match = re.search(r":v(\d+\.\d+)\.\d+", image)
        if not match:
            raise SetupError(f"cluster.yaml pins no k3s image version (image: {image!r})")
        return match.group(1)

    # --- what to check ---

    def files(self) -> list[Path]:
        found = [self.k3d_dir / "cluster.yaml", self.k3d_dir / "github-workflow.yaml"]
        found += sorted(self.k3d_dir.glob("*.sh"))
        found += sorted((self.k3d_dir / "manifests").glob("*.yaml"))
        found += sorted((self.k3d_dir / "values").glob("*.yaml"))
        found += sorted((self.k3d_dir / "dashboards").glob("*.json"))
        return found

    def check_file(self, path: Path) -> FileReport:
        report = FileReport(path)
        try:
            report.problems = self._dispatch(path)
        except SetupError as err:
            report.problems = [f"cannot check: {err}"]
        return report

    def _dispatch(self, path: Path) -> list[str]:
        if not path.is_file():
            return ["file is missing"]
        if path.suffix == ".sh":
            return check_shell_script(path)
        if path.suffix == ".json":
            return check_dashboard(path)
        if path.name == "cluster.yaml":
            return self.check_k3d_config(path)
        if path.name == "github-workflow.yaml":
            return check_workflow(path)
        if path.parent.name == "values":
            return check_helm_values(path)
        return self.check_manifest(path)

    def run(self) -> list[FileReport]:
        reports = [self.check_file(path) for path in self.files()]
        consistency = FileReport(self.k3d_dir / "(cross-file)")
        try:
            consistency.problems = self.check_consistency()
        except SetupError as err:
            consistency.problems = [f"cannot check: {err}"]
        except (OSError, yaml.YAMLError) as err:
            consistency.problems = [f"cannot read the files: {err}"]
        return [*reports, consistency]

    # --- single files ---

    def check_manifest(self, path: Path) -> list[str]:
        try:
            docs = _load_yaml_docs(path)
        except (OSError, yaml.YAMLError) as err:
            return [f"not YAML: {_one_line(err)}"]
        if not docs:
            return ["no resources"]
        problems = []
        for index, doc in enumerate(docs):
            if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
                problems.append(f"document {index + 1}: not a Kubernetes resource")
                continue
            label = f"{doc['kind']}/{(doc.get('metadata') or {}).get('name', '?')}"
            found = _metadata_problems(doc)
            if str(doc["apiVersion"]).startswith("dapr.io/"):
                found += self.dapr_resource_problems(doc)
            else:
                found += self.kubernetes_problems(doc)
            problems += [f"{label}: {problem}" for problem in found]
        return problems

    def kubernetes_problems(self, doc: dict[str, Any]) -> list[str]:
        try:
            import kubernetes_validate
        except ImportError:
            raise SetupError(
                "kubernetes-validate is not installed (pip install '.[k3d]')"
            ) from None
        from kubernetes_validate.utils import (
            SchemaNotFoundError,
            ValidationError,
            VersionNotSupportedError,
        )

        try:
            kubernetes_validate.validate(doc, self.kubernetes_version, strict=True)
        except ValidationError as err:
            return [f"{_where(err)}: {err.message}"]
        except SchemaNotFoundError as err:
            return [err.message]
        except VersionNotSupportedError:
            raise SetupError(
                f"this kubernetes-validate has no schemas for Kubernetes {self.kubernetes_version}"
                f" (the k3s image of cluster.yaml): upgrade it"
            ) from None
        return []

    def dapr_resource_problems(self, doc: dict[str, Any]) -> list[str]:
        from jsonschema import Draft7Validator

        schema = self.dapr_crds.get((doc["apiVersion"], doc["kind"]))
        if schema is None:
            served = sorted(f"{api} {kind}" for api, kind in self.dapr_crds)
            return [
                f"Dapr {self.dapr_version} serves no {doc['apiVersion']} {doc['kind']} "
                f"(it serves: {', '.join(served)})"
            ]
        errors = sorted(Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
        return [f"{_where(error)}: {error.message}" for error in errors]

    def check_k3d_config(self, path: Path) -> list[str]:
        from jsonschema import Draft7Validator

        try:
            config = _load_yaml(path)
        except (OSError, yaml.YAMLError) as err:
            return [f"not YAML: {_one_line(err)}"]
        problems = [
            f"{_where(error)}: {error.message}"
            for error in Draft7Validator(self.k3d_schema).iter_errors(config)
        ]
        if problems or not isinstance(config, dict):
            return problems or ["not a mapping"]
        # What the schema leaves open but k3d would refuse or we rely on.
        if ":latest" in config.get("image", "") or ":" not in config.get("image", ""):
            problems.append("image: pin a k3s version (rancher/k3s:vX.Y.Z-k3sN)")
        for index, mapping in enumerate(config.get("ports", [])):
            port = mapping.get("port", "")
            if not re.match(r"^127\.0\.0\.1:\d+:\d+(/tcp)?$", port):
                problems.append(f"ports.{index}: {port!r} is not 127.0.0.1:HOST:NODEPORT")
            for node_filter in mapping.get("nodeFilters", []):
                if not _NODE_FILTER.match(node_filter):
                    problems.append(f"ports.{index}: bad node filter {node_filter!r}")
        args = [
            item.get("arg", "")
            for item in config.get("options", {}).get("k3s", {}).get("extraArgs", [])
        ]
        for needed in ("--disable=traefik", "--disable=servicelb"):
            if needed not in args:
                problems.append(f"options.k3s.extraArgs lacks {needed}")
        if not config.get("registries", {}).get("create"):
            problems.append("registries.create is missing: up.sh pushes the images there")
        return problems

    # --- across files ---

    def check_consistency(self) -> list[str]:
        """Host ports, NodePorts and Dapr names that must agree between files."""
        problems: list[str] = []
        docs = []
        for path in sorted((self.k3d_dir / "manifests").glob("*.yaml")):
            docs += [doc for doc in _load_yaml_docs(path) if isinstance(doc, dict)]
        node_ports = _manifest_node_ports(docs)
        prometheus = _load_yaml(self.k3d_dir / "values" / "prometheus.yaml") or {}
        grafana = _load_yaml(self.k3d_dir / "values" / "grafana.yaml") or {}
        for owner, service in (
            ("Prometheus", (prometheus.get("server") or {}).get("service") or {}),
            ("Grafana", grafana.get("service") or {}),
        ):
            if service.get("nodePort"):
                node_ports[int(service["nodePort"])] = f"{owner} (helm values)"
        config = _load_yaml(self.k3d_dir / "cluster.yaml") or {}
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
        problems += self._lib_port_problems(config, host_ports)
        problems += _image_problems(docs, config)
        problems += _dapr_name_problems(docs)
        problems += _mirror_problems(self._local_dapr_resources(), docs)
        problems += self._workflow_version_problems()
        return problems

    def _local_dapr_resources(self) -> list[dict[str, Any]]:
        """The local stack's Dapr resources (system_under_test/resources)."""
        docs: list[dict[str, Any]] = []
        for path in sorted((self.root / LOCAL_RESOURCES).glob("*.yaml")):
            docs += [doc for doc in _load_yaml_docs(path) if isinstance(doc, dict)]
        return docs

    def _workflow_version_problems(self) -> list[str]:
        workflow = _load_yaml(self.k3d_dir / "github-workflow.yaml") or {}
        wanted = {"K3D_VERSION": K3D_VERSION, "DAPR_VERSION": self.dapr_version}
        problems = []
        for name, job in (workflow.get("jobs") or {}).items():
            env = job.get("env") or {}
            for variable, version in wanted.items():
                if variable in env and str(env[variable]) != version:
                    problems.append(
                        f"workflow job {name}: {variable}={env[variable]}, the checks use {version}"
                    )
        return problems

    def _lib_port_problems(
        self, config: Mapping[str, Any], host_ports: Mapping[int, int]
    ) -> list[str]:
        lib = (self.k3d_dir / "lib.sh").read_text(encoding="utf-8")
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
    return problems


# --- shell, workflow, helm values -------------------------------------------------------------


def check_shell_script(path: Path) -> list[str]:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        raise SetupError(
            "shellcheck is not installed (apt-get install shellcheck / brew install shellcheck)"
        )
    result = subprocess.run(
        [shellcheck, "--format=gcc", "--external-sources", "--source-path=SCRIPTDIR", path.name],
        capture_output=True,
        text=True,
        cwd=path.parent,
        timeout=120,
    )
    problems = [line for line in result.stdout.splitlines() if line]
    if result.returncode != 0 and not problems:
        problems.append(f"shellcheck failed: {_one_line(result.stderr)}")
    text = path.read_text(encoding="utf-8")
    if text.startswith("#!"):
        if not re.search(r"^set -euo pipefail$", text, flags=re.M):
            problems.append("an executable script must 'set -euo pipefail'")
        if not os.access(path, os.X_OK):
            problems.append("has a shebang but is not executable (chmod +x)")
    return problems


def _workflow_triggers(workflow: Mapping[Any, Any]) -> Any:
    # YAML 1.1 (PyYAML) reads the key `on` as the boolean True.
    return workflow.get("on", workflow.get(True))


def check_workflow(path: Path) -> list[str]:
    try:
        workflow = _load_yaml(path)
    except (OSError, yaml.YAMLError) as err:
        return [f"not YAML: {_one_line(err)}"]
    if not isinstance(workflow, dict):
        return ["not a mapping"]
    problems = []
    if not _workflow_triggers(workflow):
        problems.append("no 'on' triggers")
    jobs = workflow.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        return [*problems, "no jobs"]
    runs: list[tuple[str, dict[str, Any]]] = []
    for job_name, job in jobs.items():
        if not isinstance(job, dict) or "runs-on" not in job:
            problems.append(f"job {job_name}: no runs-on")
            continue
        if not job.get("timeout-minutes"):
            problems.append(f"job {job_name}: set timeout-minutes (a stuck cluster waits 6 h)")
        for index, step in enumerate(job.get("steps") or []):
            where = (
                f"job {job_name} step {index + 1} ({step.get('name') or step.get('uses') or 'run'})"
            )
            uses = step.get("uses")
            if uses and not _PINNED_ACTION.match(uses):
                problems.append(f"{where}: action {uses!r} is not pinned to vX.Y.Z or a commit")
            if "run" in step:
                runs.append((where, step))
                problems += [f"{where}: {p}" for p in _run_block_problems(step["run"])]
            problems += _artifact_problems(where, step)
    problems += _required_commands(runs)
    return problems


def _run_block_problems(script: str) -> list[str]:
    """shellcheck a run block the way the runner executes it (bash -e)."""
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        raise SetupError(
            "shellcheck is not installed (apt-get install shellcheck / brew install shellcheck)"
        )
    body = re.sub(r"\$\{\{[^}]*\}\}", "EXPR", script)  # GitHub expressions
    result = subprocess.run(
        [shellcheck, "--format=gcc", "--shell=bash", "-"],
        input="set -e\n" + body,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return [f"shellcheck: {line.split(': ', 1)[-1]}" for line in result.stdout.splitlines() if line]


def _artifact_problems(where: str, step: Mapping[str, Any]) -> list[str]:
    problems = []
    uses = str(step.get("uses", ""))
    run = str(step.get("run", ""))
    always = str(step.get("if", "")).replace(" ", "") == "always()"
    if uses.startswith("actions/upload-artifact@") and not always:
        problems.append(f"{where}: artifacts must be uploaded with if: always()")
    if ("k3d/down.sh" in run or "kubectl logs" in run) and not always:
        problems.append(f"{where}: must run with if: always()")
    return problems


def _required_commands(runs: list[tuple[str, dict[str, Any]]]) -> list[str]:
    def with_env(step: dict[str, Any]) -> str:
        env = " ".join(f"{key}={value}" for key, value in (step.get("env") or {}).items())
        return f"{env} {step['run']}"

    text = "\n".join(with_env(step) for _, step in runs)
    needed = {
        "k3d/up.sh": r"(^|\s)(\./)?k3d/up\.sh\b",
        "E2E_TARGET=k3d tox -e e2e": r"E2E_TARGET=k3d\b[^\n]*\btox -e e2e\b",
        "E2E_TARGET=k3d tox -e load": r"E2E_TARGET=k3d\b[^\n]*\btox -e load\b",
        "kubectl logs -c daprd": r"kubectl\b[^\n]*\blogs\b[^\n]*-c daprd\b",
        "k3d/down.sh": r"(^|\s)(\./)?k3d/down\.sh\b",
    }
    return [
        f"no step runs {command!r}"
        for command, pattern in needed.items()
        if not re.search(pattern, text, flags=re.M)
    ]


def parse_duration(value: Any) -> float | None:
    """Seconds in a Prometheus duration such as '2s' or '500ms'; None if it is not one."""
    match = _DURATION.match(str(value))
    if not match:
        return None
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match.group(2)]
    return float(match.group(1)) * scale


def check_helm_values(path: Path) -> list[str]:
    try:
        values = _load_yaml(path)
    except (OSError, yaml.YAMLError) as err:
        return [f"not YAML: {_one_line(err)}"]
    if not isinstance(values, dict):
        return ["helm values must be a mapping"]
    if path.name == "prometheus.yaml":
        return _prometheus_values_problems(values)
    if path.name == "grafana.yaml":
        return _grafana_values_problems(values)
    return []


def _prometheus_values_problems(values: dict[str, Any]) -> list[str]:
    problems = []
    server = values.get("server") or {}
    scrape = parse_duration((server.get("global") or {}).get("scrape_interval"))
    timeout = parse_duration((server.get("global") or {}).get("scrape_timeout"))
    if scrape is None or not 1 <= scrape <= 5:
        problems.append("server.global.scrape_interval must be 1s..5s")
    elif timeout is None or timeout > scrape:
        problems.append("server.global.scrape_timeout must be set and not above scrape_interval")
    service = server.get("service") or {}
    if service.get("type") != "NodePort" or not service.get("nodePort"):
        problems.append("server.service must be a NodePort with a fixed nodePort")
    jobs = values.get("scrapeConfigs") or {}
    if (jobs.get("kubernetes-service-endpoints") or {}).get("enabled") is False:
        problems.append("kubernetes-service-endpoints is what scrapes the <app-id>-dapr Services")
    return problems


def _grafana_values_problems(values: dict[str, Any]) -> list[str]:
    problems = []
    sources = (values.get("datasources") or {}).get("datasources.yaml", {}).get("datasources", [])
    dapr = [source for source in sources if source.get("name") == "Dapr"]
    if not dapr or dapr[0].get("type") != "prometheus":
        problems.append("datasources: a Prometheus data source named 'Dapr' is needed")
    elif "prometheus-server" not in str(dapr[0].get("url", "")):
        problems.append("datasource Dapr must point at the prometheus-server Service")
    service = values.get("service") or {}
    if service.get("type") != "NodePort" or not service.get("nodePort"):
        problems.append("service must be a NodePort with a fixed nodePort")
    providers = (values.get("dashboardProviders") or {}).get("dashboardproviders.yaml", {})
    provider_names = {provider.get("name") for provider in providers.get("providers", [])}
    config_maps = values.get("dashboardsConfigMaps") or {}
    for provider in ("dapr", "suite"):
        if provider not in provider_names or provider not in config_maps:
            problems.append(f"dashboard provider {provider!r} needs a provider and a config map")
    return problems


# --- helpers -------------------------------------------------------------------------------


def _load_yaml(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _load_yaml_docs(path: Path) -> list[Any]:
    with open(path, encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


def validate(root: Path = REPO_ROOT, env: Mapping[str, str] | None = None) -> list[FileReport]:
    """Check every file of root/k3d; one report per file and one for the cross-file rules."""
    return Validator(root, env).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root")
    args = parser.parse_args(argv)
    reports = validate(args.root)
    for report in reports:
        print(report.line(args.root))
    failed = sum(not report.ok for report in reports)
    print(f"{len(reports) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
