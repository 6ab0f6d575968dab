"""The cluster's DNS: CoreDNS built from its Go module, run as a pod behind the kube-dns
Service, as kubeadm installs it.

Dapr's sidecars find sentry and the operator by their Service names
(`dapr-sentry.dapr-system.svc.cluster.local`), so pods need cluster DNS. It answers the
cluster's own zone only: no `forward` plugin, so a name outside `cluster.local` gets
SERVFAIL and no query leaves the machine.
"""

from __future__ import annotations

from typing import Any

from harness.cluster.images import ensure_binary_image
from harness.cluster.settings import CLUSTER_DNS_IP, CLUSTER_DOMAIN
from harness.gobuild import ensure_command
from harness.kube_builds import COREDNS_VERSION, coredns_command
from harness.longrun import Progress

NAMESPACE = "kube-system"
NAME = "coredns"
IMAGE = f"dapr-suite/coredns:{COREDNS_VERSION.lstrip('v')}"
READY_PORT = 8181  # the `ready` plugin, inside the pod
HEALTH_PORT = 8080

COREFILE = f""".:53 {{
    errors
    health :{HEALTH_PORT}
    ready :{READY_PORT}
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }}
    cache 30
}}
"""


def ensure_image(progress: Progress) -> tuple[str, float]:
    """CoreDNS's image (its binary built when absent); the seconds the build took."""
    binary, seconds = ensure_command(coredns_command(), progress)
    ensure_binary_image(IMAGE, binary, "/coredns", progress)
    return IMAGE, seconds


def manifests() -> list[dict[str, Any]]:
    """ServiceAccount, RBAC, Corefile, Deployment and the kube-dns Service at CLUSTER_DNS_IP."""
    meta = {"name": NAME, "namespace": NAMESPACE}
    labels = {"k8s-app": "kube-dns"}
    rbac = "rbac.authorization.k8s.io/v1"
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {"apiVersion": rbac, "kind": "ClusterRole", "metadata": {"name": f"suite:{NAME}"},
         "rules": [
             {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"],
              "verbs": ["list", "watch"]},
             {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
              "verbs": ["list", "watch"]},
         ]},
        {"apiVersion": rbac, "kind": "ClusterRoleBinding", "metadata": {"name": f"suite:{NAME}"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": f"suite:{NAME}"},
         "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
         "data": {"Corefile": COREFILE}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {**meta, "labels": labels},
         "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels}, "spec": _pod_spec()}}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "kube-dns", "namespace": NAMESPACE, "labels": labels},
         "spec": {"selector": labels, "clusterIP": CLUSTER_DNS_IP, "ports": [
             {"name": "dns", "port": 53, "protocol": "UDP"},
             {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
         ]}},
    ]  # fmt: skip


def _pod_spec() -> dict[str, Any]:
    container = {
        "name": NAME,
        "image": IMAGE,
        "imagePullPolicy": "Never",  # imported into the node's containerd: no registry
        "args": ["-conf", "/etc/coredns/Corefile"],
        "ports": [{"containerPort": 53, "protocol": "UDP", "name": "dns"},
                  {"containerPort": 53, "protocol": "TCP", "name": "dns-tcp"}],
        "readinessProbe": {"httpGet": {"path": "/ready", "port": READY_PORT}, "periodSeconds": 2},
        "livenessProbe": {"httpGet": {"path": "/health", "port": HEALTH_PORT},
                          "periodSeconds": 10},
        "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns", "readOnly": True}],
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True},
    }  # fmt: skip
    return {
        "serviceAccountName": NAME,
        # Its own lookups go to the node's resolver file, never to itself.
        "dnsPolicy": "Default",
        "containers": [container],
        "volumes": [{"name": "config", "configMap": {"name": NAME}}],
    }
