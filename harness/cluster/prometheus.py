"""Prometheus on the node as k3d/values/prometheus.yaml configures the prometheus-community
chart, which cannot be downloaded here: its server's objects rendered from those values.

What the chart's server would make (release `prometheus`, namespace `monitoring`): the
ServiceAccount, ClusterRole and binding its Kubernetes discovery needs, the
`prometheus-server` ConfigMap with the scrape jobs the values keep, the Deployment and the
NodePort Service. The values are read, never copied: a changed scrape interval, retention,
NodePort or job switch changes what runs here. What differs from the chart is listed in
DIFFERENCES (and in the README's cluster section).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness.cluster.images import ensure_binary_image
from harness.daprd import replace_lines
from harness.gobuild import GoCommand, ensure_command, go_directive, module_download
from harness.longrun import Progress
from harness.settings import REPO_ROOT

VALUES = REPO_ROOT / "k3d" / "values" / "prometheus.yaml"
NAMESPACE = "monitoring"
NAME = "prometheus-server"  # the chart's name for the release `prometheus`
# Debian's prometheus is built without Kubernetes service discovery (its
# kubernetes_sd_configs are refused: "field kubernetes_sd_configs not found"), which every
# job the chart keeps needs: Prometheus is built from its Go module instead, the newest
# 3.x release the module proxy serves (its module versions are v0.<major><minor>.<patch>).
VERSION = "3.16.0"
MODULE = "github.com/prometheus/prometheus"
IMAGE = f"dapr-suite/prometheus:{VERSION}"
PORT = 9090
RUN_AS = 65534  # the chart's server securityContext (nobody)
LABELS = {"app.kubernetes.io/name": "prometheus", "app.kubernetes.io/instance": "prometheus",
          "app.kubernetes.io/component": "server"}  # fmt: skip
SELECTOR = ",".join(f"{key}={value}" for key, value in LABELS.items())
DIFFERENCES = (
    f"Prometheus {VERSION} built from its Go module (the chart's image cannot be pulled; "
    "its tag cannot be read without the chart), without the web UI's assets (the API, "
    "/-/ready and /metrics are served; the UI page is not) and with Kubernetes service "
    "discovery only (the other mechanisms, which no kept job uses, are left out)",
    "no configmap-reload sidecar (the config is fixed for a node's life)",
    "no rule files (the values define no alerting or recording rules)",
)
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def prometheus_command(version: str = VERSION) -> GoCommand:
    """cmd/prometheus at `version`, its version stamped as its Makefile does."""
    major, minor, patch = version.split(".")
    module_version = f"v0.{int(major) * 100 + int(minor)}.{patch}"
    gomod = Path(module_download(MODULE, module_version)["GoMod"])
    return GoCommand(
        name="prometheus-kubernetes-sd",  # not a build with every discovery mechanism
        module=MODULE,
        version=module_version,
        package=f"{MODULE}/cmd/prometheus",
        replaces=tuple(replace_lines(gomod.read_text())),
        go_directive=go_directive(gomod),
        # Kubernetes discovery only (Prometheus' own build tags): the cloud providers'
        # SDKs of the other mechanisms would triple the build, and no job here uses them.
        tags=("netgo", "remove_all_sd", "enable_kubernetes_sd"),
        ldflags=f"-s -w -X github.com/prometheus/common/version.Version={version}",
    )


def ensure_image(progress: Progress) -> str:
    """Prometheus in an image over the Debian base (its binary built when absent)."""
    binary, _ = ensure_command(prometheus_command(), progress)
    ensure_binary_image(IMAGE, binary, "/bin/prometheus", progress, user=f"{RUN_AS}:{RUN_AS}")
    return IMAGE


def values(path: Path = VALUES) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}


def scrape_jobs(vals: dict[str, Any]) -> list[dict[str, Any]]:
    """The chart's default jobs that `scrapeConfigs` leaves enabled (the ones this node
    can serve: prometheus itself, annotated Services and pods, cAdvisor via the apiserver)."""
    switches = vals.get("scrapeConfigs") or {}
    jobs = {
        "prometheus": {"job_name": "prometheus",
                       "static_configs": [{"targets": [f"localhost:{PORT}"]}]},
        "kubernetes-nodes-cadvisor": _cadvisor_job(),
        "kubernetes-service-endpoints": _annotated_job("endpoints", "service"),
        "kubernetes-pods": _annotated_job("pod", "pod"),
    }  # fmt: skip
    return [job for name, job in jobs.items() if (switches.get(name) or {}).get("enabled", True)]


def _annotated_job(role: str, kind: str) -> dict[str, Any]:
    """Targets that carry prometheus.io/scrape=true (on the Service or on the pod), with
    the port, path and scheme their annotations give, as the chart relabels them."""
    meta = f"__meta_kubernetes_{kind}_annotation_prometheus_io"
    relabel = [
        {"source_labels": [f"{meta}_scrape"], "action": "keep", "regex": "true"},
        {"source_labels": [f"{meta}_scrape_slow"], "action": "drop", "regex": "true"},
        {"source_labels": [f"{meta}_scheme"], "action": "replace", "target_label": "__scheme__",
         "regex": "(https?)"},
        {"source_labels": [f"{meta}_path"], "action": "replace",
         "target_label": "__metrics_path__", "regex": "(.+)"},
        {"source_labels": ["__address__", f"{meta}_port"], "action": "replace",
         "target_label": "__address__", "regex": r"(.+?)(?::\d+)?;(\d+)",
         "replacement": "$1:$2"},
        {"action": "labelmap", "regex": f"{meta}_param_(.+)", "replacement": "__param_$1"},
        {"action": "labelmap", "regex": f"__meta_kubernetes_{kind}_label_(.+)"},
        {"source_labels": ["__meta_kubernetes_namespace"], "action": "replace",
         "target_label": "namespace"},
        {"source_labels": [f"__meta_kubernetes_{kind}_name"], "action": "replace",
         "target_label": kind},
    ]  # fmt: skip
    if role == "endpoints":
        relabel.append({"source_labels": ["__meta_kubernetes_pod_node_name"],
                        "action": "replace", "target_label": "node"})  # fmt: skip
    else:
        relabel.append({"source_labels": ["__meta_kubernetes_pod_phase"], "action": "drop",
                        "regex": "Pending|Succeeded|Failed|Completed"})  # fmt: skip
    job = "kubernetes-service-endpoints" if role == "endpoints" else "kubernetes-pods"
    return {"job_name": job, "honor_labels": True,
            "kubernetes_sd_configs": [{"role": role}], "relabel_configs": relabel}  # fmt: skip


def _cadvisor_job() -> dict[str, Any]:
    """cAdvisor of each node through the apiserver's node proxy (the CPU panels of Dapr's
    dashboards read container_cpu_usage_seconds_total)."""
    return {
        "job_name": "kubernetes-nodes-cadvisor",
        "scheme": "https",
        "tls_config": {"ca_file": f"{SA_DIR}/ca.crt", "insecure_skip_verify": True},
        "bearer_token_file": f"{SA_DIR}/token",
        "kubernetes_sd_configs": [{"role": "node"}],
        "relabel_configs": [
            {"action": "labelmap", "regex": "__meta_kubernetes_node_label_(.+)"},
            {"target_label": "__address__", "replacement": "kubernetes.default.svc:443"},
            {"source_labels": ["__meta_kubernetes_node_name"], "regex": "(.+)",
             "target_label": "__metrics_path__",
             "replacement": "/api/v1/nodes/$1/proxy/metrics/cadvisor"},
        ],
    }  # fmt: skip


def config(vals: dict[str, Any]) -> dict[str, Any]:
    """prometheus.yml: the values' `server.global` and the kept scrape jobs."""
    return {"global": dict((vals.get("server") or {}).get("global") or {}),
            "scrape_configs": scrape_jobs(vals)}  # fmt: skip


