"""The single-node cluster as a context manager: containerd, the control plane, kubelet.

Start order: containerd (and the images it needs), etcd and kube-apiserver, the
controller manager and scheduler, then kubelet; `start` returns once the node is Ready.
`stop` takes the pods off the node first (so kubelet tears down their sandboxes and CNI
state), stops every process group, and sweeps what is left (harness.cluster.leftovers).
A failed or interrupted start stops what it started.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import ssl
import subprocess
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import urllib3
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from harness.cluster import configs, dns, leftovers
from harness.cluster.images import ctr_argv, ensure_pause_image, import_images
from harness.cluster.pods import wait_running
from harness.cluster.settings import BRIDGE, BRIDGE_GATEWAY, NODE_NAME, POD_SUBNET, ClusterSettings
from harness.errors import HarnessError
from harness.gobuild import ensure_command
from harness.images import require_docker_engine
from harness.kube_apiserver import HOST, SERVICE_CIDR, KubeApiserver, launch
from harness.kube_apply import apply_all
from harness.kube_builds import kubernetes_command, kubernetes_release
from harness.longrun import Progress, say
from harness.ports import accepts, ensure_ports_free
from harness.processes import ManagedProcess, stop_all
from harness.tls import issue
from harness.wait import WaitTimeout, poll

NODE_COMMANDS = ("kubelet", "kube-controller-manager", "kube-scheduler", "kube-proxy")
REQUIRED = {
    "containerd": "containerd",
    "ctr": "containerd",
    "runc": "runc",
    "iptables": "iptables",
    "ip": "iproute2",
    "umount": "mount",
    "socat": "socat",
}
CNI_PLUGINS = ("bridge", "host-local", "portmap", "loopback")
_say = say("cluster")


def preflight() -> None:
    """Root and every command the node needs, each missing one named with its package."""
    if os.geteuid() != 0:
        raise HarnessError("the cluster needs root (containerd, kubelet, mounts, a bridge)")
    for command, package in REQUIRED.items():
        if not shutil.which(command):
            raise HarnessError(f"{command} is missing: apt-get install -y {package}")
    for plugin in CNI_PLUGINS:
        if not (configs.CNI_BIN_DIR / plugin).is_file():
            raise HarnessError(
                f"CNI plugin {configs.CNI_BIN_DIR / plugin} is missing: "
                "apt-get install -y containernetworking-plugins"
            )
    require_docker_engine()


class Cluster:
    """One node on this machine; `images` are copied from the Docker Engine into it."""

    def __init__(
        self, settings: ClusterSettings, images: tuple[str, ...] = (), progress: Progress = _say
    ) -> None:
        self.settings = settings
        self.images = images
        self.progress = progress
        self.apiserver = KubeApiserver(
            settings.kube, progress, node=NODE_NAME, advertise=BRIDGE_GATEWAY
        )
        self.containerd: ManagedProcess | None = None
        self.processes: list[ManagedProcess] = []  # controller manager, scheduler, kubelet
        self.release = ""
        self.timings: dict[str, float] = {}

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        started = time.monotonic()
        preflight()
        ensure_ports_free(self.settings.ports(), HOST)
        binaries = self._build()
        try:
            self._prepare_run_dir()
            self._start_containerd()
            self._import_images()
            self.apiserver.start()
            self._write_node_files()
            self._start_control_plane(binaries)
            self._wait_node_ready()
            self._start_dns()
        except BaseException:
            self.stop()
            raise
        self.timings["up"] = time.monotonic() - started
        self.progress(f"node {NODE_NAME} Ready; cluster up in {self.timings['up']:.1f} s")

    def stop(self) -> None:
        """Pods first (kubelet tears down their sandboxes), then every process, then the sweep."""
        started = time.monotonic()
        control = [p for p in self.processes if p.name != "kubelet"]
        stop_all(control)
        if any(p.name == "kubelet" and p.running() for p in self.processes):
            self._drain()
        stop_all(self.processes)
        self.apiserver.stop()
        self._kill_tasks()
        if self.containerd is not None:
            stop_all([self.containerd])
        remaining = leftovers.sweep(self.settings)
        self.timings["down"] = time.monotonic() - started
        if remaining:
            raise HarnessError("the cluster left behind: " + "; ".join(remaining))

    def __enter__(self) -> Cluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- steps ----------------------------------------------------------------------------

    def _build(self) -> dict[str, Path]:
        """The node's commands at the apiserver's release (a kubelet may not be newer)."""
        self.release = kubernetes_release()
        binaries = {}
        for name in NODE_COMMANDS:
            binaries[name], seconds = ensure_command(
                kubernetes_command(name, self.release), self.progress
            )
            self.timings[f"build {name}"] = seconds
        ensure_pause_image(self.progress)
        _, self.timings["build coredns"] = dns.ensure_image(self.progress)
        return binaries

    def _prepare_run_dir(self) -> None:
        s = self.settings
        leftovers.sweep(s)  # a node killed without `down` may have left mounts behind
        if s.run_dir.exists():
            shutil.rmtree(s.run_dir)
        for directory in (s.logs, s.cni_conf_dir, s.containerd_dir, s.run_dir / "kubeconfigs"):
            directory.mkdir(parents=True)
        (s.containerd_dir / "config.toml").write_text(configs.containerd_config(s))
        (s.cni_conf_dir / "10-suite-pods.conflist").write_text(configs.cni_conflist_text(s))
        (s.run_dir / "resolv.conf").write_text(configs.POD_RESOLV_CONF)
        (s.run_dir / "kube-proxy-config.yaml").write_text(
            yaml.safe_dump(configs.kube_proxy_config(s))
        )
        leftovers.make_cgroup_root()
        _make_bridge()

    def _start_containerd(self) -> None:
        s = self.settings
        self.containerd = ManagedProcess(
            "containerd", configs.containerd_argv(s), s.logs / "containerd.log"
        )

        def answers() -> bool:
            argv = ctr_argv(s.containerd_socket, "version")
            return subprocess.run(argv, capture_output=True, check=False).returncode == 0

        launch(self.containerd, answers, s.ready_timeout_seconds, self.progress)

    def _import_images(self) -> None:
        refs = (configs.PAUSE_IMAGE, dns.IMAGE, *self.images)
        seconds = import_images(refs, self.settings.containerd_socket)
        self.timings["import images"] = seconds
        self.progress(f"{', '.join(refs)} imported into the node's containerd in {seconds:.1f} s")

    def _write_node_files(self) -> None:
        s, server = self.settings, self.apiserver
        assert server.ca is not None
        for user, name in (
            (f"system:node:{NODE_NAME}", "kubelet"),
            ("system:kube-controller-manager", "kube-controller-manager"),
            ("system:kube-scheduler", "kube-scheduler"),
            ("system:kube-proxy", "kube-proxy"),
        ):
            path = s.run_dir / "kubeconfigs" / name
            path.write_text(yaml.safe_dump(server.kubeconfig(user)))
            path.chmod(0o600)
        serving = issue(server.ca, s.run_dir / "kubeconfigs", "kubelet", [NODE_NAME], [HOST])
        config = configs.kubelet_config(s, serving.cert, serving.key)
        (s.run_dir / "kubelet-config.yaml").write_text(yaml.safe_dump(config))
        refused = apply_all(server.dynamic(), [configs.kubelet_api_binding()], dry_run=False)
        if refused:
            raise HarnessError(f"kube-apiserver refused the kubelet API binding: {refused[0]}")

    def _start_control_plane(self, binaries: dict[str, Path]) -> None:
        s = self.settings
        relay = ManagedProcess(
            "apiserver-relay", configs.apiserver_relay_argv(s), s.logs / "apiserver-relay.log"
        )
        self.processes.append(relay)
        launch(relay, partial(accepts, BRIDGE_GATEWAY, s.kube.apiserver_port), 10, self.progress)
        plan = (
            ("kube-controller-manager", configs.controller_manager_argv,
             _https_healthz(s.controller_manager_port)),
            ("kube-scheduler", configs.scheduler_argv, _https_healthz(s.scheduler_port)),
            ("kubelet", configs.kubelet_argv, _http_healthz(s.kubelet_healthz_port)),
            # After the kubelet: it learns the node's address from the Node object.
            ("kube-proxy", configs.kube_proxy_argv, _http_healthz(s.kube_proxy_healthz_port)),
        )  # fmt: skip
        for name, argv, ready in plan:
            process = ManagedProcess(name, argv(binaries[name], s), s.logs / f"{name}.log")
            self.processes.append(process)
            launch(process, ready, s.ready_timeout_seconds, self.progress)

    def _wait_node_ready(self) -> None:
        self.progress(f"waiting for node {NODE_NAME} to be Ready")
        with self.apiserver.api_client() as api:
            core = k8s.CoreV1Api(api)

            def ready() -> bool:
                try:
                    return node_ready(core.read_node(NODE_NAME))
                except ApiException:
                    return False

            try:
                poll(ready, timeout=self.settings.ready_timeout_seconds, interval=0.5)
            except WaitTimeout:
                kubelet = next(p for p in self.processes if p.name == "kubelet")
                raise HarnessError(
                    f"node {NODE_NAME} did not become Ready within "
                    f"{self.settings.ready_timeout_seconds:g}s; kubelet log {kubelet.log_path}:\n"
                    + kubelet.log_tail(15)
                ) from None

    def _start_dns(self) -> None:
        """CoreDNS behind the kube-dns Service; returns once its pod is Ready."""
        started = time.monotonic()
        refused = apply_all(self.apiserver.dynamic(), dns.manifests(), dry_run=False)
        if refused:
            raise HarnessError(f"kube-apiserver refused the cluster DNS: {refused[0].line()}")
        with self.apiserver.api_client() as api:
            wait_running(k8s.CoreV1Api(api), dns.NAMESPACE, "", self.settings.ready_timeout_seconds,
                         selector="k8s-app=kube-dns")  # fmt: skip
        self.timings["dns"] = time.monotonic() - started
        self.progress(f"cluster DNS (CoreDNS) Ready in {self.timings['dns']:.1f} s")

    def _drain(self, timeout: float = 60) -> None:
        """Delete every pod and wait until containerd runs no task of them."""
        # A teardown goes on whatever the apiserver answers: the sweep is the safety net.
        with (
            contextlib.suppress(ApiException, urllib3.exceptions.HTTPError),
            self.apiserver.api_client() as api,
        ):
            core = k8s.CoreV1Api(api)
            pods: list[Any] = core.list_pod_for_all_namespaces().items
            for pod in pods:
                meta = pod.metadata
                core.delete_namespaced_pod(meta.name, meta.namespace, grace_period_seconds=0)
            poll(lambda: not self._tasks(), timeout=timeout, interval=0.5, on_timeout="return")

    def _tasks(self) -> list[str]:
        argv = ctr_argv(self.settings.containerd_socket, "tasks", "ls", "-q")
        listed = subprocess.run(argv, capture_output=True, text=True, check=False)
        return listed.stdout.split()

    def _kill_tasks(self) -> None:
        """Tasks kubelet did not stop (a failed start, a dead kubelet): killed through
        containerd, so each shim exits on its own."""
        if self.containerd is None or not self.containerd.running():
            return
        socket = self.settings.containerd_socket
        for task in self._tasks():
            for args in (("tasks", "kill", "-s", "SIGKILL", task), ("tasks", "delete", task)):
                subprocess.run(ctr_argv(socket, *args), capture_output=True, check=False)

    # -- clients --------------------------------------------------------------------------

    def api_client(self) -> k8s.ApiClient:
        return self.apiserver.api_client()

    @property
    def kubeconfig_path(self) -> Path:
        return self.settings.kube.run_dir / "kubeconfig"


def node_ready(node: Any) -> bool:
    """The node's Ready condition is True."""
    conditions: list[Any] = node.status.conditions or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


