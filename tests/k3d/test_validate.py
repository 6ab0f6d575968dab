"""The offline checks pass on k3d/ as committed and fail on every kind of broken copy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.settings import REPO_ROOT
from k3d.validate.cli import main
from k3d.validate.dapr_resources import crd_schema_to_jsonschema
from k3d.validate.helm_values import parse_duration
from k3d.validate.validator import Validator
from k3d.validate.workflow import required_commands

pytestmark = pytest.mark.k3d

FILES = Validator(REPO_ROOT).files()


def edit(path: Path, old: str, new: str) -> None:
    """Replace text that must be there (so a changed manifest fails the test loudly)."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def problems_of(validator: Validator, relative: str) -> list[str]:
    return validator.check_file(validator.root / relative).problems


def joined(problems: list[str]) -> str:
    assert problems, "the broken copy passed"
    return "\n".join(problems)


# --- the committed files pass ---


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(REPO_ROOT)) for p in FILES])
def test_committed_file_passes(validator: Validator, path: Path) -> None:
    assert validator.check_file(path).problems == []


def test_files_agree_with_each_other(validator: Validator) -> None:
    assert validator.check_consistency() == []


def test_every_kind_of_file_is_checked() -> None:
    names = {str(p.relative_to(REPO_ROOT)) for p in FILES}
    assert {"k3d/cluster.yaml", "k3d/up.sh", "k3d/down.sh", "k3d/github-workflow.yaml"} <= names
    assert "k3d/dashboards/pubsub.json" in names
    assert {"k3d/values/prometheus.yaml", "k3d/values/grafana.yaml"} <= names
    assert sum(name.startswith("k3d/manifests/") for name in names) >= 6


def test_cli_prints_one_line_per_file() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "k3d.validate"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=os.environ.copy(),
        timeout=600,
        check=False,
    )
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(lines) == len(FILES) + 2  # one per file, the cross-file check, the total
    assert all(line.startswith("ok ") for line in lines[:-1])
    assert lines[-1] == f"{len(FILES) + 1} passed, 0 failed"


