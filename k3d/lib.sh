# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables are read by the scripts that source this file
# Shared by up.sh and down.sh: names, pinned versions, host ports and small helpers.
# Sourced, never run. Written for bash 3.2 too (macOS): no associative arrays, no mapfile.

# Where this file lives, found with builtins only so the tool check can run first.
case "${BASH_SOURCE[0]}" in
  */*) K3D_DIR=$(cd "${BASH_SOURCE[0]%/*}" && pwd) ;;
  *) K3D_DIR=$(pwd) ;;
esac
REPO_ROOT=$(cd "$K3D_DIR/.." && pwd)

CLUSTER_NAME=dapr-suite
KUBE_CONTEXT="k3d-$CLUSTER_NAME"
APP_NAMESPACE=dapr-suite
MONITORING_NAMESPACE=monitoring
DAPR_NAMESPACE=dapr-system

# Images are pushed to the registry's host port and pulled by its in-cluster name.
REGISTRY_NAME=k3d-dapr-suite-registry
REGISTRY_PUSH="127.0.0.1:5111"
REGISTRY_PULL="$REGISTRY_NAME:5111"
IMAGE_TAG=dev

# Pinned versions; each can be overridden from the environment.
DAPR_VERSION="${DAPR_VERSION:-1.18.3}"
DAPR_VERSION="${DAPR_VERSION#v}"
PROMETHEUS_CHART_VERSION="${PROMETHEUS_CHART_VERSION:-29.27.0}"
# grafana/helm-charts froze its grafana chart at 10.5.15 (it moved to
# grafana-community/helm-charts); set both variables to use the newer home.
GRAFANA_REPO_URL="${GRAFANA_REPO_URL:-https://grafana.github.io/helm-charts}"
GRAFANA_CHART_VERSION="${GRAFANA_CHART_VERSION:-10.5.15}"
WAIT_TIMEOUT="${WAIT_TIMEOUT:-300s}"

# Host ports, all on 127.0.0.1: keep in step with cluster.yaml (the offline checks
# compare them).
SERVICE1_PORT=16060
SERVICE2_PORT=17070
DAPRD1_METRICS_PORT=19091
DAPRD2_METRICS_PORT=19092
PROMETHEUS_PORT=19090
GRAFANA_PORT=13000
JAEGER_PORT=16686

step() { printf '\n==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

install_hint() {
  case "$1" in
    docker) echo "Docker Engine or Docker Desktop: https://docs.docker.com/get-docker/" ;;
    k3d) echo "k3d v5: https://k3d.io/#installation (e.g. brew install k3d)" ;;
    helm) echo "Helm 3: https://helm.sh/docs/intro/install/ (e.g. brew install helm)" ;;
    kubectl) echo "kubectl: https://kubernetes.io/docs/tasks/tools/ (e.g. brew install kubectl)" ;;
    *) echo "install it and put it on PATH" ;;
  esac
}

# require_tools TOOL...: one message naming every missing tool, then exit 1.
require_tools() {
  local tool missing=""
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
  done
  if [[ -n "$missing" ]]; then
    printf 'error: missing tools:%s\n' "$missing" >&2
    for tool in $missing; do
      printf '  %-8s %s\n' "$tool" "$(install_hint "$tool")" >&2
    done
    exit 1
  fi
}

require_docker_daemon() {
  docker info >/dev/null 2>&1 ||
    die "docker is installed but its daemon does not answer: start Docker and run again"
}

cluster_exists() { k3d cluster get "$CLUSTER_NAME" >/dev/null 2>&1; }

registry_exists() {
  k3d registry list --no-headers 2>/dev/null | awk '{print $1}' | grep -qx "$REGISTRY_NAME"
}

# Every kubectl and helm call names the cluster's context, whatever the current one is.
kc() { kubectl --context "$KUBE_CONTEXT" "$@"; }
hc() { helm --kube-context "$KUBE_CONTEXT" "$@"; }
