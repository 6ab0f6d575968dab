"""up.sh and down.sh run for real against stand-in docker, k3d, helm, kubectl and go.

The stand-ins log every call and keep a little state (does the cluster exist?), so the
scripts' logic is exercised end to end: tool checks, ordering (the injector is ready
before any app is applied), idempotence, image pinning, and tear-down.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.settings import REPO_ROOT

pytestmark = pytest.mark.k3d

BASH = shutil.which("bash") or "/bin/bash"
DIGEST1 = "sha256:" + "a" * 64
DIGEST2 = "sha256:" + "b" * 64

STUBS = {
    "docker": f"""
case "$1" in
  info) exit "${{STUB_DOCKER_INFO_RC:-0}}" ;;
  push)
    case "$2" in
      *service-1*) echo "dev: digest: {DIGEST1} size: 1234" ;;
      *) echo "dev: digest: {DIGEST2} size: 1234" ;;
    esac ;;
esac
""",
    "k3d": """
case "$1 $2" in
  "cluster get") [[ -e "$STUB_STATE/cluster" ]]; exit $? ;;
  "cluster create") touch "$STUB_STATE/cluster" "$STUB_STATE/registry" ;;
  "cluster delete") rm -f "$STUB_STATE/cluster" "$STUB_STATE/registry" "$STUB_STATE/cksum" ;;
  "registry list")
    if [[ -e "$STUB_STATE/registry" ]]; then echo "k3d-dapr-suite-registry  registry"; fi ;;
  "registry delete") rm -f "$STUB_STATE/registry" ;;
esac
""",
    "helm": "",
    "kubectl": """
args=" $* "
if [[ "$args" == *" get pods "* ]]; then
  # deletionTimestamp|containers: a pod still terminating, then the live one
  echo "2026-01-01T00:00:00Z|app"
  if [[ -n "${STUB_NO_PODS:-}" ]]; then exit 0; fi
  if [[ -n "${STUB_NO_SIDECAR:-}" ]]; then echo "|app"; else echo "|app daprd"; fi
  exit 0
fi
if [[ "$args" == *" get configmap dapr-suite-cluster "* ]]; then
  cat "$STUB_STATE/cksum" 2>/dev/null
  exit 0
fi
if [[ "$args" == *"--from-literal=cluster-yaml-cksum="* ]]; then
  sum=${args##*cluster-yaml-cksum=}
  echo "${sum%% *}" >"$STUB_STATE/cksum"
fi
if [[ "$args" == *" create configmap "* ]]; then
  printf 'apiVersion: v1\\nkind: ConfigMap\\n'
  exit 0
fi
if [[ "$args" == *" -f - "* ]]; then cat >/dev/null; exit 0; fi
prev=""
for arg in "$@"; do
  if [[ "$prev" == "-f" && -f "$arg" ]]; then cp "$arg" "$STUB_STATE/applied-${arg##*/}"; fi
  prev=$arg
done
""",
    "go": """
case "$1 ${2:-}" in
  "env GOMODCACHE") echo "$STUB_STATE/gomod" ;;
  "mod download")
    dir="$STUB_STATE/gomod/github.com/dapr/dapr@v1.18.3/grafana"
    mkdir -p "$dir" && echo '{}' >"$dir/grafana-sidecar-dashboard.json" ;;
