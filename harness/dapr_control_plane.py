"""Dapr's sentry and sidecar injector, built from the dapr module, run on this machine as
the control plane of a real kube-apiserver (harness.kube_apiserver).

What a cluster gives a control-plane pod is made by hand, with real objects only:
- each one's identity: a Pod object made from its chart Deployment (no kubelet runs it)
  and service-account tokens bound to it through the TokenRequest API; sentry checks the
  one for sentry with a TokenReview and finds the Pod, as in a cluster;
- the trust anchors sentry generates and stores in the chart's `dapr-trust-bundle`;
- the paths the chart mounts them at (the token at /var/run/secrets/dapr.io/sentrytoken,
  the anchors at /var/run/secrets/dapr.io/tls): the injector gets a private /run
  (harness.private_mounts), so it reads them where it does in a cluster;
- the webhook: the chart's MutatingWebhookConfiguration is pointed at the local injector
  under its in-cluster name `dapr-sidecar-injector.dapr-system.svc`, which kube-apiserver
  resolves to 127.0.0.1 through its own hosts file (KubeApiserver(hosts=...)); the name
  is the one in the serving certificate sentry issues to the injector.

Both commands take their arguments and environment from the chart's Deployments, with only
ports and the sentry address changed. Each talks to the apiserver with its own service
account's token, so the chart's RBAC decides what it may do. They run as the suite's user
(the chart runs them as non-root; Dapr's own switch allows root here). They bind their health port
(and the injector its webhook port) on every interface: Dapr 1.18 ignores the
listen-address flags there.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from harness.env import env_int
from harness.errors import HarnessError
from harness.gobuild import ensure_command
from harness.kube_apiserver import HOST, KubeApiserver
from harness.kube_apply import DAPR_NAMESPACE
from harness.kube_builds import dapr_command
from harness.longrun import Progress, say
from harness.ports import ensure_ports_free, require_pinned_range
from harness.private_mounts import loopback_names, require_unshare, with_private_mounts
from harness.processes import ManagedProcess, stop_all
from harness.settings import DEFAULT_DAPR_VERSION
from harness.wait import WaitTimeout, poll

TRUST_DOMAIN = "cluster.local"
SENTRY_ID = f"spiffe://{TRUST_DOMAIN}/ns/{DAPR_NAMESPACE}/dapr-sentry"  # the token audience
INJECTOR_DNS_NAME = f"dapr-sidecar-injector.{DAPR_NAMESPACE}.svc"  # in sentry's certificate
WEBHOOK_NAME = "dapr-sidecar-injector"
TRUST_BUNDLE = "dapr-trust-bundle"
TOKEN_PATH = "/var/run/secrets/dapr.io/sentrytoken/token"  # pkg/security/token
# Where controller-runtime looks for its namespace (the operator's leader election).
NAMESPACE_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
SYSTEM_CONFIGURATION = "daprsystem"
TRUST_ANCHORS_PATH = "/var/run/secrets/dapr.io/tls/ca.crt"  # the operator's default
# The chart runs both as non-root; here they run as whoever runs the suite (root on CI).
ROOT_ALLOWED = {"DAPR_UNSAFE_SKIP_CONTAINER_UID_GID_CHECK": "true"}
_say = say("dapr")


@dataclass(frozen=True)
class ControlPlaneSettings:
    """Ports of sentry and the injector; moved by HARNESS_PORT_OFFSET like the others."""

    sentry_port: int = 6450
    sentry_healthz_port: int = 6451
    injector_port: int = 6452
    injector_healthz_port: int = 6453
    operator_port: int = 6454
    operator_healthz_port: int = 6455
    operator_webhook_port: int = 6456  # bound only with conversion webhooks, which stay off
    ready_timeout_seconds: float = 60.0

    @classmethod
    def from_env(cls, env: dict[str, str]) -> ControlPlaneSettings:
        offset = env_int(env, "HARNESS_PORT_OFFSET", 0)
        base = cls()
        settings = cls(
            sentry_port=base.sentry_port + offset,
            sentry_healthz_port=base.sentry_healthz_port + offset,
            injector_port=base.injector_port + offset,
            injector_healthz_port=base.injector_healthz_port + offset,
            operator_port=base.operator_port + offset,
            operator_healthz_port=base.operator_healthz_port + offset,
            operator_webhook_port=base.operator_webhook_port + offset,
        )
        require_pinned_range(settings.ports())
        return settings

    def ports(self) -> dict[str, int]:
        return {
            "sentry": self.sentry_port,
            "sentry healthz": self.sentry_healthz_port,
            "sidecar injector": self.injector_port,
            "sidecar injector healthz": self.injector_healthz_port,
            "operator": self.operator_port,
            "operator healthz": self.operator_healthz_port,
            "operator webhook": self.operator_webhook_port,
        }

    def webhook_url(self) -> str:
        return f"https://{INJECTOR_DNS_NAME}:{self.injector_port}/mutate"


# -- the chart's containers, made local -----------------------------------------------------


def chart_container(chart: list[dict[str, Any]], deployment: str) -> dict[str, Any]:
    for doc in chart:
        if doc.get("kind") == "Deployment" and doc["metadata"]["name"] == deployment:
            container: dict[str, Any] = doc["spec"]["template"]["spec"]["containers"][0]
            return container
    raise HarnessError(f"the Dapr chart has no Deployment {deployment}")


def chart_pod_template(chart: list[dict[str, Any]], deployment: str) -> dict[str, Any]:
    for doc in chart:
        if doc.get("kind") == "Deployment" and doc["metadata"]["name"] == deployment:
            template: dict[str, Any] = doc["spec"]["template"]
            return template
    raise HarnessError(f"the Dapr chart has no Deployment {deployment}")


def parse_flags(args: list[str]) -> list[tuple[str, str | None]]:
    """`--flag value`, `--flag=value` and bare `--flag` as (flag, value or None)."""
    flags: list[tuple[str, str | None]] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("-"):
            raise HarnessError(f"unexpected argument {arg!r} in {args}")
        if "=" in arg:
            name, value = arg.split("=", 1)
            flags.append((name, value))
        elif i + 1 < len(args) and not args[i + 1].startswith("-"):
            flags.append((arg, args[i + 1]))
            i += 1
        else:
            flags.append((arg, None))
        i += 1
    return flags


def local_args(chart_args: list[str], overrides: dict[str, str]) -> list[str]:
    """The chart's arguments with `overrides` (flag -> value) replacing or added."""
    flags = dict(parse_flags(chart_args))
    flags.update(overrides)
    return [f"{name}={value}" if value is not None else name for name, value in flags.items()]


