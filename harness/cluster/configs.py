"""The node's configuration files and command lines, as plain text and data.

Nothing here starts anything, so each choice can be read and tested on its own; the
reason for each non-default value is beside it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.cluster.settings import (
    BRIDGE,
    BRIDGE_GATEWAY,
    CGROUP_ROOT,
    CLUSTER_DNS_IP,
    CLUSTER_DOMAIN,
    NODE_NAME,
    POD_SUBNET,
    ClusterSettings,
)
from harness.kube_apiserver import HOST, SERVICE_CIDR

CNI_BIN_DIR = Path("/usr/lib/cni")  # Debian's containernetworking-plugins
PAUSE_IMAGE = "dapr-suite/pause:suite"  # built locally by harness.cluster.images
CNI_NETWORK = "suite-pods"
CONTAINERD_NAMESPACE = "k8s.io"  # the namespace containerd's CRI keeps images and pods in


def containerd_config(s: ClusterSettings) -> str:
    """containerd's config (version 2, containerd 1.6): its own root, state and socket."""
    d = s.containerd_dir
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{d / "root"}"
state = "{d / "state"}"

[grpc]
  address = "{s.containerd_socket}"

[ttrpc]
  address = "{d / "containerd.sock.ttrpc"}"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{d / "opt"}"