esac
""",
}


@dataclass
class Stubs:
    bin: Path
    state: Path
    log: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "HOME": str(self.state),
            "TMPDIR": str(self.state),
            "STUB_STATE": str(self.state),
            "STUB_LOG": str(self.log),
        }
        env.update(extra)
        return env

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def applied(self, name: str) -> str:
        return (self.state / f"applied-{name}").read_text()


@pytest.fixture
def stubs(tmp_path: Path) -> Stubs:
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    for tool, body in STUBS.items():
        path = bin_dir / tool
        path.write_text(f'#!{BASH}\necho "{tool} $*" >>"$STUB_LOG"\n{body}\nexit 0\n')
        path.chmod(0o755)
    return Stubs(bin_dir, state, tmp_path / "calls.log")


def run(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BASH, str(REPO_ROOT / "k3d" / script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )


def index_of(calls: list[str], fragment: str) -> int:
    for index, call in enumerate(calls):
        if fragment in call:
            return index
    raise AssertionError(f"no call with {fragment!r} in:\n" + "\n".join(calls))


@pytest.mark.parametrize("script", ["up.sh", "down.sh"])
def test_missing_tools_are_listed_together(tmp_path: Path, script: str) -> None:
    result = run(script, {"PATH": str(tmp_path)})
    assert result.returncode == 1
    assert result.stderr.startswith("error: missing tools: docker k3d")
    assert "https://k3d.io" in result.stderr
    if script == "up.sh":
        assert "error: missing tools: docker k3d helm kubectl\n" in result.stderr
        assert "https://helm.sh" in result.stderr


def test_only_the_missing_tools_are_named(stubs: Stubs) -> None:
    (stubs.bin / "helm").unlink()
    (stubs.bin / "k3d").unlink()
    result = run("up.sh", {**stubs.env(), "PATH": str(stubs.bin)})
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "error: missing tools: k3d helm"


def test_docker_daemon_down_is_one_message(stubs: Stubs) -> None:
    result = run("up.sh", stubs.env(STUB_DOCKER_INFO_RC="1"))
    assert result.returncode == 1
    assert "daemon does not answer" in result.stderr
    assert not any(call.startswith("k3d ") for call in stubs.calls())


def test_up_builds_everything_in_order(stubs: Stubs) -> None:
    result = run("up.sh", stubs.env(T2_DELAY_SECONDS="3"))
    assert result.returncode == 0, result.stdout + result.stderr
    calls = stubs.calls()
    root = str(REPO_ROOT)

    create = index_of(calls, f"k3d cluster create --config {root}/k3d/cluster.yaml")
    build = index_of(
        calls,
        f"docker build -f {root}/system_under_test/service1/Dockerfile "
        f"-t 127.0.0.1:5111/service-1:dev {root}",
    )
    index_of(calls, f"docker build -f {root}/system_under_test/service2/Dockerfile")
    push = index_of(calls, "docker push 127.0.0.1:5111/service-1:dev")
    load = index_of(calls, f"docker build -f {root}/loadtests/Dockerfile -t 127.0.0.1:5111/load")
    load_push = index_of(calls, "docker push 127.0.0.1:5111/load:dev")
    dapr = index_of(
        calls,
        "helm --kube-context k3d-dapr-suite upgrade --install dapr dapr/dapr --version 1.18.3 "
        f"--namespace dapr-system --create-namespace -f {root}/k3d/values/dapr.yaml --wait",
    )
    crds = index_of(calls, "helm pull dapr/dapr --version 1.18.3 --untar")
    assert crds < dapr
    injector = index_of(calls, "rollout status deployment/dapr-sidecar-injector")
    available = index_of(calls, "wait --for=condition=Available deployment/dapr-sidecar-injector")
    redis = index_of(calls, "00-namespaces.yaml")  # the first manifest applied
    redis_ready = index_of(calls, "rollout status deployment/redis-leader")
    components = index_of(calls, "22-dapr-components.yaml")
    app = index_of(calls, "30-service-1.yaml")
    app_ready = index_of(calls, "rollout status deployment/service-1")
    prometheus = index_of(calls, "upgrade --install prometheus prometheus-community/prometheus")
    grafana = index_of(calls, "upgrade --install grafana grafana/grafana")
    assert create < build < push < load < load_push < dapr < injector < available < redis
    assert redis_ready < components < app < app_ready < prometheus < grafana

    assert "--version 29.27.0" in calls[prometheus]
    assert f"-f {root}/k3d/values/prometheus.yaml" in calls[prometheus]
    assert "--version 10.5.15" in calls[grafana]
    assert f"-f {root}/k3d/values/grafana.yaml" in calls[grafana]
    assert all("--context k3d-dapr-suite" in c for c in calls if c.startswith("kubectl "))

    service1 = stubs.applied("30-service-1.yaml")
    assert f"image: k3d-dapr-suite-registry:5111/service-1:dev@{DIGEST1}" in service1
    assert 'value: "3" # T2_DELAY_SECONDS' in service1
    service2 = stubs.applied("31-service-2.yaml")
    assert f"image: k3d-dapr-suite-registry:5111/service-2:dev@{DIGEST2}" in service2

    dashboards = calls[index_of(calls, "create configmap grafana-dashboards-dapr")]
    assert "github.com/dapr/dapr@v1.18.3/grafana/grafana-sidecar-dashboard.json" in dashboards
    suite = calls[index_of(calls, "create configmap grafana-dashboards-suite")]
    assert f"--from-file={root}/k3d/dashboards/pubsub.json" in suite
    assert index_of(calls, "create configmap grafana-dashboards-suite") < grafana

    for step in ("==> Cluster dapr-suite", "==> Dapr 1.18.3", "==> Ready"):
        assert step in result.stdout
    assert "service-1          http://127.0.0.1:16060" in result.stdout
    assert "Grafana            http://127.0.0.1:13000" in result.stdout


def test_up_twice_converges(stubs: Stubs) -> None:
    assert run("up.sh", stubs.env()).returncode == 0
    first = len(stubs.calls())
    second = run("up.sh", stubs.env())
    assert second.returncode == 0, second.stderr
    calls = stubs.calls()[first:]
    assert not any("cluster create" in call for call in calls)
    index_of(calls, "k3d cluster start dapr-suite")
    index_of(calls, "k3d kubeconfig merge dapr-suite --kubeconfig-merge-default")
    assert all("upgrade --install" in c for c in calls if c.startswith("helm --kube-context"))


def test_an_edited_cluster_yaml_recreates_the_cluster(stubs: Stubs) -> None:
    assert run("up.sh", stubs.env()).returncode == 0
    (stubs.state / "cksum").write_text("1\n")  # as if cluster.yaml was another file then
    first = len(stubs.calls())
    second = run("up.sh", stubs.env())
    assert second.returncode == 0, second.stderr
    assert "cluster.yaml changed since the cluster was made" in second.stderr
    calls = stubs.calls()[first:]
    assert index_of(calls, "k3d cluster delete dapr-suite") < index_of(calls, "k3d cluster create")


def test_up_without_go_still_gives_grafana_its_config_maps(stubs: Stubs) -> None:
    (stubs.bin / "go").unlink()
    result = run("up.sh", stubs.env())
    assert result.returncode == 0, result.stderr
    assert "Grafana gets no Dapr dashboards" in result.stderr
    calls = stubs.calls()
    dapr = calls[index_of(calls, "create configmap grafana-dashboards-dapr")]
    assert "--from-file" not in dapr


def test_bad_t2_delay_stops_before_anything_is_applied(stubs: Stubs) -> None:
    result = run("up.sh", stubs.env(T2_DELAY_SECONDS="soon"))
    assert result.returncode == 1
    assert "T2_DELAY_SECONDS=soon is not a number" in result.stderr
    # only the cluster's own record of cluster.yaml (from stdin), no manifest
    assert [c for c in stubs.calls() if " apply " in c] == [
        "kubectl --context k3d-dapr-suite apply -f -"
    ]


def test_pod_without_sidecar_is_restarted_then_reported(stubs: Stubs) -> None:
    result = run("up.sh", stubs.env(STUB_NO_SIDECAR="1"))
    assert result.returncode == 1
    calls = stubs.calls()
    index_of(calls, "rollout restart deployment/service-1")
    assert "service-1 still runs without a daprd sidecar" in result.stderr


def test_no_pod_yet_is_not_ready_rather_than_a_restart(stubs: Stubs) -> None:
    result = run("up.sh", stubs.env(STUB_NO_PODS="1"))
    assert result.returncode == 1
    assert "service-1 has no pod yet (not ready)" in result.stderr
    assert not any("rollout restart" in call for call in stubs.calls())


def test_a_leftover_registry_is_removed_before_create(stubs: Stubs) -> None:
    (stubs.state / "registry").touch()
    assert run("up.sh", stubs.env()).returncode == 0
    calls = stubs.calls()
    assert index_of(calls, "k3d registry delete k3d-dapr-suite-registry") < index_of(
        calls, "k3d cluster create"
    )


def test_down_deletes_then_is_idempotent(stubs: Stubs) -> None:
    (stubs.state / "cluster").touch()
    (stubs.state / "registry").touch()
    first = run("down.sh", stubs.env())
    assert first.returncode == 0, first.stderr
    index_of(stubs.calls(), "k3d cluster delete dapr-suite")
    assert not (stubs.state / "cluster").exists()
    before = len(stubs.calls())
    second = run("down.sh", stubs.env())
    assert second.returncode == 0, second.stderr
    assert not any("delete" in call for call in stubs.calls()[before:])
    assert second.stdout.count("not there") == 2


def test_scripts_work_from_any_directory(stubs: Stubs, tmp_path: Path) -> None:
    result = subprocess.run(
        [BASH, os.path.relpath(REPO_ROOT / "k3d" / "down.sh", tmp_path)],
        capture_output=True,
        text=True,
        env=stubs.env(),
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_failed_image_build_stops_the_run(stubs: Stubs) -> None:
    docker = stubs.bin / "docker"
    docker.write_text(
        docker.read_text().replace('case "$1" in', 'case "$1" in\n  build) exit 1 ;;')
    )
    result = run("up.sh", stubs.env())
    assert result.returncode == 1
    assert "docker build of service-1 failed" in result.stderr
    assert not any("docker push" in call for call in stubs.calls())
    assert not any(call.startswith("helm ") for call in stubs.calls())
