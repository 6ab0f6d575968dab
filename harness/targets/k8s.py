"""The Kubernetes target: the k3d cluster that k3d/up.sh built, reached through its host ports.

The e2e and load tests use it exactly like the local target (the `Target` protocol of
`harness.targets.base`) and never ask which one they have. It does not create the cluster:
`start()` checks that the cluster answers and that Dapr and both services are ready, and says
"run k3d/up.sh" when not. The kubernetes package (extra `k3d`) is imported only when a
method needs the Kubernetes API, so importing this module costs nothing.
"""

from __future__ import annotations

import base64
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.env import env_pairs, env_seconds, env_str
from harness.errors import HarnessError
from harness.loopback import require_loopback
from harness.settings import REPO_ROOT
from harness.targets.base import Lifecycle
from harness.targets.port_forward import PortForward, close_websocket, pod_port_forward
from harness.tokens import StackTokens
from harness.wait import poll

CLUSTER_CONFIG = REPO_ROOT / "k3d" / "cluster.yaml"
DEFAULT_CONTEXT = "k3d-dapr-suite"
DEFAULT_NAMESPACE = "dapr-suite"
DAPR_NAMESPACE = "dapr-system"
APP_IDS = ("service-1", "service-2")
SIDECAR = "daprd"
DAPRD_HTTP_PORT = 3500  # daprd's HTTP API in an injected pod (Dapr's default)
REDIS_SELECTOR = "app=redis"  # k3d/manifests/10-redis.yaml
UP_HINT = "run k3d/up.sh"
# Secrets k3d/up.sh creates, each with the key `token` (what Dapr's annotations read).
TOKEN_SECRETS = {"dapr_api": "dapr-api-token", "app_api": "app-api-token",
                 "suite_api": "suite-api-token"}  # fmt: skip

# NodePorts of k3d/manifests and k3d/values; the host side is read from cluster.yaml.
NODE_PORTS = {
    "service-1": 30060,
    "service-2": 30070,
    "daprd service-1": 30091,
    "daprd service-2": 30092,
    "prometheus": 30090,
    "grafana": 30300,
    "jaeger": 30686,
}
# Used when cluster.yaml cannot be read; the offline checks keep both in step.
FALLBACK_HOST_PORTS = {
    30060: 16060,
    30070: 17070,
    30091: 19091,
    30092: 19092,
    30090: 19090,
    30300: 13000,
    30686: 16686,
}


class K3dTargetError(HarnessError):
    """The cluster cannot be used; the message is one line and says what to do."""


def host_ports(cluster_config: Path = CLUSTER_CONFIG) -> dict[int, str]:
    """NodePort -> 'host:port' from the port mappings of k3d's cluster config."""
    ports = {node: f"127.0.0.1:{host}" for node, host in FALLBACK_HOST_PORTS.items()}
    try:
        import yaml
    except ImportError:
        return ports
    try:
        with open(cluster_config, encoding="utf-8") as handle:
            config = yaml.safe_load(handle) or {}
        for mapping in config.get("ports", []):
            host, host_port, node_port = _split_port_spec(str(mapping.get("port", "")))
            ports[node_port] = f"{host}:{host_port}"
    except (OSError, ValueError, AttributeError, TypeError, yaml.YAMLError):
        pass  # the defaults above are those of the committed cluster.yaml
    return ports


def _split_port_spec(spec: str) -> tuple[str, int, int]:
    """'127.0.0.1:16060:30060/tcp' -> ('127.0.0.1', 16060, 30060)."""
    parts = spec.split("/")[0].split(":")
    if len(parts) == 3:
        return parts[0], int(parts[1]), int(parts[2])
    if len(parts) == 2:
        return "127.0.0.1", int(parts[0]), int(parts[1])
    raise ValueError(f"port mapping {spec!r} is not [HOST:]HOSTPORT:NODEPORT")


@dataclass(frozen=True)
class KubeAccess:
    """Which cluster: KUBECONFIG (else kubectl's default), K3D_CONTEXT and K3D_NAMESPACE."""

    context: str = DEFAULT_CONTEXT
    namespace: str = DEFAULT_NAMESPACE
    kubeconfig: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KubeAccess:
        return cls(
            context=env_str(env, "K3D_CONTEXT", DEFAULT_CONTEXT),
            namespace=env_str(env, "K3D_NAMESPACE", DEFAULT_NAMESPACE),
            kubeconfig=env_str(env, "KUBECONFIG") or None,
        )


