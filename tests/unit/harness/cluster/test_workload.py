"""The workload on the node: k3d's manifests as applied here, Prometheus rendered from
k3d's values, k3d's host ports and the target settings that reach them (no cluster runs)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from harness.cluster import __main__ as cluster_main
from harness.cluster import port_mappings, prometheus, workload
from harness.cluster.__main__ import main
from harness.errors import HarnessError


def test_every_image_the_manifests_name_has_a_local_build() -> None:
    refs = workload.images(workload.manifest_documents())
    assert set(refs) == {
        "k3d-dapr-suite-registry:5111/service-1:dev",
        "k3d-dapr-suite-registry:5111/service-2:dev",
        "redis:7.4.2",
        "jaegertracing/all-in-one:1.62.0",
        prometheus.IMAGE,
    }
    assert set(refs) <= set(workload.IMAGE_BUILDERS)


def test_an_image_without_a_build_is_named() -> None:
    with pytest.raises(HarnessError, match="no local build for image redis:8.0"):
        workload.ensure_images(("redis:8.0",), print)


def test_the_suites_own_images_are_built_again_and_pinned_ones_only_when_absent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[str] = []
    builders = {ref: (lambda p, ref=ref: built.append(ref)) for ref in workload.IMAGE_BUILDERS}
    shared = builders["k3d-dapr-suite-registry:5111/service-1:dev"]
    builders["k3d-dapr-suite-registry:5111/service-2:dev"] = shared  # one build makes both
    monkeypatch.setattr(workload, "IMAGE_BUILDERS", builders)
    monkeypatch.setattr(workload, "image_size", lambda ref: 1)  # every image is present
    workload.ensure_images(tuple(builders), print)
    assert built == ["k3d-dapr-suite-registry:5111/service-1:dev", workload.LOAD_MANIFEST_IMAGE]


def test_pull_policy_is_never_on_the_copies_and_the_manifests_stay_as_they_are() -> None:
    docs = workload.manifest_documents()
    services = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"]
                in ("service-1", "service-2")]  # fmt: skip
    assert {c["imagePullPolicy"] for d in services for c in workload.containers(d)} == {"Always"}
    applied = workload.never_pulled(docs)
    policies = {c["imagePullPolicy"] for d in applied for c in workload.containers(d)}
    assert policies == {"Never"}
    assert {c["imagePullPolicy"] for d in services for c in workload.containers(d)} == {"Always"}


def test_groups_follow_up_sh_order_by_file_prefix() -> None:
    docs = workload.manifest_documents()
    kinds = {(d["kind"], d["metadata"]["name"]) for d in workload._group(docs, "3")}
    assert ("Deployment", "service-1") in kinds
    assert ("Deployment", "redis-leader") not in kinds
    assert {d["kind"] for d in workload._group(docs, "2")} >= {"Component", "Configuration"}


def test_token_secrets_are_fresh_and_named_as_the_annotations_read_them() -> None:
    first, second = workload.token_secrets(), workload.token_secrets()
    assert [s["metadata"]["name"] for s in first] == [
        "dapr-api-token", "app-api-token", "suite-api-token"]  # fmt: skip
    tokens = [base64.b64decode(s["data"]["token"]).decode() for s in first]
    assert all(len(t) == 64 for t in tokens) and len(set(tokens)) == 3
    assert first[0]["data"] != second[0]["data"]


def test_prometheus_follows_the_values() -> None:
    docs = {d["kind"]: d for d in prometheus.manifests()}
    service = docs["Service"]["spec"]
    assert service["type"] == "NodePort" and service["ports"][0]["nodePort"] == 30090
    assert service["ports"][0]["port"] == 80 and service["ports"][0]["targetPort"] == 9090
    config = yaml.safe_load(docs["ConfigMap"]["data"]["prometheus.yml"])
    assert config["global"] == {"scrape_interval": "2s", "scrape_timeout": "2s",
                                "evaluation_interval": "5s"}  # fmt: skip
    jobs = [job["job_name"] for job in config["scrape_configs"]]
    assert jobs == ["prometheus", "kubernetes-nodes-cadvisor", "kubernetes-service-endpoints",
                    "kubernetes-pods"]  # fmt: skip
    container = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert "--storage.tsdb.retention.time=6h" in container["args"]
    assert container["resources"]["limits"] == {"memory": "2Gi"}


def test_a_job_switched_off_in_the_values_is_not_scraped() -> None:
    values = prometheus.values()
    values["scrapeConfigs"]["kubernetes-pods"] = {"enabled": False}
    jobs = [job["job_name"] for job in prometheus.config(values)["scrape_configs"]]
    assert "kubernetes-pods" not in jobs and "kubernetes-service-endpoints" in jobs


def test_service_endpoints_job_scrapes_the_annotated_port() -> None:
    job = prometheus.scrape_jobs(prometheus.values())[2]
    address = next(r for r in job["relabel_configs"] if r.get("target_label") == "__address__")
    assert address["source_labels"] == [
        "__address__", "__meta_kubernetes_service_annotation_prometheus_io_port"]  # fmt: skip


def test_host_ports_are_k3d_s_moved_by_the_offset_and_relay_to_the_node_port() -> None:
    found = {m.name: m for m in port_mappings.mappings(13000, {30060, 30090})}
    assert set(found) == {"service-1", "prometheus"}
    assert found["service-1"].url == "http://127.0.0.1:29060"
    assert found["service-1"].relay_argv() == [
        "socat",
        "TCP-LISTEN:29060,bind=127.0.0.1,reuseaddr,fork,backlog=128",
        "TCP:10.244.0.1:30060",
    ]


def test_an_offset_that_moves_a_host_port_out_of_range_is_one_line() -> None:
    with pytest.raises(HarnessError, match="port 33091 for daprd service-1 host port"):
        port_mappings.mappings(14000)


def test_target_env_points_the_k8s_target_at_the_host_ports() -> None:
    env = port_mappings.target_env(port_mappings.mappings(0), "/k/config", "suite")
    assert env["E2E_TARGET"] == "k8s" and env["K3D_CONTEXT"] == "suite"
    assert env["K3D_SERVICE1_URL"] == "http://127.0.0.1:16060"
    assert env["K3D_DAPRD_METRICS_URLS"] == (
        "service-1=http://127.0.0.1:19091/metrics,service-2=http://127.0.0.1:19092/metrics"
    )


def test_env_and_run_without_a_cluster_are_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HARNESS_CLUSTER_RUN_DIR", str(tmp_path / "cluster"))
    monkeypatch.delenv("HARNESS_PORT_OFFSET", raising=False)
    assert main(["env"]) == 2
    assert main(["run", "true"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["error: no ready cluster: run `python -m harness.cluster up` first"] * 2


def test_only_run_takes_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["status", "pytest"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == "error: status takes no arguments\n"


def test_run_names_a_command_that_is_not_there(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster_main, "ready_env", lambda s: {"E2E_TARGET": "k8s"})
    assert main(["run", "pytset", "e2e"]) == 2
    assert capsys.readouterr().err == "error: run: 'pytset' is not a command found on PATH\n"
