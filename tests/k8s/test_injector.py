"""Dapr's sidecar injector and operator, built from the dapr module, on a real apiserver.

Sentry and the injector run on this machine (harness.dapr_control_plane) against a real
kube-apiserver with the Dapr chart applied; the chart's webhook is pointed at the local
injector. The Pods of the service Deployments are created the way a ReplicaSet creates
them (as `system:serviceaccount:kube-system:replicaset-controller`), and the pod specs
the apiserver stores must carry a daprd container whose arguments follow from the
annotations and fit the app beside them (harness.injection). Broken copies of the
manifests must be named by the same check; a pod without the annotations is left alone.
The operator, given the Deployments, must make the `<app-id>-dapr` Services with the
Prometheus scrape annotations on the port the manifests read daprd's metrics on.
"""

from __future__ import annotations

import copy
import os
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.dynamic import DynamicClient

from harness.dapr_control_plane import (
    INJECTOR_DNS_NAME,
    ControlPlaneSettings,
    DaprControlPlane,
    chart_container,
)
from harness.errors import HarnessError
from harness.gobuild import ensure_command
from harness.injection import DAPRD, dapr_service_problems, sidecar_problems
from harness.kube_apiserver import HOST, KubeApiserver
from harness.kube_apply import DAPR_NAMESPACE, apply, apply_all, render_dapr_chart
from harness.kube_builds import helm_command
from harness.longrun import Progress
from harness.manifests import documents
from harness.settings import DEFAULT_DAPR_VERSION, REPO_ROOT
from harness.wait import poll

pytestmark = [pytest.mark.k8s, pytest.mark.integration]

MANIFESTS = REPO_ROOT / "k3d" / "manifests"
SERVICES = {"service-1": "30-service-1.yaml", "service-2": "31-service-2.yaml"}
APISERVER_HOSTS = {INJECTOR_DNS_NAME: HOST}  # read by the apiserver fixture
CONTROLLER = "system:serviceaccount:kube-system:replicaset-controller"


@pytest.fixture(scope="module")
def chart(
    apiserver: KubeApiserver, dyn: DynamicClient, dapr_crds: list[dict[str, Any]],
    progress: Progress,
) -> list[dict[str, Any]]:  # fmt: skip
    """The Dapr chart applied, and the suite's namespace and Dapr resources created."""
    helm, _ = ensure_command(helm_command(), progress)
    docs = render_dapr_chart(helm, DEFAULT_DAPR_VERSION, apiserver.release)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": DAPR_NAMESPACE}}
    assert apply(dyn, namespace, dry_run=False) is None
    assert apply_all(dyn, [d for d in docs if d["kind"] != "Namespace"], dry_run=False) == []
    suite = [*documents(MANIFESTS / "00-namespaces.yaml"), *configurations()]
    assert apply_all(dyn, suite, dry_run=False) == []
    return docs


@pytest.fixture(scope="module")
def control_plane(
    apiserver: KubeApiserver, chart: list[dict[str, Any]], figures: list[str],
    progress: Progress,
) -> Iterator[DaprControlPlane]:  # fmt: skip
    settings = ControlPlaneSettings.from_env(dict(os.environ))
    plane = DaprControlPlane(apiserver, chart, settings, progress)
    started = time.monotonic()
    with plane:
        built = ", ".join(f"{n} built in {s:.0f} s" for n, s in plane.build_seconds.items() if s)
        figures.append(
            f"sentry + sidecar injector ready in {time.monotonic() - started:.1f} s"
            + (f" ({built})" if built else " (binaries cached)")
        )
        yield plane
    assert all(p.gone() for p in plane.processes), "a control-plane process outlived the context"