@dataclass(frozen=True)
class K3dSettings:
    """Where the cluster is; every field defaults from cluster.yaml or the environment."""

    access: KubeAccess = field(default_factory=KubeAccess)
    service1_url: str = ""
    service2_url: str = ""
    prometheus_url: str = ""
    grafana_url: str = ""
    jaeger_url: str = ""
    daprd_metrics_urls: Mapping[str, str] = field(default_factory=dict)
    # None: read from the service-1 Deployment when the target starts.
    t2_delay_seconds: float | None = None
    ready_timeout_seconds: float = 60.0
    request_timeout_seconds: float = 5.0

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, cluster_config: Path = CLUSTER_CONFIG
    ) -> K3dSettings:
        env = os.environ if env is None else env
        ports = host_ports(cluster_config)

        def url(name: str, variable: str | None = None) -> str:
            override = env_str(env, variable) if variable else ""
            if override:
                return require_loopback(override, variable or name)
            return require_loopback(f"http://{ports[NODE_PORTS[name]]}", f"{name} port mapping")

        metrics = {app: f"{url(f'daprd {app}')}/metrics" for app in APP_IDS}
        extra = env_pairs(env, "K3D_DAPRD_METRICS_URLS")
        metrics.update(
            {app: require_loopback(u, "K3D_DAPRD_METRICS_URLS") for app, u in extra.items()}
        )
        return cls(
            access=KubeAccess.from_env(env),
            service1_url=url("service-1", "K3D_SERVICE1_URL"),
            service2_url=url("service-2", "K3D_SERVICE2_URL"),
            prometheus_url=url("prometheus", "K3D_PROMETHEUS_URL"),
            grafana_url=url("grafana", "K3D_GRAFANA_URL"),
            jaeger_url=url("jaeger", "K3D_JAEGER_URL"),
            daprd_metrics_urls=metrics,
            t2_delay_seconds=env_seconds(env, "T2_DELAY_SECONDS", None),
            ready_timeout_seconds=env_seconds(env, "K3D_READY_TIMEOUT", 60.0),
        )


def _wait_until(
    condition: Callable[[], str | None], timeout: float, interval: float = 1.0
) -> str | None:
    """Poll until condition() returns None (ready); return its last complaint on timeout."""
    return poll(
        condition,
        lambda complaint: complaint is None,
        timeout=timeout,
        interval=interval,
        what="k3d cluster ready",
        on_timeout="return",
    )


