"""A real single-node cluster on this machine runs a pod of the suite's own image.

The node is built from upstream parts (harness.cluster): etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and kubelet of one release, Debian's containerd,
runc and CNI plugins. The checks: the node becomes Ready; a Deployment of service-2 gets a
pod that the controller manager created (through a ReplicaSet) and the scheduler placed,
on the pod bridge, answering /healthz through a hostPort bound to the node's 127.0.0.1 and
to another pod across the bridge; a pod whose image was never imported names its waiting
reason; and nothing is left behind.

Marked `cluster` (tox -e cluster), not `k8s`: it needs root, takes about a minute, and
changes the machine's network (a bridge) while it runs.
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Iterator

import httpx
import pytest
from kubernetes import client as k8s

from harness.cluster import leftovers
from harness.cluster.node import Cluster
from harness.cluster.pods import deployment, probe_pod, wait_finished, wait_running
from harness.cluster.settings import NODE_NAME, POD_SUBNET, ClusterSettings
from harness.errors import HarnessError
from harness.images import build_all, service_image
from harness.longrun import Progress
from harness.ports import ensure_ports_free, require_pinned_range

pytestmark = [pytest.mark.cluster, pytest.mark.integration]

SERVICE2_PORT = 7070  # the image's APP_PORT
PROBE_HOST_PORT = 7170  # service-2's hostPort on 127.0.0.1, moved by HARNESS_PORT_OFFSET


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> ClusterSettings:
    env = {**os.environ, "HARNESS_CLUSTER_RUN_DIR": str(tmp_path_factory.mktemp("cluster"))}
    return ClusterSettings.from_env(env)


@pytest.fixture(scope="module")
def host_port() -> int:
    port = PROBE_HOST_PORT + int(os.environ.get("HARNESS_PORT_OFFSET", "0"))
    require_pinned_range({"service-2 hostPort": port})
    ensure_ports_free({"service-2 hostPort": port})
    return port


@pytest.fixture(scope="module")
def cluster(settings: ClusterSettings, figures: list[str], progress: Progress) -> Iterator[Cluster]:
    build_all(progress)
    node = Cluster(settings, images=(service_image("service-2"),), progress=progress)
    with node:
        figures.append(f"cluster {node.release} up in {node.timings['up']:.1f} s "
                       "(images imported; builds included when absent)")  # fmt: skip
        yield node
    figures.append(f"cluster down in {node.timings['down']:.1f} s")
    # No process, shim, mount, bridge, cgroup, CNI chain or fixed directory of the node.
    assert leftovers.leftovers(settings) == []


@pytest.fixture(scope="module")
def core(cluster: Cluster) -> Iterator[k8s.CoreV1Api]:
    with cluster.api_client() as api:
        yield k8s.CoreV1Api(api)


@pytest.fixture(scope="module")
def apps(cluster: Cluster) -> Iterator[k8s.AppsV1Api]:
    with cluster.api_client() as api:
        yield k8s.AppsV1Api(api)


def test_node_is_ready_at_the_pinned_release(core: k8s.CoreV1Api, cluster: Cluster) -> None:
    node = core.read_node(NODE_NAME)
    ready = {c.type: c.status for c in node.status.conditions}
    assert ready["Ready"] == "True", node.status.conditions
    assert node.status.node_info.kubelet_version == cluster.release
    assert node.status.node_info.container_runtime_version.startswith("containerd://1.")


def test_service2_runs_as_a_scheduled_pod_and_answers_on_loopback(
    core: k8s.CoreV1Api, apps: k8s.AppsV1Api, host_port: int, figures: list[str]
) -> None:
    manifest = deployment("service-2", service_image("service-2"), SERVICE2_PORT, host_port)
    started = time.monotonic()
    apps.create_namespaced_deployment("default", manifest)
    pod = wait_running(core, "default", "service-2", timeout=90)
    figures.append(f"service-2 pod Running and Ready {time.monotonic() - started:.1f} s "
                   "after the Deployment was created")  # fmt: skip
    assert pod.spec.node_name == NODE_NAME  # bound by the scheduler
    owner = pod.metadata.owner_references[0]
    assert owner.kind == "ReplicaSet" and owner.name.startswith("service-2-")
    assert ipaddress.ip_address(pod.status.pod_ip) in ipaddress.ip_network(POD_SUBNET)
    answer = httpx.get(f"http://127.0.0.1:{host_port}/healthz", timeout=5, trust_env=False)
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}


def test_a_pod_reaches_another_pod_across_the_bridge(core: k8s.CoreV1Api) -> None:
    """Pod to pod, as Dapr's sidecars will need; the probe's log comes through the
    apiserver from the kubelet's API (its client certificate, the kubelet's webhook)."""
    target = wait_running(core, "default", "service-2", timeout=10).status.pod_ip
    url = f"http://{target}:{SERVICE2_PORT}/healthz"
    core.create_namespaced_pod("default", probe_pod("probe", service_image("service-2"), url))
    phase = wait_finished(core, "default", "probe", timeout=60)
    log = core.read_namespaced_pod_log("probe", "default")
    assert phase == "Succeeded", log
    assert log.strip() == '{"status":"ok"}'


def test_a_pod_whose_image_was_never_imported_names_its_waiting_reason(
    core: k8s.CoreV1Api, apps: k8s.AppsV1Api, host_port: int, figures: list[str]
) -> None:
    manifest = deployment("not-imported", "dapr-suite/not-imported:suite", SERVICE2_PORT,
                          host_port + 1)  # fmt: skip
    apps.create_namespaced_deployment("default", manifest)
    with pytest.raises(HarnessError) as failure:
        wait_running(core, "default", "not-imported", timeout=30)
    assert "waiting: ErrImageNeverPull" in str(failure.value)
    figures.append(f"a missing image, as the check names it: {failure.value}")
