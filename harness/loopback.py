"""The suite only ever talks to this machine: one rule for every URL it is given.

The one widening: a process of the suite running in a pod (the in-cluster load generator,
k3d/load/locust.yaml) reaches the cluster's own Services by their DNS names, which resolve
only inside that cluster.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from harness.errors import HarnessError

SCHEMES = ("http", "https")
CLUSTER_SERVICE_SUFFIXES = (".svc", ".svc.cluster.local")
IN_POD = "KUBERNETES_SERVICE_HOST"  # kubelet sets it in every container


def is_loopback_host(host: str) -> bool:
    """127.0.0.0/8, ::1 and `localhost`."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_cluster_service_host(host: str, env: Mapping[str, str] | None = None) -> bool:
    """`name.namespace.svc[.cluster.local]`, and only when this process runs in a pod."""
    env = os.environ if env is None else env
    return IN_POD in env and host.endswith(CLUSTER_SERVICE_SUFFIXES)


def require_loopback(url: str, what: str, env: Mapping[str, str] | None = None) -> str:
    """Return `url` without a trailing slash; raise one line when it leaves this machine."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        raise HarnessError(f"{what} {url!r} is not a URL") from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise HarnessError(f"{what} {url!r} is not an http URL")
    env = os.environ if env is None else env
    if not (is_loopback_host(parts.hostname) or is_cluster_service_host(parts.hostname, env)):
        services = " or a Service of this cluster (name.namespace.svc)" if IN_POD in env else ""
        raise HarnessError(
            f"{what} {url!r} is refused: the suite only reaches 127.0.0.1, ::1 or localhost"
            + services
        )
    return url.strip().rstrip("/")
