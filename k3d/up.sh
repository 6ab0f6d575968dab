#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Bring up (or converge) the suite's k3d cluster: Dapr, Redis, Jaeger, the two services,
# Prometheus and Grafana. Safe to run again: every step checks or applies, never
# duplicates. Settings from the environment: DAPR_VERSION, T2_DELAY_SECONDS, WAIT_TIMEOUT,
# PROMETHEUS_CHART_VERSION, GRAFANA_REPO_URL, GRAFANA_CHART_VERSION, DAPR_DASHBOARDS_DIR.
set -euo pipefail

case "${BASH_SOURCE[0]}" in
  */*) here=${BASH_SOURCE[0]%/*} ;;
  *) here=. ;;
esac
# shellcheck source=lib.sh
. "$here/lib.sh"

require_tools docker k3d helm kubectl
require_docker_daemon

RENDER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/dapr-suite-k3d.XXXXXX")
trap 'rm -rf "$RENDER_DIR"' EXIT

# cluster.yaml's checksum is kept in the cluster, so a later run sees an edited file.
CLUSTER_RECORD=dapr-suite-cluster
config_sum() { cksum <"$K3D_DIR/cluster.yaml" | awk '{ print $1 }'; }
recorded_sum() {
  kc -n kube-system get configmap "$CLUSTER_RECORD" \
    -o jsonpath='{.data.cluster-yaml-cksum}' 2>/dev/null || true
}
record_sum() {
  kc -n kube-system create configmap "$CLUSTER_RECORD" \
    --from-literal=cluster-yaml-cksum="$(config_sum)" --dry-run=client -o yaml | kc apply -f -
}

new_cluster() {
  if registry_exists; then
    info "removing registry $REGISTRY_NAME left over from an earlier cluster"
    k3d registry delete "$REGISTRY_NAME"
  fi
  k3d cluster create --config "$K3D_DIR/cluster.yaml"
}

create_cluster() {
  step "Cluster $CLUSTER_NAME"
  if cluster_exists; then
    info "exists; starting any stopped node"
    k3d cluster start "$CLUSTER_NAME"
    # The context may have been dropped from the kubeconfig since the cluster was made.
    k3d kubeconfig merge "$CLUSTER_NAME" --kubeconfig-merge-default --kubeconfig-switch-context=false >/dev/null
    # k3d cannot change the nodes or ports of an existing cluster: converge by recreating.
    if [[ "$(recorded_sum)" != "$(config_sum)" ]]; then
      warn "k3d/cluster.yaml changed since the cluster was made; recreating the cluster"
      k3d cluster delete "$CLUSTER_NAME"
      new_cluster
    fi
  else
    new_cluster
  fi
  kc wait --for=condition=Ready nodes --all --timeout="$WAIT_TIMEOUT"
  record_sum
}

# push_image NAME DOCKERFILE: build DOCKERFILE (relative to the repository), push it, print
# its digest. It runs in $(...), where bash 3.2 does not apply set -e: every step checks itself.
push_image() {
  local app=$1 dockerfile=$2 ref="$REGISTRY_PUSH/$1:$IMAGE_TAG" out digest
  info "building $ref" >&2
  docker build -f "$REPO_ROOT/$dockerfile" -t "$ref" "$REPO_ROOT" >&2 ||
    die "docker build of $app failed"
  info "pushing $ref" >&2
  out=$(docker push "$ref") || die "docker push $ref failed: $out"
  printf '%s\n' "$out" >&2
  digest=$(printf '%s\n' "$out" | grep -oE 'sha256:[0-9a-f]{64}' | tail -n 1 || true)
  if [[ -z "$digest" ]]; then
    digest=$(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$ref" |
      grep -F "$REGISTRY_PUSH/$app@" | grep -oE 'sha256:[0-9a-f]{64}' | head -n 1 || true)
  fi
  [[ -n "$digest" ]] || die "could not find the digest of $ref after pushing it"
  printf '%s\n' "$digest"
}

install_dapr() {
  step "Dapr $DAPR_VERSION (helm chart dapr/dapr, namespace $DAPR_NAMESPACE)"
  # helm installs a chart's CRDs on the first install only and never upgrades them:
  # apply this release's CRDs server-side first, so a changed DAPR_VERSION gets its own.
  info "Dapr $DAPR_VERSION CRDs"
  helm pull dapr/dapr --version "$DAPR_VERSION" --untar --untardir "$RENDER_DIR/dapr-chart"
  if [[ -d "$RENDER_DIR/dapr-chart/dapr/crds" ]]; then
    kc apply --server-side --force-conflicts -f "$RENDER_DIR/dapr-chart/dapr/crds"
  fi
  hc upgrade --install dapr dapr/dapr --version "$DAPR_VERSION" \
    --namespace "$DAPR_NAMESPACE" --create-namespace -f "$K3D_DIR/values/dapr.yaml" \
    --wait --timeout 10m
  # The injector's webhook fails open: a pod created before it answers gets no sidecar.
  info "waiting for dapr-sidecar-injector"
  kc -n "$DAPR_NAMESPACE" rollout status deployment/dapr-sidecar-injector --timeout="$WAIT_TIMEOUT"
  kc -n "$DAPR_NAMESPACE" wait --for=condition=Available deployment/dapr-sidecar-injector \
    --timeout="$WAIT_TIMEOUT"
}

# render_manifests DIGEST1 DIGEST2: copy manifests/ to RENDER_DIR with the pushed images
# pinned by digest (a new build rolls the pods, an unchanged one leaves them) and
# T2_DELAY_SECONDS applied when set.
render_manifests() {
  local digest1=$1 digest2=$2 t2="${T2_DELAY_SECONDS:-}" file out
  if [[ -n "$t2" && ! "$t2" =~ ^[0-9]+([.][0-9]+)?$ ]]; then
    die "T2_DELAY_SECONDS=$t2 is not a number of seconds"
  fi
  for file in "$K3D_DIR"/manifests/*.yaml; do
    out="$RENDER_DIR/${file##*/}"
    sed -E \
      -e "s|(image: )$REGISTRY_PULL/service-1:[^ ]*|\\1$REGISTRY_PULL/service-1:$IMAGE_TAG@$digest1|" \
      -e "s|(image: )$REGISTRY_PULL/service-2:[^ ]*|\\1$REGISTRY_PULL/service-2:$IMAGE_TAG@$digest2|" \
      "$file" >"$out"
    if [[ -n "$t2" ]]; then
      sed -E "s|^( *value: )\"[^\"]*\"( *# T2_DELAY_SECONDS)|\\1\"$t2\"\\2|" "$out" >"$out.tmp"
      mv "$out.tmp" "$out"
    fi
  done
  grep -q "@$digest1" "$RENDER_DIR"/*.yaml || die "no manifest names the service-1 image"
  grep -q "@$digest2" "$RENDER_DIR"/*.yaml || die "no manifest names the service-2 image"
  if [[ -n "$t2" ]]; then
    grep -q "\"$t2\" *# T2_DELAY_SECONDS" "$RENDER_DIR"/*.yaml ||
      die "no manifest has the T2_DELAY_SECONDS marker"
    info "T2_DELAY_SECONDS=$t2"
  fi
}

# create_token_secrets: the Dapr API token, app token and suite token, one Secret each
# (key `token`, what Dapr's api-token-secret and app-token-secret annotations read).
# Made once and kept on later runs, so running pods keep working. The values go through
# a file readable by us only, never through a command line or the terminal.
create_token_secrets() {
  local name file
  step "Token secrets"
  for name in dapr-api-token app-api-token suite-api-token; do
    if kc -n "$APP_NAMESPACE" get secret "$name" >/dev/null 2>&1; then
      info "$name exists"
      continue
    fi
    file="$RENDER_DIR/$name"
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$file")
    kc -n "$APP_NAMESPACE" create secret generic "$name" --from-file=token="$file" >/dev/null
    rm -f "$file"
    info "$name created"
  done
}

# apply_group PREFIX: apply the rendered manifests whose names start with PREFIX.
apply_group() {
  local file
  for file in "$RENDER_DIR/$1"*.yaml; do
    [[ -e "$file" ]] || continue
    kc apply -f "$file"
  done
}

rollout() {
  local namespace=$1 name
  shift
  for name in "$@"; do
    kc -n "$namespace" rollout status "deployment/$name" --timeout="$WAIT_TIMEOUT"
  done
}

# pod_containers APP: the container names of each pod of APP, one pod a line. Pods being
# deleted are left out: after a restart they linger (without a sidecar) while they stop.
pod_containers() {
  kc -n "$APP_NAMESPACE" get pods -l "app=$1" \
    -o jsonpath='{range .items[*]}{.metadata.deletionTimestamp}{"|"}{.spec.containers[*].name} {.spec.initContainers[*].name}{"\n"}{end}' |
    awk -F'|' '$1 == "" && NF > 1 { print $2 }'
}

# A pod that slipped past the injector has no daprd: restart it once, then give up.
ensure_sidecar() {
  local app=$1 names
  names=$(pod_containers "$app")
  [[ -n "$names" ]] ||
    die "$app has no pod yet (not ready): check 'kubectl --context $KUBE_CONTEXT -n $APP_NAMESPACE get pods -l app=$app'"
  if printf '%s\n' "$names" | grep -v -q -w daprd; then
    warn "$app has a pod without daprd; restarting it"
    kc -n "$APP_NAMESPACE" rollout restart "deployment/$app"
    rollout "$APP_NAMESPACE" "$app"
    names=$(pod_containers "$app")
    if [[ -z "$names" ]] || printf '%s\n' "$names" | grep -v -q -w daprd; then
      die "$app still runs without a daprd sidecar: check 'kubectl --context $KUBE_CONTEXT -n $DAPR_NAMESPACE logs deployment/dapr-sidecar-injector'"
    fi
  fi
  info "$app runs with daprd"
}

# Dapr's dashboards come from the Dapr Go module (downloaded into the module cache), so
# the repository carries none of them. Prints the folder, or nothing when unavailable.
dapr_dashboards_dir() {
  local modcache dir
  if [[ -n "${DAPR_DASHBOARDS_DIR:-}" ]]; then
    printf '%s\n' "$DAPR_DASHBOARDS_DIR"
    return 0
  fi
  command -v go >/dev/null 2>&1 || return 0
  modcache=$(go env GOMODCACHE 2>/dev/null) || return 0
  dir="$modcache/github.com/dapr/dapr@v$DAPR_VERSION/grafana"
  if [[ ! -d "$dir" ]]; then
    info "downloading github.com/dapr/dapr@v$DAPR_VERSION for its dashboards" >&2
    (cd "$RENDER_DIR" && go mod download "github.com/dapr/dapr@v$DAPR_VERSION") >&2 || return 0
  fi
  if [[ -d "$dir" ]]; then printf '%s\n' "$dir"; fi
}

# dashboards_configmap NAME FILE...: create or update a config map of JSON dashboards.
# Server-side apply: the dashboards are too big for kubectl's last-applied annotation.
dashboards_configmap() {
  local name=$1 file
  shift
  # Turn the file list into --from-file flags in place (files that exist only).
  for file in "$@"; do
    shift
    if [[ -f "$file" ]]; then set -- "$@" "--from-file=$file"; fi
  done
  kc -n "$MONITORING_NAMESPACE" create configmap "$name" "$@" --dry-run=client -o yaml |
    kc apply --server-side --force-conflicts -f -
}

install_grafana() {
  local dir
  step "Grafana (chart grafana $GRAFANA_CHART_VERSION from $GRAFANA_REPO_URL)"
  dir=$(dapr_dashboards_dir)
  if [[ -n "$dir" && -d "$dir" ]]; then
    info "Dapr dashboards from $dir"
    dashboards_configmap grafana-dashboards-dapr "$dir"/*.json
  else
    warn "Go is not installed and DAPR_DASHBOARDS_DIR is not set: Grafana gets no Dapr dashboards"
    dashboards_configmap grafana-dashboards-dapr
  fi
  dashboards_configmap grafana-dashboards-suite "$K3D_DIR"/dashboards/*.json
  hc upgrade --install grafana grafana/grafana --version "$GRAFANA_CHART_VERSION" \
    --namespace "$MONITORING_NAMESPACE" -f "$K3D_DIR/values/grafana.yaml" --wait --timeout 10m
}

wait_all_pods() {
  local namespace
  for namespace in "$DAPR_NAMESPACE" "$APP_NAMESPACE" "$MONITORING_NAMESPACE"; do
    kc -n "$namespace" wait --for=condition=Ready pods --all \
      --field-selector=status.phase!=Succeeded --timeout="$WAIT_TIMEOUT"
  done
}

print_summary() {
  step "Ready (kubectl context $KUBE_CONTEXT)"
  info "service-1          http://127.0.0.1:$SERVICE1_PORT"
  info "service-2          http://127.0.0.1:$SERVICE2_PORT"
  info "daprd service-1    http://127.0.0.1:$DAPRD1_METRICS_PORT/  (metrics)"
  info "daprd service-2    http://127.0.0.1:$DAPRD2_METRICS_PORT/  (metrics)"
  info "Prometheus         http://127.0.0.1:$PROMETHEUS_PORT"
  info "Grafana            http://127.0.0.1:$GRAFANA_PORT  (admin/admin; dashboards in folders Dapr and Pub-sub suite)"
  info "Jaeger             http://127.0.0.1:$JAEGER_PORT"
  info "image registry     $REGISTRY_PUSH (in the cluster: $REGISTRY_PULL)"
  info "tests              E2E_TARGET=k3d tox -e e2e"
  info "in-cluster load    python -m loadtests.in_cluster --workers 2 --duration 60s"
  info "tear down          k3d/down.sh"
}

main() {
  local digest1 digest2
  create_cluster

  step "Images service-1, service-2 and load -> $REGISTRY_PUSH"
  digest1=$(push_image service-1 system_under_test/service1/Dockerfile)
  digest2=$(push_image service-2 system_under_test/service2/Dockerfile)
  info "service-1 $digest1"
  info "service-2 $digest2"
  # The in-cluster load generator (k3d/load/locust.yaml, python -m loadtests.in_cluster):
  # its pods are made per run and pull the newest image under this tag.
  info "load $(push_image load loadtests/Dockerfile)"
  render_manifests "$digest1" "$digest2"

  step "Helm repositories"
  helm repo add dapr https://dapr.github.io/helm-charts/ --force-update >/dev/null
  helm repo add prometheus-community https://prometheus-community.github.io/helm-charts --force-update >/dev/null
  helm repo add grafana "$GRAFANA_REPO_URL" --force-update >/dev/null
  helm repo update dapr prometheus-community grafana

  install_dapr

  step "Namespaces, Redis and Jaeger"
  apply_group 0
  apply_group 1
  rollout "$APP_NAMESPACE" redis-leader jaeger

  step "Dapr resources and the services"
  apply_group 2
  create_token_secrets
  apply_group 3
  rollout "$APP_NAMESPACE" service-1 service-2
  ensure_sidecar service-1
  ensure_sidecar service-2

  step "Prometheus (chart prometheus-community/prometheus $PROMETHEUS_CHART_VERSION)"
  hc upgrade --install prometheus prometheus-community/prometheus \
    --version "$PROMETHEUS_CHART_VERSION" --namespace "$MONITORING_NAMESPACE" \
    -f "$K3D_DIR/values/prometheus.yaml" --wait --timeout 10m

  install_grafana

  step "Waiting for every pod"
  wait_all_pods
  print_summary
}

main "$@"
