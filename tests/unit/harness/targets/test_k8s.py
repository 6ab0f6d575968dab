"""The Kubernetes target without a cluster: settings, imports, one-line errors when unreachable.

No cluster and no cluster tools are needed (stand-ins answer for the Kubernetes API), so these
run with the unit tests; they read the committed k3d/cluster.yaml like any repository file.
"""

from __future__ import annotations

import base64
import http.server
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import httpx
import pytest

from harness.errors import HarnessError, SettingsError
from harness.settings import REPO_ROOT
from harness.targets import TargetStartError
from harness.targets.k8s import (
    APP_IDS,
    DEFAULT_CONTEXT,
    DEFAULT_NAMESPACE,
    FALLBACK_HOST_PORTS,
    NODE_PORTS,
    K3dSettings,
    K3dTarget,
    K3dTargetError,
    KubeAccess,
    host_ports,
)
from harness.targets.port_forward import PortForward

KUBECONFIG_TEMPLATE = """\
apiVersion: v1
kind: Config
clusters:
- name: k3d-dapr-suite
  cluster: {{server: "{server}"}}
contexts:
- name: k3d-dapr-suite
  context: {{cluster: k3d-dapr-suite, user: admin@k3d-dapr-suite}}
current-context: k3d-dapr-suite
users:
- name: admin@k3d-dapr-suite
  user: {{token: not-a-secret}}
"""


def test_has_the_target_interface() -> None:
    target = K3dTarget(K3dSettings.from_env({}))
    assert target.name == "k3d"
    for attribute in ("service1_url", "service2_url", "prometheus_url", "t2_delay_seconds"):
        assert getattr(target, attribute) is not None
    assert set(target.daprd_metrics_urls) == set(APP_IDS)
    assert all(isinstance(url, str) for url in (target.service1_url, target.service2_url))
    for method in ("start", "stop", "logs_tail", "problems", "__enter__", "__exit__"):
        assert callable(getattr(target, method))


def test_start_returns_none_like_every_target(
    monkeypatch: pytest.MonkeyPatch, endpoints: str
) -> None:
    target = _fake_target(monkeypatch, endpoints, _FakeApi())
    assert target.start() is None
    target.stop()


def test_urls_default_from_cluster_yaml() -> None:
    settings = K3dSettings.from_env({})
    assert settings.service1_url == "http://127.0.0.1:16060"
    assert settings.service2_url == "http://127.0.0.1:17070"
    assert settings.prometheus_url == "http://127.0.0.1:19090"
    assert settings.grafana_url == "http://127.0.0.1:13000"
    assert settings.jaeger_url == "http://127.0.0.1:16686"
    assert settings.daprd_metrics_urls == {
        "service-1": "http://127.0.0.1:19091/metrics",
        "service-2": "http://127.0.0.1:19092/metrics",
    }
    assert settings.access.context == "k3d-dapr-suite"
    assert settings.t2_delay_seconds is None
    assert K3dTarget(settings).t2_delay_seconds == 10.0


def test_fallback_ports_match_cluster_yaml() -> None:
    mapped = host_ports(REPO_ROOT / "k3d" / "cluster.yaml")
    assert {node: f"127.0.0.1:{host}" for node, host in FALLBACK_HOST_PORTS.items()} == mapped
    assert set(NODE_PORTS.values()) == set(mapped)


def test_ports_follow_an_edited_cluster_yaml(tmp_path: Path) -> None:
    config = tmp_path / "cluster.yaml"
    config.write_text("ports:\n  - port: 127.0.0.1:26060:30060\n    nodeFilters: [server:*]\n")
    assert K3dSettings.from_env({}, config).service1_url == "http://127.0.0.1:26060"
    assert host_ports(tmp_path / "missing.yaml")[30060] == "127.0.0.1:16060"