def manifests(vals: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The server's objects, in apply order."""
    vals = values() if vals is None else vals
    server = vals.get("server") or {}
    service = server.get("service") or {}
    meta = {"name": NAME, "namespace": NAMESPACE, "labels": LABELS}
    rbac = "rbac.authorization.k8s.io/v1"
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {"apiVersion": rbac, "kind": "ClusterRole", "metadata": {"name": NAME, "labels": LABELS},
         "rules": [
             {"apiGroups": [""], "verbs": ["get", "list", "watch"],
              "resources": ["nodes", "nodes/proxy", "nodes/metrics", "services", "endpoints",
                            "pods", "ingresses", "configmaps"]},
             {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
              "verbs": ["get", "list", "watch"]},
             {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
         ]},
        {"apiVersion": rbac, "kind": "ClusterRoleBinding",
         "metadata": {"name": NAME, "labels": LABELS},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NAME},
         "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
         "data": {"prometheus.yml": yaml.safe_dump(config(vals), sort_keys=False)}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
         "spec": {"replicas": 1, "selector": {"matchLabels": LABELS},
                  "template": {"metadata": {"labels": LABELS}, "spec": _pod_spec(server)}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": meta,
         "spec": {"type": service.get("type", "ClusterIP"), "selector": LABELS,
                  "ports": [{"name": "http", "port": service.get("servicePort", 80),
                             "targetPort": PORT, "protocol": "TCP",
                             **({"nodePort": service["nodePort"]}
                                if "nodePort" in service else {})}]}},
    ]  # fmt: skip


def _pod_spec(server: dict[str, Any]) -> dict[str, Any]:
    container = {
        "name": NAME,
        "image": IMAGE,
        "imagePullPolicy": "Never",  # imported into the node: there is no registry to ask
        "args": [
            f"--storage.tsdb.retention.time={server.get('retention', '15d')}",
            "--config.file=/etc/config/prometheus.yml",
            "--storage.tsdb.path=/data",
            "--web.enable-lifecycle",
        ],
        "ports": [{"containerPort": PORT}],
        "readinessProbe": {"httpGet": {"path": "/-/ready", "port": PORT},
                           "periodSeconds": 5, "timeoutSeconds": 4},
        "livenessProbe": {"httpGet": {"path": "/-/healthy", "port": PORT},
                          "initialDelaySeconds": 30, "periodSeconds": 15, "timeoutSeconds": 10},
        "resources": server.get("resources") or {},
        "volumeMounts": [{"name": "config-volume", "mountPath": "/etc/config"},
                         {"name": "storage-volume", "mountPath": "/data"}],
    }  # fmt: skip
    return {
        "serviceAccountName": NAME,
        "securityContext": {"runAsUser": RUN_AS, "runAsGroup": RUN_AS, "fsGroup": RUN_AS,
                            "runAsNonRoot": True},
        "containers": [container],
        # persistentVolume.enabled false in the values: the chart then uses an emptyDir.
        "volumes": [{"name": "config-volume", "configMap": {"name": NAME}},
                    {"name": "storage-volume", "emptyDir": {}}],
    }  # fmt: skip
