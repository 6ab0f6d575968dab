"""Kubernetes manifests: metadata rules, and the schemas of the pinned Kubernetes version."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from k3d.validate.pod_security import pod_security_problems
from k3d.validate.report import SetupError, one_line
from k3d.validate.yaml_files import load_yaml_docs, where

CLUSTER_SCOPED_KINDS = frozenset({"Namespace", "ClusterRole", "ClusterRoleBinding"})
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

Problems = Callable[[dict[str, Any]], list[str]]


def check_manifest(path: Path, dapr_problems: Problems, kubernetes_problems: Problems) -> list[str]:
    """Every resource of a manifest file; Dapr's and Kubernetes' kinds each by their schema."""
    try:
        docs = load_yaml_docs(path)
    except (OSError, yaml.YAMLError) as err:
        return [f"not YAML: {one_line(err)}"]
    if not docs:
        return ["no resources"]
    problems = []
    for index, doc in enumerate(docs):
        if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
            problems.append(f"document {index + 1}: not a Kubernetes resource")
            continue
        label = f"{doc['kind']}/{(doc.get('metadata') or {}).get('name', '?')}"
        found = metadata_problems(doc)
        if str(doc["apiVersion"]).startswith("dapr.io/"):
            found += dapr_problems(doc)
        else:
            found += kubernetes_problems(doc) + pod_security_problems(doc)
        problems += [f"{label}: {problem}" for problem in found]
    return problems


def metadata_problems(doc: Mapping[str, Any]) -> list[str]:
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


def kubernetes_problems(doc: dict[str, Any], kubernetes_version: str) -> list[str]:
    try:
        import kubernetes_validate
    except ImportError:
        raise SetupError("kubernetes-validate is not installed (pip install '.[k3d]')") from None
    from kubernetes_validate.utils import (
        SchemaNotFoundError,
        ValidationError,
        VersionNotSupportedError,
    )

    try:
        kubernetes_validate.validate(doc, kubernetes_version, strict=True)
    except ValidationError as err:
        return [f"{where(err)}: {err.message}"]
    except SchemaNotFoundError as err:
        return [err.message]
    except VersionNotSupportedError:
        raise SetupError(
            f"this kubernetes-validate has no schemas for Kubernetes {kubernetes_version}"
            f" (the k3s image of cluster.yaml): upgrade it"
        ) from None
    return []