# No proxies: the URLs are on loopback, and an http_proxy variable must not reroute them.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _http_status(url: str, timeout: float) -> int | str:
    try:
        with _DIRECT.open(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code
    except (urllib.error.URLError, OSError) as err:
        return str(getattr(err, "reason", err))


class K3dTarget(Lifecycle):
    """A running k3d cluster of the suite, as the e2e and load tests see a target."""

    name = "k3d"

    def __init__(self, settings: K3dSettings | None = None) -> None:
        self.settings = settings or K3dSettings.from_env()
        self.service1_url: str = self.settings.service1_url
        self.service2_url: str = self.settings.service2_url
        self.prometheus_url: str = self.settings.prometheus_url
        self.grafana_url: str = self.settings.grafana_url
        self.jaeger_url: str = self.settings.jaeger_url
        self.daprd_metrics_urls: dict[str, str] = dict(self.settings.daprd_metrics_urls)
        # daprd's HTTP API stays in the pod: reached through a port-forward once started
        self.daprd_http_urls: dict[str, str] = {}
        self._forwards: list[PortForward] = []
        self._open_forward = pod_port_forward  # unit tests relay to a local server instead
        self.tokens = StackTokens()
        self.t2_delay_seconds: float = (
            10.0 if self.settings.t2_delay_seconds is None else self.settings.t2_delay_seconds
        )
        self.pubsub_type = "pubsub.redis"  # k3d/manifests/22-dapr-components.yaml
        self.namespace = self.settings.access.namespace
        self.context = self.settings.access.context
        self._api: Any = None

    # --- life cycle ---

    def start(self) -> None:
        """Check the cluster answers and is ready; raise K3dTargetError (one line) if not."""
        try:
            core, apps = self._clients()
            self._check_reachable(core)
            complaint = _wait_until(
                lambda: self._deployments_complaint(core, apps), self.settings.ready_timeout_seconds
            )
            if complaint:
                raise K3dTargetError(
                    f"k3d cluster {self.context!r} is not ready: {complaint}; {UP_HINT}"
                )
            if self.settings.t2_delay_seconds is None:
                self.t2_delay_seconds = self._deployed_t2_delay(apps)
            self.tokens = self._deployed_tokens(core)
            self._forward_daprd_http(core)
            complaint = _wait_until(self._endpoints_complaint, self.settings.ready_timeout_seconds)
            if complaint:
                raise K3dTargetError(
                    f"k3d cluster {self.context!r} runs but {complaint}; "
                    "check the port mappings in k3d/cluster.yaml or the K3D_*_URL variables"
                )
        except BaseException:
            self.stop()
            raise

    def _deployed_tokens(self, core: Any) -> StackTokens:
        """The tokens in the Secrets up.sh created; none when the cluster runs without them."""
        from kubernetes.client.exceptions import ApiException

        values: dict[str, str] = {}
        for field_name, secret in TOKEN_SECRETS.items():
            try:
                data = core.read_namespaced_secret(secret, self.namespace).data or {}
            except ApiException as err:
                if err.status == 404:
                    return StackTokens()
                raise K3dTargetError(f"reading Secret {secret}: HTTP {err.status}") from None
            values[field_name] = base64.b64decode(data.get("token", "")).decode()
        return StackTokens(**values)

    def _forward_daprd_http(self, core: Any) -> None:
        """daprd's HTTP API of each app on 127.0.0.1 through the Kubernetes API."""
        for app_id in APP_IDS:
            pods = core.list_namespaced_pod(self.namespace, label_selector=f"app={app_id}").items
            ready = [pod for pod in pods if _has_sidecar(pod) and _is_ready(pod)]
            if not ready:
                raise K3dTargetError(f"no ready pod of {app_id} with daprd; {UP_HINT}")
            try:
                forward = self._open_forward(self._api, self.namespace, ready[0].metadata.name,
                                             DAPRD_HTTP_PORT)  # fmt: skip
            except HarnessError as err:
                raise K3dTargetError(f"daprd's HTTP API of {app_id}: {err}") from None
            self._forwards.append(forward)
            self.daprd_http_urls[app_id] = forward.url

    def stop(self) -> None:
        """Close the port-forwards and release the Kubernetes API connection pool; the
        cluster keeps running."""
        forwards, self._forwards = self._forwards, []
        for forward in forwards:
            forward.close()
        self.daprd_http_urls = {}
        api, self._api = self._api, None
        if api is not None:
            api.close()

    # --- diagnostics ---

    def broker_messages(self, topic: str) -> int:
        """The length of the topic's stream in the cluster's Redis (`redis-cli XLEN` in its
        pod, through the Kubernetes API's exec)."""
        from kubernetes.stream import stream

        core, _ = self._clients()
        pods = core.list_namespaced_pod(self.namespace, label_selector=REDIS_SELECTOR).items
        if not pods:
            raise HarnessError(f"no Redis pod ({REDIS_SELECTOR}) in {self.namespace}")
        call = stream(core.connect_get_namespaced_pod_exec, pods[0].metadata.name,
                      self.namespace, container="redis", command=["redis-cli", "XLEN", topic],
                      stderr=True, stdin=False, stdout=True, tty=False,
                      _preload_content=False)  # fmt: skip
        try:  # read to the end, then close: an exec left to the garbage collector leaks TLS
            call.run_forever(timeout=self.settings.request_timeout_seconds)
            out = call.read_stdout() or ""
        finally:
            close_websocket(call.sock)
        try:
            return int(str(out).strip())
        except ValueError:
            raise HarnessError(f"redis-cli XLEN {topic} in the cluster answered {out!r}") from None

    def problems(self) -> list[str]:
        """An endpoint that stopped answering, as one line; empty when all answer."""
        complaint = self._endpoints_complaint()
        return [complaint] if complaint else []

    def logs_tail(self, lines: int = 50) -> dict[str, str]:
        """The last lines of every daprd and app container: '<pod>/<container>' -> text."""
        try:
            core, _ = self._clients()
        except K3dTargetError as err:
            return {"k3d": str(err)}
        tails: dict[str, str] = {}
        for app_id in APP_IDS:
            try:
                pods = core.list_namespaced_pod(
                    self.namespace,
                    label_selector=f"app={app_id}",
                    _request_timeout=self.settings.request_timeout_seconds,
                ).items
            except Exception as err:  # noqa: BLE001 - diagnostics must not raise
                tails[app_id] = f"<cannot list pods: {_short(err)}>"
                continue
            for pod in pods:
                for container in (SIDECAR, app_id):
                    key = f"{pod.metadata.name}/{container}"
                    try:
                        tails[key] = core.read_namespaced_pod_log(
                            pod.metadata.name,
                            self.namespace,
                            container=container,
                            tail_lines=lines,
                            _request_timeout=self.settings.request_timeout_seconds,
                        )
                    except Exception as err:  # noqa: BLE001 - diagnostics must not raise
                        tails[key] = f"<cannot read logs: {_short(err)}>"
        return tails

    # --- internals ---

    def _clients(self) -> tuple[Any, Any]:
        try:
            from kubernetes import client, config
            from kubernetes.config.config_exception import ConfigException
        except ImportError:
            raise K3dTargetError(
                "the k3d target needs the kubernetes package: pip install 'dapr-pubsub-suite[k3d]'"
            ) from None
        if self._api is None:
            configuration = client.Configuration()
            try:
                config.load_kube_config(
                    config_file=self.settings.access.kubeconfig,
                    context=self.context,
                    client_configuration=configuration,
                    persist_config=False,
                )
            except (ConfigException, OSError, TypeError, ValueError) as err:
                raise K3dTargetError(
                    f"k3d cluster unreachable: kube context {self.context!r} not usable "
                    f"({_short(err)}); {UP_HINT}"
                ) from None
            configuration.retries = 0  # an absent cluster should fail at once
            self._api = client.ApiClient(configuration)
        return client.CoreV1Api(self._api), client.AppsV1Api(self._api)

    def _check_reachable(self, core: Any) -> None:
        from kubernetes.client.exceptions import ApiException

        host = self._api.configuration.host
        try:
            core.read_namespace(
                self.namespace, _request_timeout=self.settings.request_timeout_seconds
            )
        except ApiException as err:
            if err.status == 404:
                raise K3dTargetError(
                    f"k3d cluster {self.context!r} has no namespace {self.namespace!r}; {UP_HINT}"
                ) from None
            raise K3dTargetError(
                f"k3d cluster {self.context!r} at {host} answered "
                f"{err.status} {err.reason}; {UP_HINT}"
            ) from None
        except Exception as err:  # noqa: BLE001 - urllib3 connection errors share no base
            raise K3dTargetError(
                f"k3d cluster unreachable at {host} (context {self.context!r}): "
                f"{_short(err)}; {UP_HINT}"
            ) from None

    def _deployments_complaint(self, core: Any, apps: Any) -> str | None:
        """None when the injector and both apps are available with a daprd each."""
        timeout = self.settings.request_timeout_seconds
        wanted = [(DAPR_NAMESPACE, "dapr-sidecar-injector")] + [
            (self.namespace, app_id) for app_id in APP_IDS
        ]
        try:
            for namespace, name in wanted:
                status = apps.read_namespaced_deployment(
                    name, namespace, _request_timeout=timeout
                ).status
                if not status.available_replicas:
                    return f"deployment {namespace}/{name} has no available replica"
            for app_id in APP_IDS:
                pods = core.list_namespaced_pod(
                    self.namespace, label_selector=f"app={app_id}", _request_timeout=timeout
                ).items
                ready = [pod for pod in pods if _has_sidecar(pod) and _is_ready(pod)]
                if not ready:
                    return f"{app_id} has no ready pod with a {SIDECAR} sidecar"
        except Exception as err:  # noqa: BLE001 - ApiException or a connection error: poll again
            return _short(err)
        return None

    def _deployed_t2_delay(self, apps: Any) -> float:
        """T2_DELAY_SECONDS as service-1 runs with it (up.sh may have changed it)."""
        try:
            deployment = apps.read_namespaced_deployment(
                "service-1", self.namespace, _request_timeout=self.settings.request_timeout_seconds
            )
            for container in deployment.spec.template.spec.containers:
                for variable in container.env or []:
                    if variable.name == "T2_DELAY_SECONDS" and variable.value:
                        return float(variable.value)
        except Exception:  # noqa: BLE001 - the default below is what the manifest sets
            pass
        return self.t2_delay_seconds

    def _endpoints_complaint(self) -> str | None:
        checks = {
            f"{self.service1_url}/healthz": "service-1",
            f"{self.prometheus_url}/-/ready": "Prometheus",
            f"{self.service2_url}/healthz": "service-2",
        }
        for app_id, url in self.daprd_metrics_urls.items():
            checks[url] = f"daprd metrics of {app_id}"
        for url, what in checks.items():
            status = _http_status(url, self.settings.request_timeout_seconds)
            if status != 200:
                return f"{what} does not answer at {url} ({status})"
        return None


def _has_sidecar(pod: Any) -> bool:
    containers = list(pod.spec.containers or []) + list(pod.spec.init_containers or [])
    return any(container.name == SIDECAR for container in containers)


def _is_ready(pod: Any) -> bool:
    return any(
        condition.type == "Ready" and condition.status == "True"
        for condition in (pod.status.conditions or [])
    )


def _short(err: BaseException) -> str:
    """An exception as one short line; urllib3 wraps the real cause in `reason`."""
    while isinstance(getattr(err, "reason", None), BaseException):
        err = err.reason  # type: ignore[attr-defined]
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 200 else text[:197] + "..."
