"""k3d's port mappings for this node: each host port of k3d/cluster.yaml on 127.0.0.1,
relayed to its NodePort, and the target settings that reach them.

kube-proxy answers NodePorts on the bridge address only (localhost NodePorts would need
`route_localnet` set machine-wide), so socat listens on 127.0.0.1 at the host port that
k3d/cluster.yaml maps (moved by HARNESS_PORT_OFFSET) and relays each connection to
10.244.0.1:<NodePort>, where kube-proxy sends it to the Service's pod. Nothing listens
beyond loopback. Only NodePorts some Service uses are relayed (no Grafana here).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.cluster.settings import BRIDGE_GATEWAY
from harness.kube_apiserver import HOST
from harness.ports import require_pinned_range
from harness.targets.k8s import APP_IDS, NODE_PORTS, host_ports


@dataclass(frozen=True)
class Mapping:
    name: str  # what k3d.NODE_PORTS calls it: service-1, daprd service-1, prometheus...
    host_port: int
    node_port: int

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.host_port}"

    def relay_argv(self) -> list[str]:
        return [
            "socat",
            # socat's default backlog of 5 overflows under a burst of new connections
            # (32 at once in the e2e burst), and some of those requests then fail.
            f"TCP-LISTEN:{self.host_port},bind={HOST},reuseaddr,fork,backlog=128",
            f"TCP:{BRIDGE_GATEWAY}:{self.node_port}",
        ]


def mappings(offset: int, node_ports_in_use: set[int] | None = None) -> list[Mapping]:
    """k3d/cluster.yaml's mappings moved by `offset`, for NodePorts in use (all when None)."""
    hosts = host_ports()
    found = []
    for name, node_port in NODE_PORTS.items():
        if node_ports_in_use is not None and node_port not in node_ports_in_use:
            continue
        host_port = int(hosts[node_port].rsplit(":", 1)[1]) + offset
        found.append(Mapping(name, host_port, node_port))
    require_pinned_range({f"{m.name} host port": m.host_port for m in found})
    return found


def target_env(found: list[Mapping], kubeconfig: str, context: str) -> dict[str, str]:
    """The environment that points the Kubernetes target (E2E_TARGET=k8s) at this node."""
    urls = {m.name: m.url for m in found}
    # No registry: pods the suite creates later (loadtests.in_cluster) use the node's copy.
    env = {"E2E_TARGET": "k8s", "KUBECONFIG": kubeconfig, "K3D_CONTEXT": context,
           "K3D_IMAGE_PULL_POLICY": "Never"}  # fmt: skip
    for name, variable in (("service-1", "K3D_SERVICE1_URL"), ("service-2", "K3D_SERVICE2_URL"),
                           ("prometheus", "K3D_PROMETHEUS_URL"), ("jaeger", "K3D_JAEGER_URL"),
                           ("grafana", "K3D_GRAFANA_URL")):  # fmt: skip
        if name in urls:
            env[variable] = urls[name]
    metrics = [f"{app}={urls[f'daprd {app}']}/metrics" for app in APP_IDS
               if f"daprd {app}" in urls]  # fmt: skip
    if metrics:
        env["K3D_DAPRD_METRICS_URLS"] = ",".join(metrics)
    return env
