"""Offline check that every workload of k3d/manifests runs locked down and with Dapr's tokens.

A pod must run as non-root (`runAsNonRoot`), and each container must disallow privilege
escalation, drop ALL capabilities and mount its root file system read-only (scratch space
and the ledger go on volumes). A pod with a Dapr sidecar must take Dapr's API token and
app token from Secrets (`dapr.io/api-token-secret`, `dapr.io/app-token-secret`), so that
neither daprd's API nor the app's delivery routes are open inside the cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}
TOKEN_ANNOTATIONS = ("dapr.io/api-token-secret", "dapr.io/app-token-secret")


def pod_template(doc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod (metadata and spec) a workload runs, or None for other kinds."""
    if doc.get("kind") == "Pod":
        return doc
    if doc.get("kind") in WORKLOAD_KINDS:
        template = ((doc.get("spec") or {}).get("template")) or {}
        return template if isinstance(template, Mapping) else {}
    return None


def pod_security_problems(doc: Mapping[str, Any]) -> list[str]:
    pod = pod_template(doc)
    if pod is None:
        return []
    spec = pod.get("spec") or {}
    pod_context = spec.get("securityContext") or {}
    problems = []
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        problems += [
            f"container {container.get('name', '?')}: {problem}"
            for problem in _container_problems(container, pod_context)
        ]
    return problems + _token_problems(pod.get("metadata") or {})


def _container_problems(container: Mapping[str, Any], pod_context: Mapping[str, Any]) -> list[str]:
    context = container.get("securityContext") or {}
    problems = []
    if context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is not True:
        problems.append("runAsNonRoot must be true (pod or container securityContext)")
    uid = context.get("runAsUser", pod_context.get("runAsUser"))
    if uid == 0:
        problems.append("runAsUser must not be 0")
    if context.get("allowPrivilegeEscalation") is not False:
        problems.append("allowPrivilegeEscalation must be false")
    if context.get("privileged") is True:
        problems.append("must not be privileged")
    if "ALL" not in ((context.get("capabilities") or {}).get("drop") or []):
        problems.append("capabilities.drop must contain ALL")
    if (context.get("capabilities") or {}).get("add"):
        problems.append("must not add capabilities")
    if context.get("readOnlyRootFilesystem") is not True:
        problems.append("readOnlyRootFilesystem must be true (put writable paths on volumes)")
    return problems


def _token_problems(metadata: Mapping[str, Any]) -> list[str]:
    annotations = metadata.get("annotations") or {}
    if str(annotations.get("dapr.io/enabled", "")).lower() != "true":
        return []
    return [
        f"annotation {name} must name the Secret up.sh creates"
        for name in TOKEN_ANNOTATIONS
        if not str(annotations.get(name, "")).strip()
    ]
