"""A real kube-apiserver on etcd, on loopback, for checks the k3d path cannot get offline.

etcd comes from Debian (etcd-server); kube-apiserver is built from the Go module proxy at
the Kubernetes release k3d/cluster.yaml pins (harness.kube_builds). Both run like the local
stack's components: pinned ports below 32768 moved by HARNESS_PORT_OFFSET and checked
free, one log file each, their own process groups, and both stopped (also on failure
and Ctrl-C) when the context ends. Alone, no controller manager or scheduler runs: objects
are stored and validated, never reconciled, which is what the checks need. Given a
`node`, it serves a single-node cluster instead (harness.cluster): tokens for the kubelet,
controller manager and scheduler, the ServiceAccount and NodeRestriction admission plugins,
the Node authorizer, and a client certificate to reach the kubelet by the node's name.
"""

from __future__ import annotations

import os
import secrets
import shutil
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from kubernetes import client as k8s
from kubernetes.dynamic import DynamicClient

from harness.arguments import run_command
from harness.env import env_int
from harness.errors import HarnessError
from harness.gobuild import ensure_command
from harness.kube_builds import kubernetes_command, kubernetes_release
from harness.longrun import Progress, say
from harness.ports import ensure_ports_free, require_pinned_range
from harness.private_mounts import loopback_names, require_unshare, with_private_mounts
from harness.processes import ManagedProcess, stop_all
from harness.settings import REPO_ROOT
from harness.tls import KeyPair, issue, make_ca, private_key
from harness.wait import WaitTimeout, poll

HOST = "127.0.0.1"
SERVICE_CIDR = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"  # the `kubernetes` Service: the first of SERVICE_CIDR
# The names pods know the apiserver by (in-cluster clients dial the Service's IP).
IN_CLUSTER_NAMES = ["kubernetes", "kubernetes.default", "kubernetes.default.svc",
                    "kubernetes.default.svc.cluster.local"]  # fmt: skip
_say = say("kube")


@dataclass(frozen=True)
class KubeSettings:
    """Ports and run directory of the apiserver and its etcd."""

    etcd_port: int = 2379
    etcd_peer_port: int = 2380
    apiserver_port: int = 6443
    run_dir: Path = REPO_ROOT / ".run" / "kube"
    ready_timeout_seconds: float = 90.0

    @classmethod
    def from_env(cls, env: dict[str, str]) -> KubeSettings:
        offset = env_int(env, "HARNESS_PORT_OFFSET", 0)
        base = cls()
        settings = cls(
            etcd_port=base.etcd_port + offset,
            etcd_peer_port=base.etcd_peer_port + offset,
            apiserver_port=base.apiserver_port + offset,
            run_dir=Path(env.get("HARNESS_KUBE_RUN_DIR") or base.run_dir),
        )
        require_pinned_range(settings.ports())
        return settings

    def ports(self) -> dict[str, int]:
        return {
            "etcd": self.etcd_port,
            "etcd peer": self.etcd_peer_port,
            "kube-apiserver": self.apiserver_port,
        }


def etcd_argv(binary: str, s: KubeSettings) -> list[str]:
    client, peer = f"http://{HOST}:{s.etcd_port}", f"http://{HOST}:{s.etcd_peer_port}"
    return [
        binary, "--name", "suite", "--data-dir", str(s.run_dir / "etcd-data"),
        "--listen-client-urls", client, "--advertise-client-urls", client,
        "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
        "--initial-cluster", f"suite={peer}", "--initial-cluster-state", "new",
    ]  # fmt: skip


def apiserver_argv(
    binary: Path, s: KubeSettings, serving: KeyPair, sa_key: Path, node: str | None = None,
    advertise: str = HOST,
) -> list[str]:  # fmt: skip
    return [
        str(binary),
        f"--etcd-servers=http://{HOST}:{s.etcd_port}",
        f"--bind-address={HOST}",
        # Else it advertises the machine's own address; a node's pods reach it at `advertise`.
        f"--advertise-address={advertise}",
        f"--secure-port={s.apiserver_port}",
        f"--tls-cert-file={serving.cert}",
        f"--tls-private-key-file={serving.key}",
        f"--token-auth-file={s.run_dir / 'tokens.csv'}",
        f"--service-account-key-file={sa_key}",
        f"--service-account-signing-key-file={sa_key}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        *(node_args(s) if node else _no_node_args()),
        "--enable-priority-and-fairness=false",
        "--profiling=false",
        "--v=1",
    ]


