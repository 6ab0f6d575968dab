"""Where the cluster lives: its ports, run directory, node name and pod network."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.env import env_int
from harness.kube_apiserver import KubeSettings
from harness.ports import require_pinned_range
from harness.settings import REPO_ROOT

NODE_NAME = "suite-node"
POD_SUBNET = "10.244.0.0/24"  # on the bridge only: no route leads off this machine
BRIDGE = "suite-cni0"
CGROUP_ROOT = "/dapr-suite-cluster"  # every pod's cgroup sits below it, in each hierarchy
# The node's own address on the bridge: pods reach the apiserver here (a relay to its
# loopback port), and it is the only address NodePorts answer on.
BRIDGE_GATEWAY = "10.244.0.1"
CLUSTER_DOMAIN = "cluster.local"
CLUSTER_DNS_IP = "10.96.0.10"  # the kube-dns Service, in SERVICE_CIDR


@dataclass(frozen=True)
class ClusterSettings:
    """Pinned ports (moved by HARNESS_PORT_OFFSET, kept in 1024..32767) and the run directory.

    The apiserver's and etcd's ports are those of KubeSettings, moved by the same offset.
    """

    kube: KubeSettings
    kubelet_port: int = 10250
    kubelet_healthz_port: int = 10248
    controller_manager_port: int = 10257
    scheduler_port: int = 10259
    kube_proxy_healthz_port: int = 10256
    kube_proxy_metrics_port: int = 10249
    run_dir: Path = REPO_ROOT / ".run" / "cluster"
    ready_timeout_seconds: float = 120.0
    port_offset: int = 0  # also moves k3d's host ports (harness.cluster.port_mappings)

    @classmethod
    def from_env(cls, env: dict[str, str]) -> ClusterSettings:
        offset = env_int(env, "HARNESS_PORT_OFFSET", 0)
        run_dir = Path(env.get("HARNESS_CLUSTER_RUN_DIR") or cls.run_dir)
        kube = KubeSettings.from_env({**env, "HARNESS_KUBE_RUN_DIR": str(run_dir / "kube")})
        base = cls(kube)
        settings = cls(
            kube=kube,
            kubelet_port=base.kubelet_port + offset,
            kubelet_healthz_port=base.kubelet_healthz_port + offset,
            controller_manager_port=base.controller_manager_port + offset,
            scheduler_port=base.scheduler_port + offset,
            kube_proxy_healthz_port=base.kube_proxy_healthz_port + offset,
            kube_proxy_metrics_port=base.kube_proxy_metrics_port + offset,
            run_dir=run_dir,
            port_offset=offset,
        )
        require_pinned_range(settings.ports())
        return settings

    def ports(self) -> dict[str, int]:
        """The node's own ports (the apiserver checks its own and etcd's)."""
        return {
            "kubelet": self.kubelet_port,
            "kubelet healthz": self.kubelet_healthz_port,
            "kube-controller-manager": self.controller_manager_port,
            "kube-scheduler": self.scheduler_port,
            "kube-proxy healthz": self.kube_proxy_healthz_port,
            "kube-proxy metrics": self.kube_proxy_metrics_port,
        }

    # Paths below the run directory; unix socket paths must stay under 108 bytes.
    @property
    def containerd_dir(self) -> Path:
        return self.run_dir / "containerd"

    @property
    def containerd_socket(self) -> Path:
        return self.containerd_dir / "containerd.sock"

    @property
    def kubelet_dir(self) -> Path:
        return self.run_dir / "kubelet"

    @property
    def cni_conf_dir(self) -> Path:
        return self.run_dir / "cni" / "net.d"

    @property
    def logs(self) -> Path:
        return self.run_dir / "logs"

    # Beside the run directory, which each start empties.
    @property
    def state_file(self) -> Path:
        return self.run_dir.with_name(self.run_dir.name + ".state.json")

    @property
    def supervisor_log(self) -> Path:
        return self.run_dir.with_name(self.run_dir.name + ".log")
