"""What the injector must make of a pod's annotations, and how a disagreement is named."""

from __future__ import annotations

import copy
from typing import Any

from harness.injection import (
    dapr_service_problems,
    expected_args,
    expected_token_env,
    flag_values,
    service_problems,
    sidecar_problems,
    wants_sidecar,
)

ANNOTATIONS = {
    "dapr.io/enabled": "true",
    "dapr.io/app-id": "service-1",
    "dapr.io/app-port": "6060",
    "dapr.io/config": "suite-config",
    "dapr.io/log-level": "debug",
    "dapr.io/api-token-secret": "dapr-api-token",
}


def secret_env(name: str, secret: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": "token"}}}


TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "service-1"}, "annotations": ANNOTATIONS},
    "spec": {"containers": [{
        "name": "service-1",
        "ports": [{"name": "http", "containerPort": 6060}],
        "env": [{"name": "APP_ID", "value": "service-1"},
                secret_env("DAPR_API_TOKEN", "dapr-api-token")],
    }]},
}  # fmt: skip


def injected(args: list[str], env: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    pod = copy.deepcopy(TEMPLATE)
    pod["metadata"]["name"] = "service-1-abc"
    pod["spec"]["containers"].append({
        "name": "daprd", "args": ["/daprd", *args],
        "env": env if env is not None else [secret_env("DAPR_API_TOKEN", "dapr-api-token")],
        "ports": [{"name": "dapr-metrics", "containerPort": 9090}],
    })  # fmt: skip
    return pod


GOOD_ARGS = [
    "--app-id", "service-1", "--app-port", "6060", "--app-protocol", "http",
    "--config", "suite-config", "--enable-metrics", "--metrics-port", "9090",
    "--log-level", "debug", "--dapr-listen-addresses", "[::1],127.0.0.1", "--enable-mtls",
]  # fmt: skip


def test_annotations_and_defaults_make_the_expected_arguments() -> None:
    assert expected_args("pod-x", ANNOTATIONS) == {
        "--app-id": "service-1", "--app-port": "6060", "--app-protocol": "http",
        "--config": "suite-config", "--metrics-port": "9090", "--log-level": "debug",
        "--dapr-listen-addresses": "[::1],127.0.0.1",
    }  # fmt: skip
    assert expected_args("pod-x", {})["--app-id"] == "pod-x"  # Dapr's default: the pod name
    assert "--app-port" not in expected_args("pod-x", {})
    assert expected_token_env(ANNOTATIONS) == {"DAPR_API_TOKEN": "dapr-api-token"}
    assert wants_sidecar({"dapr.io/enabled": "True"})
    assert not wants_sidecar({"dapr.io/enable": "true"})


def test_flag_values_reads_both_forms_and_bare_flags() -> None:
    assert flag_values(["/daprd", "--a", "1", "--b=2", "--c", "--d", "x"]) == {
        "--a": "1", "--b": "2", "--c": "", "--d": "x",
    }  # fmt: skip


def test_a_pod_injected_as_asked_has_no_problems() -> None:
    assert sidecar_problems(TEMPLATE, injected(GOOD_ARGS), {"suite-config"}) == []


def test_each_disagreement_is_named() -> None:
    no_port = [a for a in GOOD_ARGS if a not in ("--app-port", "6060")]
    problems = sidecar_problems(TEMPLATE, injected(no_port), {"suite-config"})
    assert any(p.startswith("--app-port: daprd has None") for p in problems), problems
    assert any("the app listens on ['6060']" in p for p in problems), problems
    other_id = ["svc" if a == "service-1" else a for a in GOOD_ARGS]
    problems = sidecar_problems(TEMPLATE, injected(other_id), {"suite-config"})
    assert any("APP_ID is 'service-1'" in p for p in problems), problems
    problems = sidecar_problems(TEMPLATE, injected(GOOD_ARGS, env=[]), {"suite-config"})
    assert any(p.startswith("DAPR_API_TOKEN: daprd reads Secret None") for p in problems)
    problems = sidecar_problems(TEMPLATE, injected(GOOD_ARGS), {"other-config"})
    assert any("is not a Configuration" in p for p in problems), problems


def test_no_daprd_is_one_problem() -> None:
    pod = {**copy.deepcopy(TEMPLATE), "metadata": {"name": "p"}}
    assert sidecar_problems(TEMPLATE, pod, set()) == [
        "no daprd container was injected (containers: ['service-1'])"
    ]


def test_a_service_port_no_container_declares_is_named() -> None:
    def service(target: object, app: str = "service-1") -> dict[str, Any]:
        ports = [{"port": 1, "targetPort": target}]
        return {"metadata": {"name": "s"}, "spec": {"selector": {"app": app}, "ports": ports}}

    pod = injected(GOOD_ARGS)
    assert service_problems([service("http"), service(9090), service(7, app="other")], pod) == []
    assert service_problems([service(9091)], pod) == [
        "Service s sends to port 9091, which no container of the pod declares "
        "(['6060', '9090', 'dapr-metrics', 'http'])"
    ]


DEPLOYMENT: dict[str, Any] = {
    "metadata": {"name": "service-1"},
    "spec": {"template": {"metadata": {"labels": {"app": "service-1"},
                                       "annotations": {"dapr.io/app-id": "service-1"}}}},
}  # fmt: skip
METRICS_SERVICE = {
    "metadata": {"name": "service-1-daprd-metrics"},
    "spec": {"selector": {"app": "service-1"},
             "ports": [{"name": "metrics", "port": 9090, "targetPort": 9090}]},
}  # fmt: skip


def dapr_svc(port: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    scrape = {"prometheus.io/scrape": "true", "prometheus.io/port": port,
              "prometheus.io/path": "/"}  # fmt: skip
    return {
        "metadata": {"annotations": scrape if annotations is None else annotations},
        "spec": {"ports": [{"name": "dapr-metrics", "targetPort": int(port)}]},
    }


def test_the_operators_service_is_checked_against_the_manifest() -> None:
    assert dapr_service_problems(DEPLOYMENT, dapr_svc("9090"), [METRICS_SERVICE]) == []
    assert dapr_service_problems(DEPLOYMENT, None, []) == ["no Service service-1-dapr was made"]
    other = dapr_service_problems(DEPLOYMENT, dapr_svc("9091"), [METRICS_SERVICE])
    assert "prometheus.io/port: the Service has '9091', the annotations ask for '9090'" in other
    assert "dapr-metrics: the Service sends to '9091'" in other
    assert any("reads the metrics on 9090" in p for p in other), other
    unscraped = dapr_service_problems(DEPLOYMENT, dapr_svc("9090", {}), [METRICS_SERVICE])
    assert any(p.startswith("prometheus.io/scrape: the Service has None") for p in unscraped)