@pytest.fixture(scope="module")
def create_as_controller(
    apiserver: KubeApiserver, control_plane: DaprControlPlane
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Creates a Pod the way a ReplicaSet does; returns what the apiserver stored."""
    rbac = k8s.RbacAuthorizationV1Api(apiserver.api_client())
    group, name = "rbac.authorization.k8s.io", "suite-pod-creator"
    rbac.create_cluster_role(
        {"metadata": {"name": name},
         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "get"]}]}
    )  # fmt: skip
    rbac.create_cluster_role_binding(
        {"metadata": {"name": name},
         "roleRef": {"apiGroup": group, "kind": "ClusterRole", "name": name},
         "subjects": [{"apiGroup": group, "kind": "User", "name": CONTROLLER}]}
    )  # fmt: skip
    impersonated = apiserver.api_client()
    impersonated.set_default_header("Impersonate-User", CONTROLLER)
    core = k8s.CoreV1Api(impersonated)

    def create(pod: dict[str, Any]) -> dict[str, Any]:
        created = core.create_namespaced_pod(pod["metadata"]["namespace"], pod)
        stored: dict[str, Any] = impersonated.sanitize_for_serialization(created)
        return stored

    return create


def configurations() -> list[dict[str, Any]]:
    return [d for d in documents(MANIFESTS / "20-dapr-configuration.yaml")
            if d["kind"] == "Configuration"]  # fmt: skip


def configuration_names() -> set[str]:
    return {d["metadata"]["name"] for d in configurations()}


def deployment(service: str) -> dict[str, Any]:
    for doc in documents(MANIFESTS / SERVICES[service]):
        if doc["kind"] == "Deployment":
            return doc
    raise AssertionError(f"no Deployment in {SERVICES[service]}")


def services_of(service: str) -> list[dict[str, Any]]:
    return [d for d in documents(MANIFESTS / SERVICES[service]) if d["kind"] == "Service"]


def pod_of(template: dict[str, Any], namespace: str, name: str) -> dict[str, Any]:
    """The Pod a ReplicaSet would create from `template`.

    With the service account a cluster's ServiceAccount admission plugin fills in before
    webhooks run (this apiserver runs without it: no controller makes `default` accounts).
    """
    spec = copy.deepcopy(template["spec"])
    spec.setdefault("serviceAccountName", "default")
    meta = copy.deepcopy(template["metadata"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {**meta, "name": name, "namespace": namespace},
        "spec": spec,
    }


def unique(name: str) -> str:
    return f"{name}-{secrets.token_hex(3)}"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_the_injected_daprd_follows_the_annotations(
    create_as_controller: Callable[[dict[str, Any]], dict[str, Any]], service: str
) -> None:
    manifest = deployment(service)
    template = manifest["spec"]["template"]
    namespace = manifest["metadata"]["namespace"]
    stored = create_as_controller(pod_of(template, namespace, unique(service)))
    problems = sidecar_problems(template, stored, configuration_names(), services_of(service))
    assert problems == []
    names = [c["name"] for c in stored["spec"]["containers"]]
    assert names == [service, DAPRD], names
    # The injector found its sentry token where the chart mounts it, so (as in a cluster)
    # daprd gets a token for sentry of its own.
    assert "dapr-identity-token" in [v["name"] for v in stored["spec"]["volumes"]]


def test_a_pod_without_the_annotations_is_left_alone(
    create_as_controller: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    manifest = deployment("service-1")
    template = copy.deepcopy(manifest["spec"]["template"])
    template["metadata"]["annotations"] = {}
    pod = pod_of(template, manifest["metadata"]["namespace"], unique("plain"))
    stored = create_as_controller(pod)
    assert [c["name"] for c in stored["spec"]["containers"]] == ["service-1"]
    assert [v["name"] for v in stored["spec"].get("volumes") or []] == [
        v["name"] for v in template["spec"].get("volumes") or []
    ]
    assert not stored["spec"].get("initContainers")


def _annotation(key: str, value: str | None) -> Callable[[dict[str, Any]], None]:
    def breaks(template: dict[str, Any]) -> None:
        annotations = template["metadata"]["annotations"]
        if value is None:  # misspelt: the value moves to a key Dapr does not know
            annotations[key[:-1]] = annotations.pop(key)
        else:
            annotations[key] = value

    return breaks


# Each case: how the copy of service-1's pod template is broken, what the check must say.
BROKEN = {
    "a misspelt app-port annotation": (_annotation("dapr.io/app-port", None), "--app-port"),
    "a wrong app port": (_annotation("dapr.io/app-port", "6061"), "the app listens on"),
    "a misspelt config annotation": (_annotation("dapr.io/config", None), "--config"),
    "a config the manifests do not define": (
        _annotation("dapr.io/config", "suite-cfg"), "is not a Configuration"),
    "a misspelt enabled annotation": (_annotation("dapr.io/enabled", None), "no daprd container"),
    "another app id than the app's": (_annotation("dapr.io/app-id", "service-one"), "APP_ID"),
    "another metrics port than the Service's": (
        _annotation("dapr.io/metrics-port", "9091"), "service-1-daprd-metrics sends to port 9090"),
    "another API token Secret than the app's": (
        _annotation("dapr.io/api-token-secret", "dapr-api-tokens"), "DAPR_API_TOKEN"),
}  # fmt: skip
# Each case: a copy whose injected pod is judged by the manifest as written, as if the
# injector had not followed the annotations (the values fit the app, so only this shows).
NOT_AS_WRITTEN = {
    "another log level": (_annotation("dapr.io/log-level", "debug"), "--log-level"),
    "other listen addresses": (
        _annotation("dapr.io/sidecar-listen-addresses", "0.0.0.0"), "--dapr-listen-addresses"),
    "another app protocol": (_annotation("dapr.io/app-protocol", "grpc"), "--app-protocol"),
    "another app token Secret": (
        _annotation("dapr.io/app-token-secret", "app-tokens"), "APP_API_TOKEN: daprd reads"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BROKEN) + sorted(NOT_AS_WRITTEN))
def test_a_broken_copy_is_named(
    create_as_controller: Callable[[dict[str, Any]], dict[str, Any]], case: str
) -> None:
    breaks, wording = BROKEN.get(case) or NOT_AS_WRITTEN[case]
    manifest = deployment("service-1")
    template = copy.deepcopy(manifest["spec"]["template"])
    breaks(template)
    pod = pod_of(template, manifest["metadata"]["namespace"], unique("broken"))
    stored = create_as_controller(pod)
    # BROKEN: the copy's own annotations beside the unbroken app (its port, APP_ID, token
    # Secrets); NOT_AS_WRITTEN: the manifest as written.
    metadata = template["metadata"] if case in BROKEN else manifest["spec"]["template"]["metadata"]
    problems = sidecar_problems(
        {**manifest["spec"]["template"], "metadata": metadata},
        stored,
        configuration_names(),
        services_of("service-1"),
    )
    assert any(wording in p for p in problems), (case, problems)


# -- the operator ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def operator(control_plane: DaprControlPlane, figures: list[str]) -> DaprControlPlane:
    started = time.monotonic()
    control_plane.start_operator()
    built = control_plane.build_seconds.get("operator")
    figures.append(
        f"operator ready in {time.monotonic() - started:.1f} s"
        + (f" (built in {built:.0f} s)" if built else " (binary cached)")
    )
    return control_plane


def dapr_service(
    apiserver: KubeApiserver, doc: dict[str, Any], timeout: float = 30
) -> dict[str, Any] | None:
    """Applies the Deployment for real; the operator's `<app-id>-dapr` Service, once made."""
    dyn = apiserver.dynamic()
    assert apply(dyn, doc, dry_run=False) is None
    annotations = doc["spec"]["template"]["metadata"]["annotations"]
    name = f"{annotations.get('dapr.io/app-id', doc['metadata']['name'])}-dapr"
    core = k8s.CoreV1Api(apiserver.api_client())

    def made() -> dict[str, Any] | None:
        found = core.list_namespaced_service(
            doc["metadata"]["namespace"], field_selector=f"metadata.name={name}"
        ).items
        return apiserver.api_client().sanitize_for_serialization(found[0]) if found else None

    return poll(made, timeout=timeout, interval=0.2, what=f"Service {name}", on_timeout="return")


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_the_operator_makes_the_dapr_service_prometheus_scrapes(
    apiserver: KubeApiserver, operator: DaprControlPlane, service: str
) -> None:
    doc = deployment(service)
    made = dapr_service(apiserver, doc)
    assert dapr_service_problems(doc, made, services_of(service)) == []
    assert made is not None
    assert made["spec"]["selector"] == doc["spec"]["selector"]["matchLabels"]


# Each case: how a copy of service-1's Deployment is broken, what the check must say.
BROKEN_FOR_THE_OPERATOR = {
    "metrics turned off": (_annotation("dapr.io/enable-metrics", "false"), "Prometheus scrapes"),
    "another metrics port than the Service's": (
        _annotation("dapr.io/metrics-port", "9091"), "reads the metrics on 9090"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BROKEN_FOR_THE_OPERATOR))
def test_a_broken_deployment_is_named(
    apiserver: KubeApiserver, operator: DaprControlPlane, case: str
) -> None:
    breaks, wording = BROKEN_FOR_THE_OPERATOR[case]
    doc = deployment("service-1")
    doc["metadata"]["name"] = unique("broken")
    doc["spec"]["template"]["metadata"]["annotations"]["dapr.io/app-id"] = doc["metadata"]["name"]
    breaks(doc["spec"]["template"])
    made = dapr_service(apiserver, doc)
    problems = dapr_service_problems(doc, made, services_of("service-1"))
    assert any(wording in p for p in problems), (case, problems)


def test_a_control_plane_that_cannot_start_is_named_with_its_log(
    apiserver: KubeApiserver, chart: list[dict[str, Any]]
) -> None:
    """Bad input: a flag sentry refuses; the error carries its log tail, nothing keeps
    running. Last in the module: it points the webhook elsewhere."""
    broken = copy.deepcopy(chart)
    chart_container(broken, "dapr-sentry")["args"].append("--no-such-flag")
    offset = int(os.environ.get("HARNESS_PORT_OFFSET") or 0) + 100  # beside the module's
    settings = ControlPlaneSettings.from_env({"HARNESS_PORT_OFFSET": str(offset)})
    plane = DaprControlPlane(apiserver, broken, settings)
    with pytest.raises(HarnessError) as raised:
        plane.start()
    message = str(raised.value)
    assert message.startswith("dapr-sentry exited with code"), message
    assert "unknown flag: --no-such-flag" in message
    assert plane.processes and all(p.gone() for p in plane.processes)
