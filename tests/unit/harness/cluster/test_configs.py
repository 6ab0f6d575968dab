"""The node's generated configuration: what each file and command line says."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from harness.cluster import configs
from harness.cluster.settings import (
    BRIDGE,
    BRIDGE_GATEWAY,
    CGROUP_ROOT,
    CLUSTER_DNS_IP,
    NODE_NAME,
    POD_SUBNET,
    ClusterSettings,
)
from harness.errors import HarnessError
from harness.kube_apiserver import (
    KUBELET_CLIENT,
    SERVICE_CIDR,
    KubeApiserver,
    KubeSettings,
    apiserver_argv,
    node_identities,
)
from harness.tls import KeyPair


@pytest.fixture
def settings(tmp_path: Path) -> ClusterSettings:
    env = {"HARNESS_PORT_OFFSET": "13000", "HARNESS_CLUSTER_RUN_DIR": str(tmp_path / "run")}
    return ClusterSettings.from_env(env)


def test_every_port_moves_with_the_offset_and_stays_pinned(settings: ClusterSettings) -> None:
    assert settings.ports() == {
        "kubelet": 23250,
        "kubelet healthz": 23248,
        "kube-controller-manager": 23257,
        "kube-scheduler": 23259,
        "kube-proxy healthz": 23256,
        "kube-proxy metrics": 23249,
    }
    assert settings.kube.apiserver_port == 19443
    assert settings.kube.run_dir == settings.run_dir / "kube"


def test_an_offset_past_the_pinned_range_is_refused(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"must be in 1024\.\.32767"):
        ClusterSettings.from_env({"HARNESS_PORT_OFFSET": "23000"})


def test_containerd_has_its_own_dirs_socket_and_the_cri_settings_this_machine_needs(
    settings: ClusterSettings,
) -> None:
    config = tomllib.loads(configs.containerd_config(settings))
    run = str(settings.run_dir)
    assert config["version"] == 2
    opt = config["plugins"]["io.containerd.internal.v1.opt"]["path"]
    paths = (config["root"], config["state"], config["grpc"]["address"], config["ttrpc"]["address"])
    for path in (*paths, opt):
        assert path.startswith(run + "/"), path
    assert config["grpc"]["address"] != "/run/containerd/containerd.sock"
    assert config["debug"]["address"] == "" and config["metrics"]["address"] == ""
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["restrict_oom_score_adj"] is True
    assert cri["sandbox_image"] == configs.PAUSE_IMAGE
    assert cri["stream_server_address"] == "127.0.0.1"
    assert cri["netns_mounts_under_state_dir"] is True
    runc = cri["containerd"]["runtimes"]["runc"]
    assert runc["runtime_type"] == "io.containerd.runc.v2"
    assert runc["options"]["SystemdCgroup"] is False  # cgroupfs, as kubelet
    assert cri["cni"]["conf_dir"] == str(settings.cni_conf_dir)
    assert cri["cni"]["bin_dir"] == "/usr/lib/cni"


def test_the_pod_network_is_a_local_bridge_with_no_way_out(settings: ClusterSettings) -> None:
    bridge, portmap, firewall = configs.cni_conflist(settings)["plugins"]
    assert bridge["type"] == "bridge" and bridge["bridge"] == BRIDGE
    assert bridge["ipMasq"] is False and bridge["isDefaultGateway"] is False
    assert bridge["ipam"]["ranges"] == [[{"subnet": POD_SUBNET}]]
    # Beyond the bridge, only the Services' cluster IPs, through the node (kube-proxy).
    assert bridge["ipam"]["routes"] == [{"dst": SERVICE_CIDR, "gw": BRIDGE_GATEWAY}]
    assert bridge["ipam"]["dataDir"].startswith(str(settings.run_dir))
    assert portmap == {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True}
    assert firewall["type"] == "firewall"  # pod to pod through a FORWARD chain set to DROP
    assert len(BRIDGE) <= 15  # an interface name's limit


def test_kubelet_runs_on_cgroup_v1_with_cgroupfs_on_loopback(settings: ClusterSettings) -> None:
    config = configs.kubelet_config(settings, Path("/c.crt"), Path("/c.key"))
    assert config["failCgroupV1"] is False
    assert config["cgroupDriver"] == "cgroupfs" and config["cgroupRoot"] == CGROUP_ROOT
    assert config["failSwapOn"] is False
    assert config["localStorageCapacityIsolation"] is False
    assert config["address"] == config["healthzBindAddress"] == "127.0.0.1"
    assert (config["port"], config["healthzPort"], config["readOnlyPort"]) == (23250, 23248, 0)
    assert config["authentication"]["anonymous"] == {"enabled": False}
    assert config["authorization"] == {"mode": "Webhook"}
    assert config["containerRuntimeEndpoint"] == f"unix://{settings.containerd_socket}"
    assert config["imageGCHighThresholdPercent"] == 100  # imported images are never collected
    assert config["makeIPTablesUtilChains"] is False
    for key in ("resolvConf", "podLogsDir", "volumePluginDir"):
        assert config[key].startswith(str(settings.run_dir)), key
    assert config["clusterDNS"] == [CLUSTER_DNS_IP] and config["clusterDomain"] == "cluster.local"


def test_kube_proxy_keeps_its_ports_on_loopback_and_the_machine_settings_alone(
    settings: ClusterSettings,
) -> None:
    config = configs.kube_proxy_config(settings)
    assert config["mode"] == "iptables" and config["hostnameOverride"] == NODE_NAME
    assert config["healthzBindAddress"] == "127.0.0.1:23256"
    assert config["metricsBindAddress"] == "127.0.0.1:23249"
    assert config["nodePortAddresses"] == [f"{BRIDGE_GATEWAY}/32"]  # never the machine's own
    assert config["iptables"]["localhostNodePorts"] is False  # would set route_localnet
    conntrack = config["conntrack"]
    assert conntrack["maxPerCore"] == conntrack["min"] == 0  # 0: the sysctl is left as it is
    assert config["clientConnection"]["kubeconfig"].startswith(str(settings.run_dir))


def test_the_apiserver_relay_listens_on_the_bridge_only(settings: ClusterSettings) -> None:
    argv = configs.apiserver_relay_argv(settings)
    assert argv[1] == f"TCP-LISTEN:19443,bind={BRIDGE_GATEWAY},reuseaddr,fork"
    assert argv[2] == "TCP:127.0.0.1:19443"


def test_control_plane_commands_bind_loopback_on_their_pinned_ports(
    settings: ClusterSettings,
) -> None:
    binary = Path("/bin/x")
    manager = configs.controller_manager_argv(binary, settings)
    scheduler = configs.scheduler_argv(binary, settings)
    kubelet = configs.kubelet_argv(binary, settings)
    assert "--bind-address=127.0.0.1" in manager and "--bind-address=127.0.0.1" in scheduler
    assert "--secure-port=23257" in manager and "--secure-port=23259" in scheduler
    assert "--use-service-account-credentials=true" in manager
    assert all(not a.startswith("--flex-volume-plugin-dir=/usr") for a in manager)
    assert f"--hostname-override={NODE_NAME}" in kubelet
    assert f"--root-dir={settings.kubelet_dir}" in kubelet


def test_the_apiserver_of_a_node_admits_service_accounts_and_reaches_the_kubelet_by_name(
    tmp_path: Path,
) -> None:
    s = KubeSettings(run_dir=tmp_path)
    pair = KeyPair(tmp_path / "s.crt", tmp_path / "s.key")
    alone = apiserver_argv(Path("/k"), s, pair, tmp_path / "sa.key")
    node = apiserver_argv(Path("/k"), s, pair, tmp_path / "sa.key", node=NODE_NAME)
    assert "--disable-admission-plugins=ServiceAccount" in alone
    assert not any(a.startswith("--disable-admission-plugins") for a in node)
    assert "--authorization-mode=Node,RBAC" in node
    assert "--enable-admission-plugins=NodeRestriction" in node
    assert "--kubelet-preferred-address-types=Hostname" in node
    assert f"--kubelet-client-certificate={tmp_path / 'certs' / KUBELET_CLIENT}.crt" in node
    assert "--advertise-address=127.0.0.1" in node and "--bind-address=127.0.0.1" in node
    beside = apiserver_argv(
        Path("/k"), s, pair, tmp_path / "sa.key", node=NODE_NAME, advertise=BRIDGE_GATEWAY
    )
    assert f"--advertise-address={BRIDGE_GATEWAY}" in beside  # its pods' way in
    assert "--bind-address=127.0.0.1" in beside


def test_each_node_component_gets_a_token_and_its_groups(tmp_path: Path) -> None:
    server = KubeApiserver(KubeSettings(run_dir=tmp_path), node=NODE_NAME)
    rows = server._tokens_csv().splitlines()
    assert rows[0].endswith(',suite-admin,1,"system:masters"')
    assert (
        rows[1]
        == f'{server.tokens[f"system:node:{NODE_NAME}"]},system:node:{NODE_NAME},2,"system:nodes"'
    )
    assert rows[2].endswith(",system:kube-controller-manager,3")  # no empty group column
    assert set(server.tokens) == set(node_identities(NODE_NAME))
    assert server.hosts == {NODE_NAME: "127.0.0.1"}
    assert KubeApiserver(KubeSettings(run_dir=tmp_path)).tokens == {}


def test_the_kubelet_api_binding_names_the_apiserver_client_certificate() -> None:
    binding = configs.kubelet_api_binding()
    assert binding["subjects"][0]["name"] == KUBELET_CLIENT
    assert binding["roleRef"]["name"] == "system:kubelet-api-admin"
