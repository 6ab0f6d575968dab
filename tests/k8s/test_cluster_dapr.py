"""Dapr's control plane as pods on the real single-node cluster, and an injected sidecar.

The node (harness.cluster) runs kube-proxy and CoreDNS, so pods reach the apiserver and
each other's Services by name. Dapr's images are built here and imported
(harness.cluster.dapr), its chart is rendered by helm from the dapr module with the
values k3d/up.sh uses. The checks: sentry, operator and sidecar injector become Ready as
pods; pods find Services by name through CoreDNS and no other name; a pod of service-2
with Dapr's annotations gets a daprd container from the real injector, which becomes
Ready with mTLS on (its identity certificate issued by sentry); a control-plane pod whose
image was never imported is named with its waiting reason.

Marked `cluster` (tox -e cluster): root, a few minutes, the machine's network changed
while it runs (a bridge, kube-proxy's iptables chains), all of it removed at the end.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client as k8s

from harness.cluster import dapr, leftovers
from harness.cluster.node import Cluster
from harness.cluster.pods import script_pod, wait_finished, wait_running
from harness.cluster.settings import ClusterSettings
from harness.errors import HarnessError
from harness.images import build_all, service_image
from harness.injection import DAPRD, flag_values
from harness.kube_apply import DAPR_NAMESPACE
from harness.longrun import Progress

pytestmark = [pytest.mark.cluster, pytest.mark.integration]

SERVICE2_PORT = 7070  # the image's APP_PORT
CHECK_APP = "service-2-injected"
# Logged by daprd once sentry signed its identity certificate (dapr/kit crypto/spiffe).
IDENTITY_ISSUED = "Security is initialized successfully"
MTLS_OFF = "mTLS is disabled"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> ClusterSettings:
    env = {**os.environ, "HARNESS_CLUSTER_RUN_DIR": str(tmp_path_factory.mktemp("cluster"))}
    return ClusterSettings.from_env(env)


@pytest.fixture(scope="module")
def cluster(settings: ClusterSettings, figures: list[str], progress: Progress) -> Iterator[Cluster]:
    build_all(progress)
    started = time.monotonic()
    built = dapr.ensure_images(progress)
    builds = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in built.items() if seconds)
    figures.append(f"Dapr images ready in {time.monotonic() - started:.1f} s "
                   f"(binaries built now: {builds or 'none'})")  # fmt: skip
    images = (service_image("service-2"), *dapr.images())
    node = Cluster(settings, images=images, progress=progress)
    with node:
        figures.append(f"cluster {node.release} up in {node.timings['up']:.1f} s (kube-proxy, "
                       f"CoreDNS Ready in {node.timings['dns']:.1f} s; images imported in "
                       f"{node.timings['import images']:.1f} s)")  # fmt: skip
        yield node
    figures.append(f"cluster down in {node.timings['down']:.1f} s")
    assert leftovers.leftovers(settings) == []


@pytest.fixture(scope="module")
def core(cluster: Cluster) -> Iterator[k8s.CoreV1Api]:
    with cluster.api_client() as api:
        yield k8s.CoreV1Api(api)


@pytest.fixture(scope="module")
def chart(cluster: Cluster, figures: list[str], progress: Progress) -> list[dict[str, Any]]:
    started = time.monotonic()
    docs, ready = dapr.install_and_wait(cluster.apiserver, progress, timeout=180)
    figures.append(f"Dapr control plane Ready {time.monotonic() - started:.1f} s after the "
                   "chart was applied (" + ", ".join(f"{a} {s:.1f} s" for a, s in ready.items())
                   + ")")  # fmt: skip
    return docs


# Resolves each name with the pod's own resolver (kubelet's clusterDNS), prints the answers.
RESOLVE = """
import socket
for name in ("dapr-sentry.dapr-system.svc.cluster.local", "kubernetes.default", "example.com"):
    try:
        print(name, socket.gethostbyname(name))
    except OSError:
        print(name, "unresolved")
