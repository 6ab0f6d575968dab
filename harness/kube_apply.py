"""Putting the k3d path's objects into a real kube-apiserver: Dapr's CRDs, the rendered
Dapr chart, the suite's manifests.

Everything goes through server-side apply with strict field validation, so an unknown or
misspelt field is an error from the apiserver itself, not a silently dropped key. A dry
run (`dryRun=All`) runs admission and validation without storing anything.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from harness.errors import HarnessError
from harness.kube_builds import dapr_module_dir
from harness.manifests import objects_in
from harness.settings import REPO_ROOT
from harness.wait import poll

FIELD_MANAGER = "dapr-suite"
DAPR_NAMESPACE = "dapr-system"
# What k3d/up.sh passes to `helm upgrade --install dapr dapr/dapr`; the published chart
# of a release carries its version as global.tag, the chart in the module does not.
DAPR_VALUES = REPO_ROOT / "k3d" / "values" / "dapr.yaml"


@dataclass(frozen=True)
class Rejection:
    """One object the apiserver refused, with its own words."""

    ref: str
    status: int
    message: str

    def line(self) -> str:
        return f"{self.ref}: HTTP {self.status}: {self.message}"


def ref(doc: dict[str, Any]) -> str:
    meta = doc.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{doc.get('kind')} {where}{meta.get('name')}"


def apply(dyn: DynamicClient, doc: dict[str, Any], *, dry_run: bool) -> Rejection | None:
    """Server-side apply of one object; the apiserver's refusal is returned, not raised."""
    try:
        resource = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
    except ResourceNotFoundError:
        return Rejection(ref(doc), 404, f"no kind {doc['kind']} in {doc['apiVersion']}")
    try:
        dyn.server_side_apply(
            resource,
            body=doc,
            namespace=(doc.get("metadata") or {}).get("namespace"),
            field_manager=FIELD_MANAGER,
            force_conflicts=True,
            dry_run="All" if dry_run else None,
            query_params=[("fieldValidation", "Strict")],
        )
    except ApiException as exc:
        return Rejection(ref(doc), exc.status, _reason(exc))
    return None


def apply_all(
    dyn: DynamicClient, docs: Iterable[dict[str, Any]], *, dry_run: bool
) -> list[Rejection]:
    return [r for doc in docs if (r := apply(dyn, doc, dry_run=dry_run)) is not None]


def _reason(exc: ApiException) -> str:
    try:
        return str(yaml.safe_load(exc.body or "").get("message", exc.body))
    except (yaml.YAMLError, AttributeError):
        return str(exc.body or exc.reason)


def wait_established(dyn: DynamicClient, crds: list[dict[str, Any]], timeout: float = 30) -> None:
    """Until every CRD is Established, and its kinds are in discovery."""
    api = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")

    def established(name: str) -> bool:
        conditions = api.get(name=name).to_dict().get("status", {}).get("conditions") or []
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

    for name in (crd["metadata"]["name"] for crd in crds):
        poll(partial(established, name), timeout=timeout, interval=0.2,
             what=f"CRD {name} Established")  # fmt: skip
    dyn.resources.invalidate_cache()


def render_chart(
    helm: Path, chart: Path, namespace: str, values: dict[str, str], values_files: list[Path],
    kube_version: str,
) -> list[dict[str, Any]]:  # fmt: skip
    """`helm template` of a chart directory: the objects an install would create."""
    argv = [
        str(helm), "template", "dapr", str(chart), "--namespace", namespace,
        "--kube-version", kube_version.lstrip("v"),
    ]  # fmt: skip
    for path in values_files:
        argv += ["--values", str(path)]
    for key, value in values.items():
        argv += ["--set", f"{key}={value}"]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise HarnessError(f"helm template {chart} failed: {result.stderr.strip()}")
    return objects_in(result.stdout)


def install_order(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Namespaces, then CRDs, then the rest, as helm installs them."""
    first = {"Namespace": 0, "CustomResourceDefinition": 1}
    return sorted(docs, key=lambda d: first.get(str(d.get("kind")), 2))


def render_dapr_chart(
    helm: Path, dapr_version: str, kube_release: str, values: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """The Dapr chart of the pinned release, rendered with the values k3d/up.sh uses
    (and `values` set on top of them)."""
    chart = dapr_module_dir(dapr_version) / "charts" / "dapr"
    files = [DAPR_VALUES] if DAPR_VALUES.is_file() else []
    tag = {"global.tag": dapr_version.lstrip("v"), **(values or {})}
    return render_chart(helm, chart, DAPR_NAMESPACE, tag, files, kube_release)
