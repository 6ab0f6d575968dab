"""Dapr's control plane on the node as pods: its images built here, its chart installed.

The images: sentry, operator and sidecar injector built from the dapr module
(harness.kube_builds.dapr_command), daprd the suite's pinned build; each packaged over the
Debian base as `dapr-suite/<name>:<version>` and imported into the node's containerd, so
the chart's `global.registry` is `dapr-suite` and nothing is pulled. The chart is the
dapr module's own, rendered by helm with the values k3d/up.sh passes (harness.kube_apply),
mTLS through sentry on as its default.

Placement and scheduler are left out (`global.actors.enabled=false`,
`global.scheduler.enabled=false`): pub/sub, service invocation and state need neither,
and the injector then gives daprd no address of them to wait for.
"""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client as k8s

from harness.cluster.images import ensure_binary_image
from harness.cluster.pods import wait_running
from harness.daprd import locate
from harness.errors import HarnessError
from harness.gobuild import ensure_command
from harness.kube_apiserver import KubeApiserver
from harness.kube_apply import (
    DAPR_NAMESPACE,
    apply_all,
    install_order,
    render_dapr_chart,
    wait_established,
)
from harness.kube_builds import dapr_command, dapr_module_dir, helm_command
from harness.longrun import Progress
from harness.manifests import documents
from harness.ports import accepts
from harness.settings import DEFAULT_DAPR_VERSION
from harness.wait import WaitTimeout, poll

REGISTRY = "dapr-suite"
CONTROL_PLANE_COMMANDS = ("sentry", "operator", "injector")
# The chart's Deployments, by their pods' `app` label, in the order they come up.
CONTROL_PLANE = ("dapr-sentry", "dapr-operator", "dapr-sidecar-injector")
INJECTOR_SERVICE = "dapr-sidecar-injector"
# The distroless user of Dapr's own images: the chart's pods must not run as root.
NONROOT = "65532:65532"
CHART_VALUES = {
    "global.registry": REGISTRY,
    # Imported, never pulled: a missing image is named, not fetched from a registry.
    "global.imagePullPolicy": "Never",
    "dapr_sidecar_injector.sidecarImagePullPolicy": "Never",
    "global.actors.enabled": "false",
    "global.scheduler.enabled": "false",
}


def image(name: str, version: str = DEFAULT_DAPR_VERSION) -> str:
    return f"{REGISTRY}/{name}:{version.lstrip('v')}"


def images(version: str = DEFAULT_DAPR_VERSION) -> tuple[str, ...]:
    return tuple(image(name, version) for name in (*CONTROL_PLANE_COMMANDS, "daprd"))


def ensure_images(progress: Progress, version: str = DEFAULT_DAPR_VERSION) -> dict[str, float]:
    """The four images in the Docker Engine; seconds spent building each binary now."""
    built = {}
    for name in CONTROL_PLANE_COMMANDS:
        binary, built[name] = ensure_command(dapr_command(name, version), progress)
        ensure_binary_image(image(name, version), binary, f"/{name}", progress, user=NONROOT)
    daprd = locate(version.lstrip("v"))
    if daprd is None:  # its build is the local stack's (python -m harness.daprd)
        raise HarnessError(f"daprd {version} is not installed: run `python -m harness.daprd`")
    ensure_binary_image(image("daprd", version), daprd, "/daprd", progress, user=NONROOT)
    return built


def install(
    server: KubeApiserver, progress: Progress, version: str = DEFAULT_DAPR_VERSION
) -> list[dict[str, Any]]:
    """Dapr's CRDs and chart applied to the node's apiserver, as `helm install` would."""
    helm, _ = ensure_command(helm_command(), progress)
    chart = render_dapr_chart(helm, version, server.release, CHART_VALUES)
    dyn = server.dynamic()
    crd_dir = dapr_module_dir(version) / "charts" / "dapr" / "crds"
    crds = [doc for path in sorted(crd_dir.glob("*.yaml")) for doc in documents(path)]
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": DAPR_NAMESPACE}}
    refused = apply_all(dyn, [namespace, *crds], dry_run=False)
    if not refused:
        wait_established(dyn, crds)
        refused = apply_all(dyn, install_order(chart), dry_run=False)
    if refused:
        raise HarnessError(f"kube-apiserver refused Dapr's chart: {refused[0].line()}")
    progress(f"Dapr {version} chart applied ({len(chart)} objects, {len(crds)} CRDs)")
    return chart


def wait_control_plane(
    core: k8s.CoreV1Api, timeout: float, apps: tuple[str, ...] = CONTROL_PLANE
) -> dict[str, float]:
    """Each control-plane pod Running and Ready; seconds until each was. A pod that is
    not is named with its waiting reason (harness.cluster.pods.wait_running)."""
    started, ready = time.monotonic(), {}
    for app in apps:
        wait_running(core, DAPR_NAMESPACE, app, max(timeout - (time.monotonic() - started), 1))
        ready[app] = time.monotonic() - started
    if INJECTOR_SERVICE in apps:
        wait_webhook_reachable(core, max(timeout - (time.monotonic() - started), 1))
        ready["webhook reachable"] = time.monotonic() - started
    return ready


def install_and_wait(
    server: KubeApiserver, progress: Progress, timeout: float = 180,
    version: str = DEFAULT_DAPR_VERSION,
) -> tuple[list[dict[str, Any]], dict[str, float]]:  # fmt: skip
    """`install`, then `wait_control_plane`: the chart's objects and the seconds until
    each part was Ready."""
    chart = install(server, progress, version)
    with server.api_client() as api:
        ready = wait_control_plane(k8s.CoreV1Api(api), timeout)
    progress("Dapr control plane Ready: " + ", ".join(f"{a} {s:.1f} s" for a, s in ready.items()))
    return chart, ready


def wait_webhook_reachable(core: k8s.CoreV1Api, timeout: float) -> None:
    """The apiserver calls the injector at its Service's cluster IP, which kube-proxy
    forwards only once the Service's endpoints list the Ready pod; a pod created before
    that gets no sidecar (the webhook fails open), so apps wait for this."""
    service: Any = core.read_namespaced_service(INJECTOR_SERVICE, DAPR_NAMESPACE)
    address, port = str(service.spec.cluster_ip), int(service.spec.ports[0].port)
    try:
        poll(lambda: accepts(address, port), timeout=timeout, interval=0.2)
    except WaitTimeout:
        raise HarnessError(
            f"the sidecar injector's Service {address}:{port} refused connections for "
            f"{timeout:g}s after its pod was Ready (kube-proxy not forwarding it)"
        ) from None
