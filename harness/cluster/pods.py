"""Workloads on the node and waiting for them: a Deployment of one of the suite's images,
its pod Running and Ready, or one error naming why not (the pod's waiting reason)."""

from __future__ import annotations

from typing import Any

from kubernetes import client as k8s

from harness.errors import HarnessError
from harness.kube_apiserver import HOST
from harness.wait import WaitTimeout, poll


def deployment(
    name: str, image: str, container_port: int, host_port: int, namespace: str = "default"
) -> dict[str, Any]:
    """One replica of a local image (never pulled: no registry), its port also bound on
    the node's 127.0.0.1 as a hostPort."""
    labels = {"app": name}
    container = {
        "name": name,
        "image": image,
        "imagePullPolicy": "Never",
        "ports": [{"containerPort": container_port, "hostPort": host_port, "hostIP": HOST}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": container_port},
                           "periodSeconds": 1},
    }  # fmt: skip
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def pod_problem(pod: Any) -> str:
    """Why a pod is not running and ready yet, in a few words ('' once it is)."""
    if pod.status.phase == "Running" and all(c.ready for c in pod.status.container_statuses or []):
        return ""
    for status in pod.status.container_statuses or []:
        waiting = status.state.waiting if status.state else None
        if waiting and waiting.reason:
            return f"container {status.name} waiting: {waiting.reason} ({waiting.message or ''})"
    for condition in pod.status.conditions or []:
        if condition.status != "True" and condition.reason:
            return f"{condition.type}: {condition.reason} ({condition.message or ''})"
    return f"phase {pod.status.phase}"


def wait_running(
    core: k8s.CoreV1Api, namespace: str, app: str, timeout: float, selector: str = ""
) -> Any:
    """The app's pod (or the first matching `selector`) once Running and Ready; on
    timeout one error naming what it waits for."""
    app = app or selector

    def read() -> tuple[Any, str]:
        pods = core.list_namespaced_pod(namespace, label_selector=selector or f"app={app}").items
        if not pods:
            return None, "no pod created yet"
        return pods[0], pod_problem(pods[0])

    try:
        pod, _ = poll(read, lambda found: not found[1], timeout=timeout, interval=0.5)
    except WaitTimeout as exc:
        _, problem = exc.last if isinstance(exc.last, tuple) else (None, str(exc.last))
        raise HarnessError(f"pod of {app} not running within {timeout:g}s: {problem}") from None
    return pod


def probe_pod(name: str, image: str, url: str, namespace: str = "default") -> dict[str, Any]:
    """A pod that fetches `url` once with the image's python3 and exits 0 on a 200."""
    script = f"import urllib.request as r; print(r.urlopen({url!r}, timeout=5).read().decode())"
    return script_pod(name, image, script, namespace)


def script_pod(name: str, image: str, script: str, namespace: str = "default") -> dict[str, Any]:
    """A pod that runs `script` once with the image's python3."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": name, "image": image, "imagePullPolicy": "Never",
                            "command": ["python3", "-c", script]}],
        },
    }  # fmt: skip


def wait_finished(core: k8s.CoreV1Api, namespace: str, name: str, timeout: float) -> str:
    """The pod's phase once Succeeded or Failed; on timeout one error naming its problem."""

    def read() -> tuple[str, str]:
        pod: Any = core.read_namespaced_pod(name, namespace)
        return pod.status.phase, pod_problem(pod)

    try:
        phase, _ = poll(read, lambda s: s[0] in ("Succeeded", "Failed"), timeout=timeout,
                        interval=0.5)  # fmt: skip
    except WaitTimeout as exc:
        problem = exc.last[1] if isinstance(exc.last, tuple) else str(exc.last)
        raise HarnessError(f"pod {name} did not finish within {timeout:g}s: {problem}") from None
    return str(phase)
