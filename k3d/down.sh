#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Delete the suite's k3d cluster and its registry. Safe to run when they are already gone.
set -euo pipefail

case "${BASH_SOURCE[0]}" in
  */*) here=${BASH_SOURCE[0]%/*} ;;
  *) here=. ;;
esac
# shellcheck source=lib.sh
. "$here/lib.sh"

require_tools docker k3d
require_docker_daemon

step "Cluster $CLUSTER_NAME"
if cluster_exists; then
  k3d cluster delete "$CLUSTER_NAME"
else
  info "not there"
fi

step "Registry $REGISTRY_NAME"
# k3d deletes the registry with the cluster; one left by a failed create goes here.
if registry_exists; then
  k3d registry delete "$REGISTRY_NAME"
else
  info "not there"
fi

step "Done"