def test_environment_overrides() -> None:
    settings = K3dSettings.from_env(
        {
            "K3D_SERVICE1_URL": "http://127.0.0.1:1111/",
            "K3D_SERVICE2_URL": "http://127.0.0.1:2222",
            "K3D_PROMETHEUS_URL": "http://127.0.0.1:3333",
            "K3D_DAPRD_METRICS_URLS": "service-1=http://127.0.0.1:4444/metrics",
            "K3D_CONTEXT": "k3d-other",
            "K3D_NAMESPACE": "elsewhere",
            "T2_DELAY_SECONDS": "2.5",
            "K3D_READY_TIMEOUT": "5",
            "KUBECONFIG": "/tmp/kubeconfig",
        }
    )
    assert settings.service1_url == "http://127.0.0.1:1111"
    assert settings.service2_url == "http://127.0.0.1:2222"
    assert settings.prometheus_url == "http://127.0.0.1:3333"
    assert settings.daprd_metrics_urls["service-1"] == "http://127.0.0.1:4444/metrics"
    assert settings.daprd_metrics_urls["service-2"] == "http://127.0.0.1:19092/metrics"
    assert (settings.access.context, settings.access.namespace) == ("k3d-other", "elsewhere")
    assert settings.t2_delay_seconds == 2.5
    assert settings.ready_timeout_seconds == 5
    assert settings.access.kubeconfig == "/tmp/kubeconfig"
    assert K3dTarget(settings).t2_delay_seconds == 2.5


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"T2_DELAY_SECONDS": "ten"}, "T2_DELAY_SECONDS='ten' is not a number"),
        ({"K3D_DAPRD_METRICS_URLS": "service-1"}, "K3D_DAPRD_METRICS_URLS: 'service-1' is not"),
    ],
)
def test_bad_settings_are_one_line(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        K3dSettings.from_env(env)


def test_imports_without_the_kubernetes_package() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["kubernetes"] = None  # as if it were not installed
        from harness.targets.k8s import K3dTarget, K3dTargetError
        target = K3dTarget()
        try:
            target.start()
        except K3dTargetError as err:
            print(err)
        print(target.logs_tail())
        """
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert first == (
        "the k3d target needs the kubernetes package: pip install 'dapr-pubsub-suite[k3d]'"
    )
    assert "kubernetes package" in second


def kubeconfig(tmp_path: Path, server: str) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG_TEMPLATE.format(server=server))
    return str(path)


def test_unreachable_cluster_is_one_line(tmp_path: Path) -> None:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    env = {"KUBECONFIG": kubeconfig(tmp_path, "https://127.0.0.1:1")}
    target = K3dTarget(K3dSettings.from_env(env))
    with pytest.raises(K3dTargetError) as caught:
        target.start()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("k3d cluster unreachable at https://127.0.0.1:1")
    assert message.endswith("run k3d/up.sh")
    assert target._api is None  # start() cleaned up after itself


def test_missing_context_is_one_line(tmp_path: Path) -> None:
    env = {"KUBECONFIG": kubeconfig(tmp_path, "https://127.0.0.1:1"), "K3D_CONTEXT": "k3d-x"}
    with pytest.raises(K3dTargetError) as caught:
        K3dTarget(K3dSettings.from_env(env)).start()
    message = str(caught.value)
    assert "\n" not in message
    assert "kube context 'k3d-x' not usable" in message
    assert message.endswith("run k3d/up.sh")


def test_context_manager_and_logs_when_unreachable(tmp_path: Path) -> None:
    env = {"KUBECONFIG": kubeconfig(tmp_path, "https://127.0.0.1:1")}
    target = K3dTarget(K3dSettings.from_env(env))
    starting = "^the k3d target did not start: k3d cluster unreachable"
    with pytest.raises(TargetStartError, match=starting), target:
        pass  # pragma: no cover - start() raises first
    tails = target.logs_tail(lines=5)
    assert set(tails) == set(APP_IDS)
    assert all(text.startswith("<cannot list pods:") for text in tails.values())
    target.stop()
    target.stop()  # idempotent


# --- the ready path, against stand-ins for the Kubernetes API and the host ports ---


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # http.server's name
        status = 200 if self.path in ("/healthz", "/-/ready", "/metrics") else 404
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endpoints() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _pod(name: str, containers: list[str], ready: bool) -> SimpleNamespace:
    return SimpleNamespace(
        metadata=SimpleNamespace(name=name),
        spec=SimpleNamespace(
            containers=[SimpleNamespace(name=c) for c in containers], init_containers=None
        ),
        status=SimpleNamespace(
            conditions=[SimpleNamespace(type="Ready", status="True" if ready else "False")]
        ),
    )


class _FakeApi:
    """CoreV1Api and AppsV1Api in one, answering what K3dTarget asks."""

    def __init__(self, sidecar: bool = True, t2: str = "4") -> None:
        self.sidecar, self.t2 = sidecar, t2
        self.configuration = SimpleNamespace(host="https://127.0.0.1:6550")

    def read_namespace(self, name: str, **_: object) -> object:
        return SimpleNamespace(metadata=SimpleNamespace(name=name))

    def read_namespaced_deployment(self, name: str, namespace: str, **_: object) -> object:
        env = [SimpleNamespace(name="T2_DELAY_SECONDS", value=self.t2)]
        return SimpleNamespace(
            status=SimpleNamespace(available_replicas=1),
            spec=SimpleNamespace(
                template=SimpleNamespace(
                    spec=SimpleNamespace(containers=[SimpleNamespace(name=name, env=env)])
                )
            ),
        )

    def list_namespaced_pod(self, namespace: str, label_selector: str, **_: object) -> object:
        app = label_selector.split("=", 1)[1]
        containers = [app, "daprd"] if self.sidecar else [app]
        return SimpleNamespace(items=[_pod(f"{app}-abc", containers, ready=True)])

    def read_namespaced_secret(self, name: str, namespace: str, **_: object) -> object:
        return SimpleNamespace(data={"token": base64.b64encode(f"{name}-value".encode()).decode()})

    def read_namespaced_pod_log(self, name: str, namespace: str, container: str, **_: object):
        return f"last lines of {name}/{container}"

    def close(self) -> None:
        pass


def _fake_target(monkeypatch: pytest.MonkeyPatch, url: str, api: _FakeApi) -> K3dTarget:
    settings = K3dSettings(
        service1_url=url,
        service2_url=url,
        prometheus_url=url,
        daprd_metrics_urls={app: f"{url}/metrics" for app in APP_IDS},
        ready_timeout_seconds=0.5,
    )
    target = K3dTarget(settings)

    def clients() -> tuple[_FakeApi, _FakeApi]:
        target._api = api
        return api, api

    def forward_to_endpoints(_api: object, namespace: str, pod: str, port: int) -> PortForward:
        address = urlsplit(url)
        return PortForward(
            lambda: (socket.create_connection((address.hostname, address.port)), None),
            f"{namespace}/{pod}:{port}",
        )

    monkeypatch.setattr(target, "_clients", clients)
    target._open_forward = forward_to_endpoints
    return target


def test_start_succeeds_on_a_ready_cluster(monkeypatch: pytest.MonkeyPatch, endpoints: str) -> None:
    with _fake_target(monkeypatch, endpoints, _FakeApi(t2="4")) as target:
        assert target.t2_delay_seconds == 4.0  # as deployed, not the default
        assert target.tokens.suite_headers() == {"suite-api-token": "suite-api-token-value"}
        assert target.tokens.dapr_headers() == {"dapr-api-token": "dapr-api-token-value"}
        logs = target.logs_tail(lines=3)
        forwarded = target.daprd_http_urls["service-1"]
        assert forwarded.startswith("http://127.0.0.1:") and forwarded != endpoints
        assert httpx.get(f"{forwarded}/-/ready", trust_env=False).status_code == 200
    assert target.daprd_http_urls == {}  # the forwards end with the target
    assert logs["service-1-abc/daprd"] == "last lines of service-1-abc/daprd"
    assert set(logs) == {f"{app}-abc/{c}" for app in APP_IDS for c in ("daprd", app)}
    assert target._api is None


def test_start_reports_a_pod_without_sidecar(
    monkeypatch: pytest.MonkeyPatch, endpoints: str
) -> None:
    target = _fake_target(monkeypatch, endpoints, _FakeApi(sidecar=False))
    with pytest.raises(K3dTargetError) as caught:
        target.start()
    assert str(caught.value) == (
        "k3d cluster 'k3d-dapr-suite' is not ready: service-1 has no ready pod with a daprd "
        "sidecar; run k3d/up.sh"
    )


def test_start_reports_an_unanswered_port(monkeypatch: pytest.MonkeyPatch, endpoints: str) -> None:
    target = _fake_target(monkeypatch, endpoints, _FakeApi())
    target.prometheus_url = "http://127.0.0.1:1"
    with pytest.raises(K3dTargetError) as caught:
        target.start()
    message = str(caught.value)
    assert "\n" not in message
    assert "runs but Prometheus does not answer at http://127.0.0.1:1/-/ready" in message


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("K3D_SERVICE1_URL", "http://10.0.0.5:16060"),
        ("K3D_PROMETHEUS_URL", "http://prometheus.example:9090"),
        ("K3D_DAPRD_METRICS_URLS", "service-1=http://192.168.1.2:9090/metrics"),
    ],
)
def test_urls_off_this_machine_are_refused(variable: str, value: str) -> None:
    with pytest.raises(HarnessError, match=f"^{variable} .* is refused: the suite only reaches"):
        K3dSettings.from_env({variable: value})


def test_timeouts_must_be_finite() -> None:
    with pytest.raises(SettingsError, match="must be a number of seconds"):
        K3dSettings.from_env({"K3D_READY_TIMEOUT": "nan"})


def test_the_cluster_comes_from_the_environment_or_the_defaults() -> None:
    env = {"KUBECONFIG": "/k/config", "K3D_CONTEXT": "ctx", "K3D_NAMESPACE": "ns"}
    assert KubeAccess.from_env(env) == KubeAccess("ctx", "ns", "/k/config")
    assert KubeAccess.from_env({}) == KubeAccess(DEFAULT_CONTEXT, DEFAULT_NAMESPACE, None)
    assert K3dSettings.from_env(env).access == KubeAccess("ctx", "ns", "/k/config")