def test_cli_exits_1_and_names_the_broken_file(k3d_copy: Validator, capsys) -> None:
    edit(k3d_copy.k3d_dir / "manifests" / "10-redis.yaml", "replicas: 1", "replicas: one")
    assert main(["--root", str(k3d_copy.root)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  k3d/manifests/10-redis.yaml: Deployment/redis-leader: spec.replicas" in out
    assert out.splitlines()[-1].endswith("1 failed")


# --- Kubernetes manifests ---


def test_wrong_field_type_fails(k3d_copy: Validator) -> None:
    manifest = k3d_copy.k3d_dir / "manifests" / "30-service-1.yaml"
    edit(manifest, "containerPort: 6060", "containerPort: http-port")
    assert "containerPort" in joined(problems_of(k3d_copy, "k3d/manifests/30-service-1.yaml"))


def test_unknown_kubernetes_field_fails(k3d_copy: Validator) -> None:
    manifest = k3d_copy.k3d_dir / "manifests" / "11-jaeger.yaml"
    edit(manifest, "          readinessProbe:", "          readinesProbe:")
    assert "readinesProbe" in joined(problems_of(k3d_copy, "k3d/manifests/11-jaeger.yaml"))


def test_unknown_kind_and_missing_namespace_fail(k3d_copy: Validator) -> None:
    manifest = k3d_copy.k3d_dir / "manifests" / "40-extra.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Servce\nmetadata:\n  name: x\n  namespace: dapr-suite\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\ndata: {}\n"
    )
    found = joined(problems_of(k3d_copy, "k3d/manifests/40-extra.yaml"))
    assert "Servce" in found
    assert "Bad_Name" in found
    assert "metadata.namespace is missing" in found


def test_not_yaml_fails(k3d_copy: Validator) -> None:
    (k3d_copy.k3d_dir / "manifests" / "10-redis.yaml").write_text("kind: [unclosed\n")
    assert "not YAML" in joined(problems_of(k3d_copy, "k3d/manifests/10-redis.yaml"))


# --- Dapr resources against the CRDs ---


def test_unknown_field_in_component_spec_fails(k3d_copy: Validator) -> None:
    manifest = k3d_copy.k3d_dir / "manifests" / "22-dapr-components.yaml"
    edit(
        manifest, "  type: pubsub.redis\n", "  type: pubsub.redis\n  redisHost: redis-leader:6379\n"
    )
    found = joined(problems_of(k3d_copy, "k3d/manifests/22-dapr-components.yaml"))
    assert "Component/messagebus: spec: Additional properties" in found
    assert "redisHost" in found


def test_wrong_type_in_dapr_resources_fails(k3d_copy: Validator) -> None:
    manifests = k3d_copy.k3d_dir / "manifests"
    edit(manifests / "21-dapr-resiliency.yaml", "maxRetries: 3", "maxRetries: three")
    edit(manifests / "20-dapr-configuration.yaml", 'samplingRate: "1"', "samplingRate: 1")
    resiliency = joined(problems_of(k3d_copy, "k3d/manifests/21-dapr-resiliency.yaml"))
    configuration = joined(problems_of(k3d_copy, "k3d/manifests/20-dapr-configuration.yaml"))
    assert "spec.policies.retries.pubsubRetry.maxRetries: 'three' is not of type 'integer'" in (
        resiliency
    )
    assert "spec.tracing.samplingRate: 1 is not of type 'string'" in configuration


def test_missing_required_dapr_field_fails(k3d_copy: Validator) -> None:
    manifest = k3d_copy.k3d_dir / "manifests" / "22-dapr-components.yaml"
    edit(manifest, "  version: v1\n", "")
    found = joined(problems_of(k3d_copy, "k3d/manifests/22-dapr-components.yaml"))
    assert "'version' is a required property" in found


def test_unserved_dapr_api_version_fails(k3d_copy: Validator) -> None:
    manifest = k3d_copy.k3d_dir / "manifests" / "21-dapr-resiliency.yaml"
    edit(manifest, "apiVersion: dapr.io/v1alpha1", "apiVersion: dapr.io/v1")
    assert "serves no dapr.io/v1 Resiliency" in joined(
        problems_of(k3d_copy, "k3d/manifests/21-dapr-resiliency.yaml")
    )


def test_subscription_is_checked_against_its_crd(validator: Validator) -> None:
    subscription: dict[str, Any] = {
        "apiVersion": "dapr.io/v2alpha1",
        "kind": "Subscription",
        "metadata": {"name": "t1", "namespace": "dapr-suite"},
        "spec": {
            "pubsubname": "messagebus",
            "topic": "t1",
            "routes": {"default": "/t1"},
            "deadLetterTopic": "t1-dead-letter",
        },
        "scopes": ["service-1"],
    }
    assert validator.dapr_resource_problems(subscription) == []
    subscription["spec"]["route"] = "/t1"  # a v1alpha1 field
    assert "route" in joined(validator.dapr_resource_problems(subscription))


def test_component_value_keeps_any_type(validator: Validator) -> None:
    component = {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "c", "namespace": "dapr-suite"},
        "spec": {
            "type": "pubsub.redis",
            "version": "v1",
            "metadata": [{"name": "concurrency", "value": 10}, {"name": "x", "value": True}],
        },
    }
    assert validator.dapr_resource_problems(component) == []