[{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  # A negative oom_score_adj is refused on this machine and runc then dies with
  # "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  # Streaming (logs, port-forward) on loopback, on a port the kernel picks.
  stream_server_address = "{HOST}"
  stream_server_port = "0"
  # Pod network namespaces under the state directory, not the machine's /run/netns.
  netns_mounts_under_state_dir = true
  enable_selinux = false

[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false

[{cri}.cni]
  bin_dir = "{CNI_BIN_DIR}"
  conf_dir = "{s.cni_conf_dir}"
  max_conf_num = 1
"""


def cni_conflist(s: ClusterSettings) -> dict[str, Any]:
    """A bridge of this machine for the pods; hostPorts through the portmap plugin; pod to
    pod allowed through the firewall plugin.

    No masquerade and no default route in the pods: nothing they send can leave the
    machine; their one route beyond the bridge is to the Services' cluster IPs, through
    the node (where kube-proxy translates them). Port mappings on 127.0.0.1 are reached
    from loopback only.
    """
    return {
        "cniVersion": "0.4.0",
        "name": CNI_NETWORK,
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                "isDefaultGateway": False,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_SUBNET}]],
                    "dataDir": str(s.run_dir / "cni" / "ipam"),
                    "routes": [{"dst": SERVICE_CIDR, "gw": BRIDGE_GATEWAY}],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
            # Bridged frames pass the FORWARD chain here (br_netfilter), whose policy
            # dockerd sets to DROP: this plugin accepts the pods' own traffic there.
            {"type": "firewall", "backend": "iptables"},
        ],
    }


def cni_conflist_text(s: ClusterSettings) -> str:
    return json.dumps(cni_conflist(s), indent=2) + "\n"


def kubelet_config(s: ClusterSettings, serving_cert: Path, serving_key: Path) -> dict[str, Any]:
    """KubeletConfiguration for one node on this machine (cgroup v1, cgroupfs, no swap check)."""
    certs = s.kube.run_dir / "certs"
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": HOST,
        "port": s.kubelet_port,
        "readOnlyPort": 0,
        "healthzBindAddress": HOST,
        "healthzPort": s.kubelet_healthz_port,
        "tlsCertFile": str(serving_cert),
        "tlsPrivateKeyFile": str(serving_key),
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(certs / "ca.crt")},
        },
        "authorization": {"mode": "Webhook"},
        "containerRuntimeEndpoint": f"unix://{s.containerd_socket}",
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": CGROUP_ROOT,
        # This kernel mounts cgroup v1; kubelet up to 1.34 still runs on it when asked.
        "failCgroupV1": False,
        "failSwapOn": False,
        # The eviction manager finds no filesystem stats for the root device here.
        "localStorageCapacityIsolation": False,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "2%",
                         "imagefs.available": "2%"},
        # Imported images cannot be pulled again: image GC must never remove them.
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        # No iptables chains of kubelet's own on the machine.
        "makeIPTablesUtilChains": False,
        "resolvConf": str(s.run_dir / "resolv.conf"),
        # The cluster's CoreDNS (harness.cluster.dns) behind its Service.
        "clusterDNS": [CLUSTER_DNS_IP],
        "clusterDomain": CLUSTER_DOMAIN,
        "podLogsDir": str(s.run_dir / "pod-logs"),
        "volumePluginDir": str(s.kubelet_dir / "volume-plugins"),
        "staticPodPath": "",
        "maxPods": 30,
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
    }  # fmt: skip


# What kubelet adds to the cluster DNS for pods (and hostNetwork pods get alone): a
# resolver that answers nothing, 127.0.0.1 being the pod's own loopback.
POD_RESOLV_CONF = "nameserver 127.0.0.1\n"


def kube_proxy_config(s: ClusterSettings) -> dict[str, Any]:
    """kube-proxy in iptables mode: Services' cluster IPs translated on this node only.

    Its own ports on loopback; NodePorts answered only on the bridge address (no
    localhost NodePorts: those need route_localnet set machine-wide); the machine's
    conntrack settings left alone (a 0 leaves each as it is).
    """
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clientConnection": {"kubeconfig": str(s.run_dir / "kubeconfigs" / "kube-proxy")},
        "hostnameOverride": NODE_NAME,
        "healthzBindAddress": f"{HOST}:{s.kube_proxy_healthz_port}",
        "metricsBindAddress": f"{HOST}:{s.kube_proxy_metrics_port}",
        "clusterCIDR": POD_SUBNET,
        "nodePortAddresses": [f"{BRIDGE_GATEWAY}/32"],
        "iptables": {"localhostNodePorts": False, "masqueradeAll": False, "syncPeriod": "10s",
                     "minSyncPeriod": "1s"},
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s",
                      "tcpCloseWaitTimeout": "0s"},
    }  # fmt: skip


def kube_proxy_argv(binary: Path, s: ClusterSettings) -> list[str]:
    return [str(binary), f"--config={s.run_dir / 'kube-proxy-config.yaml'}", "--v=1"]


def apiserver_relay_argv(s: ClusterSettings) -> list[str]:
    """Pods reach the apiserver at its advertised address on the bridge: socat relays
    each connection to its loopback port (kube-apiserver binds one address only)."""
    port = s.kube.apiserver_port
    return [
        "socat",
        f"TCP-LISTEN:{port},bind={BRIDGE_GATEWAY},reuseaddr,fork",
        f"TCP:{HOST}:{port}",
    ]


def containerd_argv(s: ClusterSettings) -> list[str]:
    return ["containerd", "--config", str(s.containerd_dir / "config.toml")]


def kubelet_argv(binary: Path, s: ClusterSettings) -> list[str]:
    return [
        str(binary),
        f"--config={s.run_dir / 'kubelet-config.yaml'}",
        f"--kubeconfig={s.run_dir / 'kubeconfigs' / 'kubelet'}",
        f"--root-dir={s.kubelet_dir}",
        f"--hostname-override={NODE_NAME}",
        "--v=1",
    ]


def controller_manager_argv(binary: Path, s: ClusterSettings) -> list[str]:
    kubeconfig = s.run_dir / "kubeconfigs" / "kube-controller-manager"
    certs = s.kube.run_dir / "certs"
    return [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={HOST}",
        f"--secure-port={s.controller_manager_port}",
        f"--cert-dir={s.run_dir / 'controller-manager'}",
        # Each controller with its own service account, so the bootstrap RBAC applies.
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={certs / 'service-accounts.key'}",
        f"--root-ca-file={certs / 'ca.crt'}",  # published as kube-root-ca.crt to pods
        # Its default is under /usr/libexec, which it would create.
        f"--flex-volume-plugin-dir={s.run_dir / 'controller-manager' / 'volume-plugins'}",
        "--cluster-name=suite",
        "--leader-elect=false",
        "--v=1",
    ]


def scheduler_argv(binary: Path, s: ClusterSettings) -> list[str]:
    kubeconfig = s.run_dir / "kubeconfigs" / "kube-scheduler"
    return [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={HOST}",
        f"--secure-port={s.scheduler_port}",
        f"--cert-dir={s.run_dir / 'scheduler'}",
        "--leader-elect=false",
        "--v=1",
    ]


def kubelet_api_binding() -> dict[str, Any]:
    """Lets kube-apiserver use the kubelet's API (logs, exec, port-forward): the kubelet
    asks the apiserver whether each caller may (authorization mode Webhook)."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "suite:kube-apiserver-kubelet-client"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "system:kubelet-api-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                      "name": "kube-apiserver-kubelet-client"}],
    }  # fmt: skip