def _https_healthz(port: int) -> Callable[[], bool]:
    def ready() -> bool:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # a self-signed serving certificate of its own
        url = f"https://{HOST}:{port}/healthz"
        return httpx.get(url, verify=context, timeout=2, trust_env=False).status_code == 200

    return ready


def _make_bridge() -> None:
    """The pod bridge with the node's gateway address before any pod exists: the relay to
    the apiserver binds that address, and the Services' cluster IPs are routed onto the
    bridge (kube-proxy translates them; anything it does not stays on this machine).
    The CNI bridge plugin takes the bridge as it finds it. Removed with the bridge."""
    prefix = POD_SUBNET.split("/")[1]
    for argv in (
        ["ip", "link", "add", "name", BRIDGE, "type", "bridge"],
        ["ip", "addr", "add", f"{BRIDGE_GATEWAY}/{prefix}", "dev", BRIDGE],
        ["ip", "link", "set", BRIDGE, "up"],
        ["ip", "route", "add", SERVICE_CIDR, "dev", BRIDGE, "src", BRIDGE_GATEWAY],
    ):
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise HarnessError(f"{' '.join(argv)} failed: {done.stderr.strip()}")


def _http_healthz(port: int) -> Callable[[], bool]:
    def ready() -> bool:
        url = f"http://{HOST}:{port}/healthz"
        return httpx.get(url, timeout=2, trust_env=False).status_code == 200

    return ready
