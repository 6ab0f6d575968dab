"""The suite's workload on the node: k3d's manifests applied unchanged, their images built here.

What k3d/up.sh deploys after Dapr, in its order: the namespaces, Redis and Jaeger
(k3d/manifests/0*, 1*), Dapr's Configuration, Resiliency, Components and Subscription (2*),
the three token Secrets, service-1 and service-2 with injected sidecars (3*), then Prometheus
(harness.cluster.prometheus, from k3d/values/prometheus.yaml). No image can be pulled here,
so each image a manifest names is built with the Docker Engine and imported under that very
name (IMAGE_BUILDERS), and every container gets `imagePullPolicy: Never` at apply time:
the services' manifests say `Always` (right for k3d, whose registry holds a new build under
the same tag), which would make kubelet ask a registry that does not exist. The manifests
in the repository stay as k3d users get them.
"""

from __future__ import annotations

import base64
import copy
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from harness.cluster import prometheus
from harness.cluster.images import ensure_binary_image, ensure_debian_image, tag_image
from harness.cluster.pods import wait_running
from harness.errors import HarnessError
from harness.gobuild import ensure_command, module_download
from harness.images import (
    DOCKERFILES,
    LOAD_IMAGE,
    build_all,
    ensure_load_image,
    image_size,
    service_image,
)
from harness.injection import DAPRD
from harness.jaeger import ALL_IN_ONE_VERSION, MODULE, all_in_one_command
from harness.kube_apiserver import KubeApiserver
from harness.kube_apply import apply_all
from harness.longrun import Progress
from harness.manifests import documents
from harness.settings import REPO_ROOT
from harness.targets.k8s import APP_IDS, DEFAULT_NAMESPACE, TOKEN_SECRETS

MANIFESTS = REPO_ROOT / "k3d" / "manifests"
# Not applied with the workload (loadtests.in_cluster creates its pods for a run), but its
# image is imported with the others, so that a run finds it on the node.
LOAD_MANIFESTS = REPO_ROOT / "k3d" / "load"
NAMESPACE = DEFAULT_NAMESPACE
# The manifests' images (without the digest up.sh pins), each built here under that name.
SERVICE_IMAGES = {app: f"k3d-dapr-suite-registry:5111/{app}:dev" for app in DOCKERFILES}
LOAD_MANIFEST_IMAGE = "k3d-dapr-suite-registry:5111/load:dev"
REDIS_IMAGE = "redis:7.4.2"
JAEGER_IMAGE = f"jaegertracing/all-in-one:{ALL_IN_ONE_VERSION}"
# Debian's redis-server has protected mode on when started without a config: it would
# refuse daprd's connections from other pods. The official image compiles it off; this
# wrapper (first on PATH, where the manifest's `redis-server` is looked up) does the same.
REDIS_WRAPPER = '#!/bin/sh\nexec /usr/bin/redis-server "$@" --protected-mode no\n'


def _service_images(progress: Progress) -> None:
    build_all(progress)
    for app, ref in SERVICE_IMAGES.items():
        tag_image(service_image(app), ref)


def _load_image(progress: Progress) -> None:
    ensure_load_image(progress)
    tag_image(LOAD_IMAGE, LOAD_MANIFEST_IMAGE)


def _redis_image(progress: Progress) -> None:
    """Debian bookworm's redis-server (7.0.15) under the manifest's name."""
    ensure_debian_image(
        REDIS_IMAGE, ("redis-server", "redis-tools"),
        ("COPY redis-server /usr/local/bin/redis-server", "WORKDIR /data",
         'CMD ["redis-server"]'),
        progress, files=(("redis-server", REDIS_WRAPPER),),
    )  # fmt: skip


def _jaeger_image(progress: Progress) -> None:
    """Jaeger's all-in-one built from its module at the manifest's release, laid out as
    its own Dockerfile does (binary, sampling strategies, user 10001)."""
    if image_size(JAEGER_IMAGE) is not None:
        return
    binary, _ = ensure_command(all_in_one_command(), progress)
    module = Path(module_download(MODULE, f"v{ALL_IN_ONE_VERSION}")["Dir"])
    strategies = "/etc/jaeger/sampling_strategies.json"
    ensure_binary_image(
        JAEGER_IMAGE, binary, "/go/bin/all-in-one-linux", progress, user="10001",
        files={strategies: module / "cmd" / "all-in-one" / "sampling_strategies.json"},
        env={"SAMPLING_STRATEGIES_FILE": strategies},
    )  # fmt: skip


IMAGE_BUILDERS: dict[str, Callable[[Progress], object]] = {
    **{ref: _service_images for ref in SERVICE_IMAGES.values()},
    LOAD_MANIFEST_IMAGE: _load_image,
    REDIS_IMAGE: _redis_image,
    JAEGER_IMAGE: _jaeger_image,
    prometheus.IMAGE: prometheus.ensure_image,
}
# Images of the suite's own code: built on every `up`, so the pods run the code of the
# checkout (Docker's layer cache makes an unchanged build take seconds). The others are
# pinned releases, built once.
FROM_SOURCES = frozenset({*SERVICE_IMAGES.values(), LOAD_MANIFEST_IMAGE})


def manifest_documents(directory: Path = MANIFESTS) -> list[dict[str, Any]]:
    return [doc for path in sorted(directory.glob("*.yaml")) for doc in documents(path)]


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    return [*spec.get("containers", []), *spec.get("initContainers", [])]