def local_env(
    chart_env: list[dict[str, Any]], namespace: str, overrides: dict[str, str]
) -> dict[str, str]:
    """The chart's environment: plain values as written, the downward API's namespace
    filled in, then `overrides`. Anything else the chart would fill in is an error."""
    env: dict[str, str] = {}
    for item in chart_env:
        if "value" in item:
            env[item["name"]] = str(item["value"])
        elif item.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.namespace":
            env[item["name"]] = namespace
        elif item["name"] not in overrides:
            raise HarnessError(f"cannot fill in the chart's {item['name']} outside a cluster")
    env.update(overrides)
    return env


@dataclass(frozen=True)
class Identity:
    """A control-plane process' service-account tokens: for sentry, and as a kubeconfig."""

    sentry_token: Path
    kubeconfig: Path


# -- the control plane ----------------------------------------------------------------------


class DaprControlPlane:
    """Sentry and the sidecar injector against `server`; the chart must be applied.
    `start_operator()` adds the operator.

    A context manager that always stops them all; their identity Pods stay in the
    apiserver (which dies with the test).
    """

    def __init__(
        self,
        server: KubeApiserver,
        chart: list[dict[str, Any]],
        settings: ControlPlaneSettings,
        progress: Progress = _say,
        version: str = DEFAULT_DAPR_VERSION,
    ) -> None:
        self.server = server
        self.chart = chart
        self.settings = settings
        self.progress = progress
        self.version = version
        self.run_dir = server.settings.run_dir / "dapr"
        self.processes: list[ManagedProcess] = []
        self.build_seconds: dict[str, float] = {}
        self.anchors = self.run_dir / "ca.crt"
        self.names: dict[str, Path] = {}

    def __enter__(self) -> DaprControlPlane:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        stop_all(self.processes)

    def start(self) -> None:
        binaries = {}
        for name in ("sentry", "injector"):
            binaries[name], self.build_seconds[name] = ensure_command(
                dapr_command(name, self.version), self.progress
            )
        require_unshare()
        ensure_ports_free(self.settings.ports(), HOST)
        (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        # Sentry looks up kubernetes.default.svc to learn the cluster domain: asked of
        # 127.0.0.1, never of the machine's DNS server (it falls back to cluster.local).
        self.names = loopback_names(self.run_dir / "names")
        core = k8s.CoreV1Api(self.server.api_client())
        try:
            # Before any Pod is created: the chart's service reference would send the
            # apiserver to a cluster IP that leads nowhere on this machine.
            self.point_webhook_here(ca_bundle=None)
            sentry = self._sentry(binaries["sentry"], self.identity(core, "dapr-sentry"))
            self._launch(sentry, self.settings.sentry_healthz_port)
            anchors = self.trust_anchors(core)
            self.point_webhook_here(ca_bundle=anchors)
            identity = self.identity(core, "dapr-sidecar-injector")
            injector = self._injector(binaries["injector"], anchors, identity)
            self._launch(injector, self.settings.injector_healthz_port)
        except BaseException:
            self.stop()
            raise

    def start_operator(self) -> None:
        """The operator, with sentry running: it makes the `<app-id>-dapr` Services."""
        binary, self.build_seconds["operator"] = ensure_command(
            dapr_command("operator", self.version), self.progress
        )
        core = k8s.CoreV1Api(self.server.api_client())
        try:
            self.point_sentry_address_here()
            operator = self._operator(binary, self.identity(core, "dapr-operator"))
            self._launch(operator, self.settings.operator_healthz_port)
        except BaseException:
            self.stop()
            raise

    # -- sentry -----------------------------------------------------------------------------

    def _sentry(self, binary: Path, identity: Identity) -> ManagedProcess:
        s = self.settings
        container = chart_container(self.chart, "dapr-sentry")
        credentials = self.run_dir / "sentry-credentials"  # sentry keeps its CA in the Secret
        credentials.mkdir(parents=True, exist_ok=True)
        args = local_args(
            container.get("args", []),
            {
                "--kubeconfig": str(identity.kubeconfig),
                "--port": str(s.sentry_port),
                "--listen-address": HOST,
                "--healthz-port": str(s.sentry_healthz_port),
                "--healthz-listen-address": HOST,
                "--enable-metrics": "false",
                "--issuer-credentials": str(credentials),
            },
        )
        env = local_env(container.get("env", []), DAPR_NAMESPACE, ROOT_ALLOWED)
        argv = with_private_mounts([str(binary), *args], self.names)
        return ManagedProcess("dapr-sentry", argv, self.run_dir / "logs" / "sentry.log", env=env)

    def trust_anchors(self, core: k8s.CoreV1Api, timeout: float = 30) -> Path:
        """The root certificate sentry stored in the chart's trust-bundle ConfigMap."""

        def stored() -> str:
            data = core.read_namespaced_config_map(TRUST_BUNDLE, DAPR_NAMESPACE).data or {}
            return str(data.get("ca.crt") or "")

        pem = poll(stored, timeout=timeout, interval=0.2, what="sentry's trust anchors")
        self.anchors.write_text(pem)
        return self.anchors

    def identity(self, core: k8s.CoreV1Api, deployment: str) -> Identity:
        """What a pod of the chart's `deployment` gets in a cluster: its service account's
        tokens, bound to a Pod object made from the Deployment's template. One token is
        for sentry (which finds that Pod), one for the apiserver (so the chart's RBAC for
        the account decides what the process may do)."""
        template = chart_pod_template(self.chart, deployment)
        name = f"{deployment}-local-{secrets.token_hex(3)}"
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {**template["metadata"], "name": name, "namespace": DAPR_NAMESPACE},
            "spec": template["spec"],
        }
        pods = self.server.dynamic().resources.get(api_version="v1", kind="Pod")
        try:
            uid = str(pods.create(body=pod, namespace=DAPR_NAMESPACE).metadata.uid)
        except ApiException as exc:
            raise HarnessError(f"the Pod object of {deployment} was refused: {exc.body}") from exc
        account = template["spec"]["serviceAccountName"]
        bound = k8s.V1BoundObjectReference(api_version="v1", kind="Pod", name=name, uid=uid)

        def token(audiences: list[str] | None) -> str:
            spec = k8s.V1TokenRequestSpec(
                audiences=audiences, expiration_seconds=3600, bound_object_ref=bound
            )
            request = k8s.AuthenticationV1TokenRequest(spec=spec)
            answer = core.create_namespaced_service_account_token(account, DAPR_NAMESPACE, request)
            if answer.status is None or not answer.status.token:
                raise HarnessError(f"the TokenRequest for {account} gave no token")
            return str(answer.status.token)

        directory = self.run_dir / deployment
        directory.mkdir(parents=True, exist_ok=True)
        found = Identity(directory / "sentry-token", directory / "kubeconfig")
        found.sentry_token.write_text(token([SENTRY_ID]))
        config = self.server.kubeconfig()
        config["users"] = [{"name": "suite-admin", "user": {"token": token(None)}}]
        found.kubeconfig.write_text(yaml.safe_dump(config))
        for path in (found.sentry_token, found.kubeconfig):
            path.chmod(0o600)
        return found

    # -- the injector -----------------------------------------------------------------------

    def _injector(self, binary: Path, anchors: Path, identity: Identity) -> ManagedProcess:
        s = self.settings
        container = chart_container(self.chart, "dapr-sidecar-injector")
        args = local_args(
            container.get("args", []),
            {
                "--kubeconfig": str(identity.kubeconfig),
                "--port": str(s.injector_port),
                "--listen-address": HOST,
                "--healthz-port": str(s.injector_healthz_port),
                "--healthz-listen-address": HOST,
                "--enable-metrics": "false",
            },
        )
        env = local_env(
            container.get("env", []),
            DAPR_NAMESPACE,
            {
                "DAPR_SENTRY_ADDRESS": f"{HOST}:{s.sentry_port}",
                **ROOT_ALLOWED,
            },
        )
        # The token and the trust anchors where the chart mounts them: the injector reads
        # the token only from there, and gives injected pods the token volume only when
        # it finds it there, as in a cluster.
        argv = with_private_mounts(
            [str(binary), *args],
            self.names,
            {TOKEN_PATH: identity.sentry_token, env["DAPR_TRUST_ANCHORS_FILE"]: anchors},
        )
        return ManagedProcess(
            "dapr-injector", argv, self.run_dir / "logs" / "injector.log", env=env
        )

    def point_webhook_here(self, ca_bundle: Path | None) -> None:
        """The chart's webhook, sent to the local injector under its in-cluster name."""
        client_config: dict[str, Any] = {"url": self.settings.webhook_url()}
        if ca_bundle is not None:
            client_config["caBundle"] = base64.b64encode(ca_bundle.read_bytes()).decode()
        patch = [{"op": "replace", "path": "/webhooks/0/clientConfig", "value": client_config}]
        api = k8s.AdmissionregistrationV1Api(self.server.api_client())
        try:
            api.patch_mutating_webhook_configuration(WEBHOOK_NAME, patch)
        except ApiException as exc:
            raise HarnessError(f"pointing the webhook at the injector failed: {exc.body}") from exc

    # -- the operator -----------------------------------------------------------------------

    def point_sentry_address_here(self) -> None:
        """The chart's `daprsystem` Configuration names sentry by its in-cluster address;
        the operator reads it there, so it is set to the local sentry."""
        patch = {"spec": {"mtls": {"sentryAddress": f"{HOST}:{self.settings.sentry_port}"}}}
        api = k8s.CustomObjectsApi(self.server.api_client())
        api.patch_namespaced_custom_object(
            "dapr.io", "v1alpha1", DAPR_NAMESPACE, "configurations", SYSTEM_CONFIGURATION, patch
        )

    def _operator(self, binary: Path, identity: Identity) -> ManagedProcess:
        s = self.settings
        container = chart_container(self.chart, "dapr-operator")
        args = local_args(
            container.get("args", []),
            {
                "--port": str(s.operator_port),
                "--listen-address": HOST,
                "--healthz-port": str(s.operator_healthz_port),
                "--healthz-listen-address": HOST,
                "--webhook-server-port": str(s.operator_webhook_port),
                "--webhook-server-listen-address": HOST,
                "--enable-metrics": "false",
            },
        )
        env = local_env(
            container.get("env", []),
            DAPR_NAMESPACE,
            {
                "KUBECONFIG": str(identity.kubeconfig),
                # Dapr's switch for running the operator outside a cluster: no conversion
                # webhook for Subscriptions, which the apiserver would call at a cluster IP.
                "ENABLE_WEBHOOKS": "false",
                **ROOT_ALLOWED,
            },
        )
        namespace = self.run_dir / "dapr-operator" / "namespace"
        namespace.write_text(DAPR_NAMESPACE)
        chart_flags = dict(parse_flags(container.get("args", [])))
        anchors_path = chart_flags.get("--trust-anchors-file") or TRUST_ANCHORS_PATH
        argv = with_private_mounts(
            [str(binary), *args],
            self.names,
            {
                TOKEN_PATH: identity.sentry_token,
                anchors_path: self.anchors,
                NAMESPACE_PATH: namespace,
            },
        )
        return ManagedProcess(
            "dapr-operator", argv, self.run_dir / "logs" / "operator.log", env=env
        )

    # -- processes --------------------------------------------------------------------------

    def _launch(self, process: ManagedProcess, healthz_port: int) -> None:
        self.progress(f"starting {process.name}")
        process.start()
        self.processes.append(process)
        url = f"http://{HOST}:{healthz_port}/healthz"

        def up() -> bool:
            code = process.exit_code()
            if code is not None:
                self._fail(process, f"exited with code {code}")
            return httpx.get(url, timeout=1, trust_env=False).status_code == 200

        timeout = self.settings.ready_timeout_seconds
        try:
            poll(up, timeout=timeout, interval=0.2, retry_on=(httpx.HTTPError,))
        except WaitTimeout:
            self._fail(process, f"was not healthy within {timeout:g}s")
        self.progress(f"{process.name} ready")

    def _fail(self, process: ManagedProcess, what: str) -> None:
        tail = process.log_tail(15).rstrip() or "(empty log)"
        raise HarnessError(f"{process.name} {what}; log {process.log_path}:\n{tail}")

    def log_tails(self, lines: int = 20) -> dict[str, str]:
        return {p.name: p.log_tail(lines) for p in self.processes}