def _no_node_args() -> list[str]:
    # No controller manager creates `default` service accounts in namespaces.
    return ["--authorization-mode=RBAC", "--disable-admission-plugins=ServiceAccount"]


KUBELET_CLIENT = "kube-apiserver-kubelet-client"  # its user name on the kubelet's API


def node_args(s: KubeSettings) -> list[str]:
    """What a cluster with a kubelet needs: the kubelet is reached by the node's name
    (resolved to loopback through `hosts`: a kubelet refuses a loopback node IP)."""
    certs = s.run_dir / "certs"
    return [
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        f"--kubelet-client-certificate={certs / KUBELET_CLIENT}.crt",
        f"--kubelet-client-key={certs / KUBELET_CLIENT}.key",
        f"--kubelet-certificate-authority={certs / 'ca.crt'}",
        "--kubelet-preferred-address-types=Hostname",
    ]


def node_identities(node: str) -> dict[str, str]:
    """User -> groups of each component that talks to the apiserver with a token."""
    return {
        f"system:node:{node}": "system:nodes",
        "system:kube-controller-manager": "",
        "system:kube-scheduler": "",
        "system:kube-proxy": "",  # bound to system:node-proxier by the bootstrap RBAC
    }


def launch(
    process: ManagedProcess, ready: Callable[[], bool], timeout: float, progress: Progress
) -> None:
    """Start `process` and wait until `ready()`; its exit or a timeout raises one error
    with the end of its log. The caller keeps `process` to stop it."""
    progress(f"starting {process.name}")
    process.start()

    def up() -> bool:
        code = process.exit_code()
        if code is not None:
            _fail(process, f"exited with code {code}")
        return ready()

    try:
        poll(up, timeout=timeout, interval=0.2, retry_on=(httpx.HTTPError,))
    except WaitTimeout:
        _fail(process, f"did not get ready within {timeout:g}s")
    progress(f"{process.name} ready")


def _fail(process: ManagedProcess, what: str) -> None:
    tail = process.log_tail(15).rstrip() or "(empty log)"
    raise HarnessError(f"{process.name} {what}; log {process.log_path}:\n{tail}")