def images(docs: list[dict[str, Any]]) -> tuple[str, ...]:
    """Every image the workload runs, in the order first named."""
    named = [c["image"] for doc in docs for c in containers(doc)]
    return tuple(dict.fromkeys([*named, prometheus.IMAGE]))


def ensure_images(refs: tuple[str, ...], progress: Progress) -> dict[str, float]:
    """Each image in the Docker Engine: the suite's own built again, the others when absent;
    seconds per builder that ran (each builder runs once). An image no builder makes is named
    (a manifest changed its image)."""
    unknown = [ref for ref in refs if ref not in IMAGE_BUILDERS]
    if unknown:
        raise HarnessError(f"no local build for image {unknown[0]} (named by k3d/manifests); "
                           "add one to harness.cluster.workload.IMAGE_BUILDERS")  # fmt: skip
    spent: dict[str, float] = {}
    ran: set[Callable[[Progress], object]] = set()
    for ref in refs:
        builder = IMAGE_BUILDERS[ref]
        if builder in ran or (ref not in FROM_SOURCES and image_size(ref) is not None):
            continue
        started = time.monotonic()
        builder(progress)
        ran.add(builder)
        spent[ref] = time.monotonic() - started
    return spent


def never_pulled(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies with `imagePullPolicy: Never` on every container: the node has no registry,
    and a missing image is then named (ErrImageNeverPull) instead of looked up."""
    out = copy.deepcopy(docs)
    for doc in out:
        for container in containers(doc):
            container["imagePullPolicy"] = "Never"
    return out


def token_secrets(namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    """The Secrets k3d/up.sh creates: a fresh random token each, under the key `token`."""
    return [
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": {"name": name, "namespace": namespace},
         "data": {"token": base64.b64encode(secrets.token_hex(32).encode()).decode()}}
        for name in TOKEN_SECRETS.values()
    ]  # fmt: skip


def _group(docs: list[dict[str, Any]], prefix: str, directory: Path = MANIFESTS) -> list[Any]:
    """The documents of the manifest files whose names start with `prefix` (as up.sh's
    apply_group), from the already pull-policy-adjusted `docs`."""
    names = {
        (d["kind"], d["metadata"]["name"])
        for path in sorted(directory.glob(f"{prefix}*.yaml"))
        for d in documents(path)
    }
    return [d for d in docs if (d["kind"], d["metadata"]["name"]) in names]


def deploy(server: KubeApiserver, progress: Progress, timeout: float = 180) -> dict[str, float]:
    """Apply the workload in up.sh's order and wait for each step; seconds per step."""
    docs = never_pulled(manifest_documents())
    dyn = server.dynamic()
    timings: dict[str, float] = {}
    with server.api_client() as api:
        core = k8s.CoreV1Api(api)
        steps: list[tuple[str, list[Any], list[tuple[str, str]]]] = [
            ("namespaces, Redis and Jaeger", _group(docs, "0") + _group(docs, "1"),
             [(NAMESPACE, "app=redis"), (NAMESPACE, "app=jaeger")]),
            ("Dapr resources and token Secrets", _group(docs, "2") + token_secrets(), []),
            ("service-1 and service-2", _group(docs, "3"),
             [(NAMESPACE, f"app={app}") for app in APP_IDS]),
            ("Prometheus", prometheus.manifests(), [(prometheus.NAMESPACE, prometheus.SELECTOR)]),
        ]  # fmt: skip
        for what, objects, waits in steps:
            started = time.monotonic()
            refused = apply_all(dyn, objects, dry_run=False)
            if refused:
                raise HarnessError(f"kube-apiserver refused {what}: {refused[0].line()}")
            for namespace, selector in waits:
                pod = _wait_ready(core, namespace, selector, timeout)
                if selector.removeprefix("app=") in APP_IDS:
                    _require_sidecar(pod, selector)
            timings[what] = time.monotonic() - started
            progress(f"{what} applied and Ready in {timings[what]:.1f} s")
    return timings


def _wait_ready(core: k8s.CoreV1Api, namespace: str, selector: str, timeout: float) -> Any:
    """The pod once Ready; else the waiting reason and what its containers last logged
    (a crash loop's reason is in the log of the container that exited)."""
    try:
        return wait_running(core, namespace, "", timeout, selector=selector)
    except HarnessError as exc:
        raise HarnessError(f"{exc}\n{_log_tails(core, namespace, selector)}") from None


def _log_tails(core: k8s.CoreV1Api, namespace: str, selector: str, lines: int = 5) -> str:
    tails = []
    pods: list[Any] = core.list_namespaced_pod(namespace, label_selector=selector).items
    for pod in pods:
        for status in pod.status.container_statuses or []:
            previous = bool(status.restart_count)
            try:
                text = core.read_namespaced_pod_log(pod.metadata.name, namespace,
                                                    container=status.name, previous=previous,
                                                    tail_lines=lines)  # fmt: skip
            except ApiException as err:
                text = f"(no log: HTTP {err.status})"
            tails.append(f"{pod.metadata.name}/{status.name}:\n{text.rstrip()}")
    return "\n".join(tails)


def _require_sidecar(pod: Any, selector: str) -> None:
    names = [c.name for c in pod.spec.containers]
    if DAPRD not in names:
        raise HarnessError(f"the pod of {selector} has no {DAPRD} (containers {names}): the "
                           "sidecar injector's webhook did not answer and failed open")  # fmt: skip