"""


def test_pods_find_services_by_name_and_nothing_outside_the_cluster(
    chart: list[dict[str, Any]], core: k8s.CoreV1Api
) -> None:
    """CoreDNS behind kube-dns answers the cluster's names with the Services' cluster IPs;
    a name outside cluster.local is not answered (CoreDNS forwards nowhere)."""
    services = {s.metadata.name: s.spec.cluster_ip for s in
                core.list_namespaced_service(DAPR_NAMESPACE).items}  # fmt: skip
    core.create_namespaced_pod(
        "default", script_pod("resolve", service_image("service-2"), RESOLVE)
    )
    assert wait_finished(core, "default", "resolve", timeout=60) == "Succeeded"
    log = core.read_namespaced_pod_log("resolve", "default")
    answers = dict(line.split() for line in log.splitlines() if line)
    assert answers == {
        "dapr-sentry.dapr-system.svc.cluster.local": services["dapr-sentry"],
        "kubernetes.default": "10.96.0.1",
        "example.com": "unresolved",
    }


def test_dapr_control_plane_runs_as_pods_of_our_images(
    chart: list[dict[str, Any]], core: k8s.CoreV1Api
) -> None:
    pods = core.list_namespaced_pod(DAPR_NAMESPACE).items
    apps = {p.metadata.labels.get("app"): p for p in pods}
    assert set(dapr.CONTROL_PLANE) <= set(apps), sorted(apps)
    assert not {"dapr-placement-server", "dapr-scheduler-server"} & set(apps)
    for app in dapr.CONTROL_PLANE:
        pod = apps[app]
        assert pod.status.phase == "Running"
        assert all(c.ready for c in pod.status.container_statuses), pod.status.container_statuses
        assert pod.spec.containers[0].image.startswith(f"{dapr.REGISTRY}/")


def annotated_pod(image: str) -> dict[str, Any]:
    """service-2 with Dapr's annotations, as one of the manifests' pods minus its tokens,
    its Configuration and its components (no Redis on this node yet)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": CHECK_APP,
            "namespace": "default",
            "labels": {"app": CHECK_APP},
            "annotations": {"dapr.io/enabled": "true", "dapr.io/app-id": "service-2",
                            "dapr.io/app-port": str(SERVICE2_PORT), "dapr.io/log-level": "info"},
        },
        "spec": {"containers": [{
            "name": "service-2", "image": image, "imagePullPolicy": "Never",
            "ports": [{"containerPort": SERVICE2_PORT}],
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": SERVICE2_PORT},
                               "periodSeconds": 1},
        }]},
    }  # fmt: skip


def test_service2_gets_an_injected_daprd_that_is_ready_with_mtls(
    chart: list[dict[str, Any]], core: k8s.CoreV1Api, figures: list[str]
) -> None:
    started = time.monotonic()
    core.create_namespaced_pod("default", annotated_pod(service_image("service-2")))
    pod = wait_running(core, "default", CHECK_APP, timeout=120)
    figures.append(f"service-2 with its injected daprd Ready {time.monotonic() - started:.1f} s "
                   "after the pod was created")  # fmt: skip
    containers = {c.name: c for c in pod.spec.containers}
    assert DAPRD in containers, sorted(containers)
    assert containers[DAPRD].image == dapr.image("daprd")
    args = flag_values([*(containers[DAPRD].command or [])[1:], *(containers[DAPRD].args or [])])
    assert "--enable-mtls" in args
    assert args["--sentry-address"] == f"dapr-sentry.{DAPR_NAMESPACE}.svc.cluster.local:443"
    assert all(c.ready for c in pod.status.container_statuses)
    log = core.read_namespaced_pod_log(CHECK_APP, "default", container=DAPRD)
    assert IDENTITY_ISSUED in log, log[-2000:]
    assert MTLS_OFF not in log


def test_a_control_plane_pod_whose_image_was_never_imported_is_named(
    chart: list[dict[str, Any]], cluster: Cluster, core: k8s.CoreV1Api, figures: list[str]
) -> None:
    """The wait the control plane passed above, on a copy of the chart's sentry whose
    image the node never got: it fails and names the kubelet's reason."""
    sentry = next(d for d in chart if d["kind"] == "Deployment"
                  and d["metadata"]["name"] == "dapr-sentry")  # fmt: skip
    broken = copy.deepcopy(sentry)
    name = "dapr-sentry-not-imported"
    broken["metadata"] = {"name": name, "namespace": DAPR_NAMESPACE, "labels": {"app": name}}
    broken["spec"]["selector"] = {"matchLabels": {"app": name}}
    broken["spec"]["template"]["metadata"]["labels"] = {"app": name}
    broken["spec"]["template"]["spec"]["containers"][0]["image"] = f"{dapr.REGISTRY}/sentry:none"
    with cluster.api_client() as api:
        k8s.AppsV1Api(api).create_namespaced_deployment(DAPR_NAMESPACE, broken)
    with pytest.raises(HarnessError) as failure:
        dapr.wait_control_plane(core, timeout=30, apps=(name,))
    assert "waiting: ErrImageNeverPull" in str(failure.value)
    figures.append(f"a control-plane image never imported, as the check names it: {failure.value}")