class KubeApiserver:
    """etcd plus kube-apiserver; a context manager that always stops both.

    `hosts` (name -> loopback address) gives kube-apiserver names of its own, for a
    webhook served on this machine under its in-cluster name (needs root: a mount
    namespace). `node` names the kubelet's node when one runs (see `node_args`);
    `advertise` is the address its pods reach it at (the `kubernetes` Service's endpoint).
    """

    def __init__(
        self, settings: KubeSettings, progress: Progress = _say, extra_args: tuple[str, ...] = (),
        hosts: dict[str, str] | None = None, node: str | None = None, advertise: str = HOST,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.advertise = advertise
        self.extra_args = extra_args
        self.node = node
        self.hosts = dict(hosts or {})
        if node:
            self.hosts[node] = HOST
        self.progress = progress
        self.token = secrets.token_hex(16)
        # One token per component of the node (user -> token); none without a node.
        identities = node_identities(node) if node else {}
        self.tokens = {user: secrets.token_hex(16) for user in identities}
        self.processes: list[ManagedProcess] = []
        self.release = ""
        self.ca: KeyPair | None = None

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.settings.apiserver_port}"

    def start(self) -> None:
        etcd = shutil.which("etcd")
        if not etcd:
            raise HarnessError(
                "etcd is missing: `bash .ci/run` installs it (apt-get install -y etcd-server)"
            )
        self.release = kubernetes_release()
        binary, _ = ensure_command(
            kubernetes_command("kube-apiserver", self.release), self.progress
        )
        ensure_ports_free(self.settings.ports(), HOST)
        serving, sa_key = self._prepare_run_dir()
        s = self.settings
        etcd_process = ManagedProcess("etcd", etcd_argv(etcd, s), s.run_dir / "logs" / "etcd.log")
        argv = [
            *apiserver_argv(binary, s, serving, sa_key, self.node, self.advertise),
            *self.extra_args,
        ]
        if self.hosts:
            argv = self._with_hosts(argv)
        log = s.run_dir / "logs" / "kube-apiserver.log"
        apiserver = ManagedProcess("kube-apiserver", argv, log)
        try:
            self._launch(etcd_process, self._etcd_ready)
            self._launch(apiserver, self._apiserver_ready)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        stop_all(self.processes)

    def __enter__(self) -> KubeApiserver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _with_hosts(self, argv: list[str]) -> list[str]:
        """In its own /etc/hosts the webhook's name is loopback; a name missing there is
        asked of 127.0.0.1, never of the machine's DNS server."""
        require_unshare()
        return with_private_mounts(argv, loopback_names(self.settings.run_dir, self.hosts))

    def _prepare_run_dir(self) -> tuple[KeyPair, Path]:
        run = self.settings.run_dir
        if run.exists():
            shutil.rmtree(run)
        (run / "logs").mkdir(parents=True)
        certs = run / "certs"
        self.ca = make_ca(certs)
        names, addresses = ["localhost"], [HOST]
        if self.node:  # its pods dial the Service's IP, or the advertised address
            names += IN_CLUSTER_NAMES
            addresses += sorted({KUBERNETES_SERVICE_IP, self.advertise} - {HOST})
        serving = issue(self.ca, certs, "kube-apiserver", names, addresses)
        sa_key = private_key(certs / "service-accounts.key")
        if self.node:
            issue(self.ca, certs, KUBELET_CLIENT, [KUBELET_CLIENT], [])  # a client: CN counts
        (run / "tokens.csv").write_text(self._tokens_csv())
        (run / "kubeconfig").write_text(yaml.safe_dump(self.kubeconfig()))
        return serving, sa_key

    def _tokens_csv(self) -> str:
        lines = [f'{self.token},suite-admin,1,"system:masters"']
        groups = node_identities(self.node or "")
        for uid, (user, token) in enumerate(self.tokens.items(), start=2):
            group_column = f',"{groups[user]}"' if groups[user] else ""
            lines.append(f"{token},{user},{uid}{group_column}")
        return "\n".join(lines) + "\n"

    def _launch(self, process: ManagedProcess, ready: Callable[[], bool]) -> None:
        self.processes.append(process)
        launch(process, ready, self.settings.ready_timeout_seconds, self.progress)

    def _etcd_ready(self) -> bool:
        url = f"http://{HOST}:{self.settings.etcd_port}/health"
        health: dict[str, Any] = httpx.get(url, timeout=1, trust_env=False).json()
        return health.get("health") == "true"

    def _apiserver_ready(self) -> bool:
        response = httpx.get(
            f"{self.url}/readyz",
            headers={"Authorization": f"Bearer {self.token}"},
            verify=ssl.create_default_context(cafile=str(self.ca.cert)) if self.ca else True,
            timeout=2,
            trust_env=False,
        )
        return response.status_code == 200

    # -- clients --------------------------------------------------------------------------

    def kubeconfig(self, user: str = "suite-admin") -> dict[str, object]:
        """The admin's kubeconfig, or that of a component named in `node_identities`."""
        assert self.ca is not None
        token = self.token if user == "suite-admin" else self.tokens[user]
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "suite", "cluster": {
                "server": self.url, "certificate-authority": str(self.ca.cert)}}],
            "users": [{"name": "suite-admin", "user": {"token": token}}],
            "contexts": [{"name": "suite", "context": {"cluster": "suite", "user": "suite-admin"}}],
            "current-context": "suite",
        }  # fmt: skip

    def api_client(self) -> k8s.ApiClient:
        assert self.ca is not None
        config = k8s.Configuration()
        config.host = self.url
        config.ssl_ca_cert = str(self.ca.cert)
        config.api_key = {"authorization": self.token}
        config.api_key_prefix = {"authorization": "Bearer"}
        config.proxy = None
        return k8s.ApiClient(config)

    def dynamic(self) -> DynamicClient:
        return DynamicClient(self.api_client())

    def log_tails(self, lines: int = 20) -> dict[str, str]:
        return {p.name: p.log_tail(lines) for p in self.processes}


def main(argv: list[str] | None = None) -> int:
    """`python -m harness.kube_apiserver`: build if needed, start, report, stop."""

    def check() -> str:
        with KubeApiserver(KubeSettings.from_env(dict(os.environ))) as server:
            version = k8s.VersionApi(server.api_client()).get_code()
            return f"kube-apiserver {version.git_version} on {server.url} (etcd: Debian); ok"

    return run_command(check, "python -m harness.kube_apiserver", main.__doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
