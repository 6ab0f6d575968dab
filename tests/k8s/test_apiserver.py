"""The k3d path's objects against a real kube-apiserver (on etcd) at the pinned release.

Dapr's CRDs of the pinned Dapr release and the Dapr chart rendered by helm (with the
values k3d/up.sh passes) are applied server-side for real; every manifest under
k3d/manifests is applied with a server-side dry run and strict field validation; the Dapr
resources (Components, Configuration, Resiliency) are created for real against the CRDs.
Broken copies (a wrong field, a Component field the CRD does not allow, a wrong kind)
must be refused by the apiserver itself.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
from kubernetes.dynamic import DynamicClient

from harness.errors import HarnessError
from harness.gobuild import ensure_command
from harness.kube_apiserver import KubeApiserver, KubeSettings
from harness.kube_apply import (
    DAPR_NAMESPACE,
    apply,
    apply_all,
    install_order,
    render_dapr_chart,
)
from harness.kube_builds import helm_command
from harness.longrun import Progress
from harness.manifests import documents
from harness.settings import DEFAULT_DAPR_VERSION, REPO_ROOT

pytestmark = [pytest.mark.k8s, pytest.mark.integration]

MANIFESTS = sorted((REPO_ROOT / "k3d" / "manifests").glob("*.yaml"))
DAPR_GROUP = "dapr.io"


def manifest_docs(*prefixes: str) -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS if path.name.startswith(prefixes) for doc in documents(path)]


def lines(rejections: list[Any]) -> str:
    return "\n".join(r.line() for r in rejections)


def test_dapr_crds_of_the_pinned_release(dapr_crds: list[dict[str, Any]]) -> None:
    kinds = {crd["spec"]["names"]["kind"] for crd in dapr_crds}
    assert {"Component", "Configuration", "Resiliency", "Subscription"} <= kinds


def test_dapr_chart_applies_server_side(
    apiserver: KubeApiserver, dyn: DynamicClient, dapr_crds: list[dict[str, Any]],
    figures: list[str], progress: Progress,
) -> None:  # fmt: skip
    helm, seconds = ensure_command(helm_command(), progress)
    if seconds:
        figures.append(f"helm built in {seconds:.0f} s")
    chart = render_dapr_chart(helm, DEFAULT_DAPR_VERSION, apiserver.release)
    kinds = {doc["kind"] for doc in chart}
    assert {"Deployment", "StatefulSet", "MutatingWebhookConfiguration"} <= kinds, kinds
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": DAPR_NAMESPACE}}
    assert apply(dyn, namespace, dry_run=False) is None
    rejected = apply_all(dyn, install_order(chart), dry_run=False)
    assert not rejected, lines(rejected)
    figures.append(f"Dapr chart {DEFAULT_DAPR_VERSION}: {len(chart)} objects applied")


def test_every_manifest_passes_a_strict_server_side_dry_run(
    dyn: DynamicClient, dapr_crds: list[dict[str, Any]]
) -> None:
    namespaces = manifest_docs("00-")
    assert apply_all(dyn, namespaces, dry_run=False) == []  # a dry run needs them to exist
    rest = [doc for doc in manifest_docs("") if doc["kind"] != "Namespace"]
    assert len(rest) > 10
    rejected = apply_all(dyn, rest, dry_run=True)
    assert not rejected, lines(rejected)


def test_dapr_resources_are_created_for_real(
    dyn: DynamicClient, dapr_crds: list[dict[str, Any]]
) -> None:
    apply_all(dyn, manifest_docs("00-"), dry_run=False)
    dapr = [d for d in manifest_docs("2") if d["apiVersion"].split("/")[0] == DAPR_GROUP]
    assert {d["kind"] for d in dapr} >= {"Component", "Configuration", "Resiliency"}
    rejected = apply_all(dyn, dapr, dry_run=False)
    assert not rejected, lines(rejected)
    for doc in dapr:
        api = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        stored = api.get(name=doc["metadata"]["name"], namespace=doc["metadata"]["namespace"])
        # Stored as written; the CRD may add its defaults (Configuration: metric.enabled).
        assert contains(stored.to_dict()["spec"], doc["spec"]), f"{doc['kind']} changed when stored"


def contains(stored: Any, wanted: Any) -> bool:
    """`wanted` is in `stored`, which may have more keys (defaults) but no other values."""
    if isinstance(wanted, dict):
        return isinstance(stored, dict) and all(
            key in stored and contains(stored[key], value) for key, value in wanted.items()
        )
    return stored == wanted


def _first(kind: str, name: str) -> dict[str, Any]:
    for doc in manifest_docs(""):
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return copy.deepcopy(doc)
    raise AssertionError(f"no {kind} {name} under k3d/manifests")


# Each case: the object to break, how, and what the apiserver's answer must name.
BROKEN = {
    "a Component field the CRD does not allow": (
        "Component", "messagebus", lambda d: d["spec"].update(metdata=d["spec"]["metadata"]),
        ".spec.metdata: field not declared in schema",
    ),
    "a misspelt container field": (
        "Deployment", "service-1",
        lambda d: d["spec"]["template"]["spec"]["containers"][0].update(
            imagePullPolice="Never"),
        "imagePullPolice: field not declared in schema",
    ),
    "a port name where a number belongs": (
        "Service", "service-1", lambda d: d["spec"]["ports"][0].update(port="http"),
        ".port: expected numeric",
    ),
    "a Resiliency policy of the wrong type": (
        "Resiliency", "suite-resiliency", lambda d: d["spec"].update(policies=["retry"]),
        ".spec.policies: expected map",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_copy_is_refused(
    dyn: DynamicClient, dapr_crds: list[dict[str, Any]], case: str
) -> None:
    kind, name, breaks, wording = BROKEN[case]
    apply_all(dyn, manifest_docs("00-"), dry_run=False)
    doc = _first(kind, name)
    assert apply(dyn, doc, dry_run=True) is None, "the unbroken copy must pass"
    breaks(doc)
    rejection = apply(dyn, doc, dry_run=True)
    assert rejection is not None, f"the apiserver accepted {case}"
    # Server-side apply answers a patch that does not fit the schema with 500 (the typed
    # patch cannot be built), a value the schema refuses with 422: both are refusals.
    assert rejection.status in (422, 500), rejection.line()
    assert wording in rejection.message, rejection.line()


def test_an_apiserver_that_cannot_start_is_named_with_its_log(tmp_path: Path) -> None:
    """Bad input: a flag kube-apiserver refuses; the error carries its log tail."""
    offset = int(os.environ.get("HARNESS_PORT_OFFSET") or 0) + 100  # beside the module's
    env = {**os.environ, "HARNESS_PORT_OFFSET": str(offset),
           "HARNESS_KUBE_RUN_DIR": str(tmp_path / "kube")}  # fmt: skip
    broken = KubeApiserver(KubeSettings.from_env(env), extra_args=("--no-such-flag",))
    with pytest.raises(HarnessError) as raised:
        broken.start()
    message = str(raised.value)
    assert message.startswith("kube-apiserver exited with code"), message
    assert "unknown flag: --no-such-flag" in message
    assert all(p.gone() for p in broken.processes), "etcd outlived the failed start"