def test_crd_conversion_keeps_kubernetes_semantics() -> None:
    schema = crd_schema_to_jsonschema(
        {
            "type": "object",
            "properties": {
                "open": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "port": {"x-kubernetes-int-or-string": True},
                "maybe": {"type": "string", "nullable": True},
                "closed": {"type": "object", "properties": {"a": {"type": "string"}}},
                "map": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "x-kubernetes-validations": [{"rule": "self.a == 1"}],
        }
    )
    assert schema["additionalProperties"] is False
    assert "additionalProperties" not in schema["properties"]["open"]
    assert schema["properties"]["port"]["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    assert schema["properties"]["maybe"]["type"] == ["string", "null"]
    assert schema["properties"]["closed"]["additionalProperties"] is False
    assert schema["properties"]["map"]["additionalProperties"] == {"type": "string"}
    assert "x-kubernetes-validations" not in schema


def test_dapr_names_must_agree(k3d_copy: Validator) -> None:
    manifests = k3d_copy.k3d_dir / "manifests"
    edit(manifests / "31-service-2.yaml", "dapr.io/config: suite-config", "dapr.io/config: other")
    edit(manifests / "21-dapr-resiliency.yaml", "      messagebus:", "      pubsub:")
    found = joined(k3d_copy.check_consistency())
    assert "Deployment service-2: dapr.io/config other is not defined" in found
    assert "Resiliency targets component pubsub, which is not defined" in found


def test_subscription_must_name_a_defined_pubsub(k3d_copy: Validator) -> None:
    manifest = k3d_copy.k3d_dir / "manifests" / "23-dapr-subscriptions.yaml"
    edit(manifest, "pubsubname: featurebus", "pubsubname: nobus")
    found = joined(k3d_copy.check_consistency())
    assert "Subscription declared names pubsub nobus, which is not defined" in found


def test_the_feature_resources_are_required(k3d_copy: Validator) -> None:
    (k3d_copy.k3d_dir / "manifests" / "23-dapr-subscriptions.yaml").unlink()
    found = joined(k3d_copy.check_consistency())
    assert "no Subscription named declared" in found
    assert (
        "Subscription declared of system_under_test/resources is not in the k3d manifests" in found
    )


def test_manifests_mirror_the_local_resources(k3d_copy: Validator) -> None:
    manifests = k3d_copy.k3d_dir / "manifests"
    edit(manifests / "22-dapr-components.yaml", "answers-dead-letter,unsubscribed", "answers")
    edit(manifests / "21-dapr-resiliency.yaml", "maxRetries: 3", "maxRetries: 4")
    edit(manifests / "23-dapr-subscriptions.yaml", "  - service-1", "  - service-2")
    found = joined(k3d_copy.check_consistency())
    assert (
        "Component featurebus: publishingScopes differs from system_under_test/resources" in found
    )
    assert "Resiliency suite-resiliency: spec differs from system_under_test/resources" in found
    assert "Subscription declared: scopes differ from system_under_test/resources" in found


# --- k3d config ---


def test_k3d_keeps_parity_with_the_local_stack(k3d_copy: Validator) -> None:
    manifest = k3d_copy.k3d_dir / "manifests" / "30-service-1.yaml"
    edit(
        manifest,
        "        dapr.io/log-level: info\n",
        '        dapr.io/log-level: info\n        dapr.io/enable-api-logging: "true"\n',
    )
    edit(manifest, "    type: Recreate", "    type: RollingUpdate")
    edit(manifest, 'value: "6060"', 'value: "6061"')
    found = "\n".join(k3d_copy.check_consistency())
    assert "Deployment service-1: API logging is off on the local stack" in found
    assert "Deployment service-1: APP_PORT differs from dapr.io/app-port" in found
    assert "Deployment service-1: strategy must be Recreate" in found


def test_prometheus_keeps_the_cadvisor_job(k3d_copy: Validator) -> None:
    values = k3d_copy.k3d_dir / "values" / "prometheus.yaml"
    edit(
        values,
        "  kubernetes-services:\n",
        "  kubernetes-nodes-cadvisor:\n    enabled: false\n  kubernetes-services:\n",
    )
    assert "cadvisor" in joined(problems_of(k3d_copy, "k3d/values/prometheus.yaml"))


def test_bad_k3d_config_key_fails(k3d_copy: Validator) -> None:
    edit(k3d_copy.k3d_dir / "cluster.yaml", "agents: 2", "agents: 2\nworkers: 2")
    found = joined(problems_of(k3d_copy, "k3d/cluster.yaml"))
    assert "Additional properties are not allowed ('workers' was unexpected)" in found


def test_bad_k3d_config_value_fails(k3d_copy: Validator) -> None:
    config = k3d_copy.k3d_dir / "cluster.yaml"
    edit(config, "servers: 1", "servers: one")
    edit(config, "switchCurrentContext: false", "switchCurrentContext: no-thanks")
    found = joined(problems_of(k3d_copy, "k3d/cluster.yaml"))
    assert "servers: 'one' is not of type 'number'" in found
    assert "switchCurrentContext: 'no-thanks' is not of type 'boolean'" in found


def test_k3d_rules_beyond_the_schema(k3d_copy: Validator) -> None:
    config = k3d_copy.k3d_dir / "cluster.yaml"
    edit(config, "      - arg: --disable=servicelb", "      - arg: --disable=metrics-server")
    edit(config, "nodeFilters: [server:*, agent:*]", "nodeFilters: [servers:first]")
    edit(config, "port: 127.0.0.1:17070:30070", "port: 17070:30070")
    edit(config, "image: rancher/k3s:v1.32.5-k3s1", "image: rancher/k3s:latest")
    found = joined(problems_of(k3d_copy, "k3d/cluster.yaml"))
    assert "lacks --disable=servicelb" in found
    assert "bad node filter 'servers:first'" in found
    assert "'17070:30070' is not 127.0.0.1:HOST:NODEPORT" in found
    assert "pin a k3s version" in found


def test_port_mapping_to_an_unknown_node_port_fails(k3d_copy: Validator) -> None:
    edit(k3d_copy.k3d_dir / "cluster.yaml", "127.0.0.1:13000:30300", "127.0.0.1:13000:30301")
    found = joined(k3d_copy.check_consistency())
    assert "maps 13000 to NodePort 30301, which no Service has" in found
    assert "NodePort 30300 (Grafana (helm values)) has no host port" in found


def test_lib_sh_ports_must_match_cluster_yaml(k3d_copy: Validator) -> None:
    edit(k3d_copy.k3d_dir / "lib.sh", "GRAFANA_PORT=13000", "GRAFANA_PORT=13001")
    assert "lib.sh GRAFANA_PORT=13001 is not a host port" in joined(k3d_copy.check_consistency())


# --- shell scripts ---


def test_shellcheck_error_fails(k3d_copy: Validator) -> None:
    edit(k3d_copy.k3d_dir / "down.sh", 'step "Done"', "for f in $(ls *.yaml); do echo $f; done")
    found = joined(problems_of(k3d_copy, "k3d/down.sh"))
    assert "SC2045" in found or "SC2086" in found


def test_script_without_strict_mode_fails(k3d_copy: Validator) -> None:
    edit(k3d_copy.k3d_dir / "up.sh", "set -euo pipefail\n", "set -e\n")
    assert "set -euo pipefail" in joined(problems_of(k3d_copy, "k3d/up.sh"))


def test_script_must_be_executable(k3d_copy: Validator) -> None:
    (k3d_copy.k3d_dir / "down.sh").chmod(0o644)
    assert "not executable" in joined(problems_of(k3d_copy, "k3d/down.sh"))


def test_missing_shellcheck_is_a_failure(validator: Validator, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    report = validator.check_file(REPO_ROOT / "k3d" / "up.sh")
    assert not report.ok
    assert "shellcheck is not installed" in report.problems[0]


# --- GitHub workflow ---


def test_unpinned_action_fails(k3d_copy: Validator) -> None:
    edit(
        k3d_copy.k3d_dir / "github-workflow.yaml", "actions/checkout@v4.2.2", "actions/checkout@v4"
    )
    found = joined(problems_of(k3d_copy, "k3d/github-workflow.yaml"))
    assert "'actions/checkout@v4' is not pinned" in found


def test_artifacts_and_teardown_must_run_always(k3d_copy: Validator) -> None:
    workflow = k3d_copy.k3d_dir / "github-workflow.yaml"
    data = yaml.safe_load(workflow.read_text())
    for step in data["jobs"]["k3d-e2e"]["steps"]:
        step.pop("if", None)
    workflow.write_text(yaml.safe_dump(data, sort_keys=False))
    found = joined(problems_of(k3d_copy, "k3d/github-workflow.yaml"))
    assert found.count("artifacts must be uploaded with if: always()") == 2
    assert "(Delete the cluster): must run with if: always()" in found


def test_required_commands_must_be_there(k3d_copy: Validator) -> None:
    workflow = k3d_copy.k3d_dir / "github-workflow.yaml"
    data = yaml.safe_load(workflow.read_text())
    steps = data["jobs"]["k3d-e2e"]["steps"]
    data["jobs"]["k3d-e2e"]["steps"] = [s for s in steps if "tox -e load" not in s.get("run", "")]
    for step in data["jobs"]["k3d-e2e"]["steps"]:
        if step.get("run") == "E2E_TARGET=k3d tox -e e2e":
            step["run"] = "tox -e e2e"
    workflow.write_text(yaml.safe_dump(data, sort_keys=False))
    found = joined(problems_of(k3d_copy, "k3d/github-workflow.yaml"))
    assert "no step runs 'E2E_TARGET=k3d tox -e e2e'" in found
    assert "no step runs 'E2E_TARGET=k3d tox -e load'" in found


def test_run_blocks_are_shellchecked(k3d_copy: Validator) -> None:
    edit(k3d_copy.k3d_dir / "github-workflow.yaml", 'mkdir -p "$LOGS_DIR"', "mkdir -p $LOGS_DIR")
    assert "SC2086" in joined(problems_of(k3d_copy, "k3d/github-workflow.yaml"))


def test_workflow_env_step_counts_for_required_commands() -> None:
    steps: list[dict[str, Any]] = [
        {"run": "k3d/up.sh"},
        {"run": "tox -e e2e", "env": {"E2E_TARGET": "k3d"}},
        {"run": "tox -e load", "env": {"E2E_TARGET": "k3d"}},
        {"run": "kubectl logs -l app=x -c daprd"},
        {"run": "./k3d/down.sh"},
    ]
    assert required_commands([("step", step) for step in steps]) == []


# --- helm values ---


def test_slow_scrape_interval_fails(k3d_copy: Validator) -> None:
    edit(
        k3d_copy.k3d_dir / "values" / "prometheus.yaml",
        "scrape_interval: 2s",
        "scrape_interval: 1m",
    )
    assert "scrape_interval must be 1s..5s" in joined(
        problems_of(k3d_copy, "k3d/values/prometheus.yaml")
    )


def test_grafana_needs_the_dapr_data_source(k3d_copy: Validator) -> None:
    edit(k3d_copy.k3d_dir / "values" / "grafana.yaml", "- name: Dapr", "- name: Prometheus")
    assert "named 'Dapr'" in joined(problems_of(k3d_copy, "k3d/values/grafana.yaml"))


def test_values_must_parse(k3d_copy: Validator) -> None:
    (k3d_copy.k3d_dir / "values" / "grafana.yaml").write_text("service: {type: NodePort\n")
    assert "not YAML" in joined(problems_of(k3d_copy, "k3d/values/grafana.yaml"))


def test_parse_duration() -> None:
    assert parse_duration("2s") == 2
    assert parse_duration("500ms") == 0.5
    assert parse_duration("1m") == 60
    assert parse_duration("2 s") is None


# --- dashboard ---


def test_dashboard_with_an_unknown_metric_fails(k3d_copy: Validator) -> None:
    edit(
        k3d_copy.k3d_dir / "dashboards" / "pubsub.json",
        "rate(dapr_runtime_service_invocation_req_sent_total[",
        "rate(dapr_runtime_service_invocation_requests_sent_total[",
    )
    found = joined(problems_of(k3d_copy, "k3d/dashboards/pubsub.json"))
    assert "unknown metric dapr_runtime_service_invocation_requests_sent_total" in found


def test_dashboard_with_another_data_source_fails(k3d_copy: Validator) -> None:
    edit(
        k3d_copy.k3d_dir / "dashboards" / "pubsub.json", '"datasource": "Dapr"', '"datasource": "P"'
    )
    assert "data source is not 'Dapr'" in joined(
        problems_of(k3d_copy, "k3d/dashboards/pubsub.json")
    )


def test_dashboard_with_unbalanced_parentheses_fails(k3d_copy: Validator) -> None:
    edit(
        k3d_copy.k3d_dir / "dashboards" / "pubsub.json",
        "(rate(dapr_resiliency_count[$__rate_interval]))",
        "(rate(dapr_resiliency_count[$__rate_interval])",
    )
    assert "unclosed '('" in joined(problems_of(k3d_copy, "k3d/dashboards/pubsub.json"))


# --- where the schemas come from ---


def test_without_go_the_check_fails_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    fresh = Validator(REPO_ROOT, env={})
    report = fresh.check_file(REPO_ROOT / "k3d" / "cluster.yaml")
    assert report.problems == [
        "cannot check: Go is needed to read github.com/k3d-io/k3d/v5@v5.9.0 (install Go 1.21+)"
    ]


def test_module_dirs_can_be_given(validator: Validator, monkeypatch: pytest.MonkeyPatch) -> None:
    k3d_module = Path(validator.k3d_schema_path).parents[3]
    monkeypatch.setenv("PATH", "/nonexistent")  # no Go needed when both are given
    env = {"DAPR_MODULE_DIR": str(validator.dapr_module_dir), "K3D_MODULE_DIR": str(k3d_module)}
    fresh = Validator(REPO_ROOT, env=env)
    assert fresh.check_file(REPO_ROOT / "k3d" / "cluster.yaml").problems == []
    manifest = REPO_ROOT / "k3d" / "manifests" / "22-dapr-components.yaml"
    assert fresh.check_file(manifest).problems == []
    wrong = Validator(REPO_ROOT, env={"DAPR_MODULE_DIR": "/nonexistent"})
    assert (
        "DAPR_MODULE_DIR=/nonexistent is not a directory" in wrong.check_file(manifest).problems[0]
    )


def test_kubernetes_newer_than_the_schemas_is_a_failure(k3d_copy: Validator) -> None:
    edit(k3d_copy.k3d_dir / "cluster.yaml", "rancher/k3s:v1.32.5-k3s1", "rancher/k3s:v9.99.0-k3s1")
    found = joined(problems_of(k3d_copy, "k3d/manifests/10-redis.yaml"))
    assert "no schemas for Kubernetes 9.99" in found


def test_images_and_workflow_versions_must_agree(k3d_copy: Validator) -> None:
    edit(
        k3d_copy.k3d_dir / "manifests" / "31-service-2.yaml",
        "image: k3d-dapr-suite-registry:5111/service-2:dev",
        "image: service-2:latest",
    )
    edit(k3d_copy.k3d_dir / "github-workflow.yaml", "K3D_VERSION: v5.9.0", "K3D_VERSION: v5.8.3")
    found = joined(k3d_copy.check_consistency())
    assert "image must be k3d-dapr-suite-registry:5111/service-2:dev" in found
    assert "K3D_VERSION=v5.8.3, the checks use v5.9.0" in found
