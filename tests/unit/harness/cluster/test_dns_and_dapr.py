"""The cluster DNS manifests and the values Dapr's chart gets on the node."""

from __future__ import annotations

import ipaddress

from harness.cluster import dapr, dns
from harness.cluster.settings import CLUSTER_DNS_IP
from harness.kube_apiserver import SERVICE_CIDR


def test_coredns_answers_the_cluster_zone_only_and_sits_at_the_kubelets_dns_address() -> None:
    assert "forward" not in dns.COREFILE  # no query for another zone leaves the machine
    assert "kubernetes cluster.local" in dns.COREFILE
    kinds = {d["kind"]: d for d in dns.manifests()}
    assert kinds["Service"]["spec"]["clusterIP"] == CLUSTER_DNS_IP
    assert ipaddress.ip_address(CLUSTER_DNS_IP) in ipaddress.ip_network(SERVICE_CIDR)
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    assert pod["dnsPolicy"] == "Default"  # never asks itself
    assert pod["containers"][0]["imagePullPolicy"] == "Never"


def test_dapr_images_are_ours_never_pulled_and_placement_and_scheduler_stay_out() -> None:
    values = dapr.CHART_VALUES
    assert values["global.registry"] == dapr.REGISTRY
    assert values["global.imagePullPolicy"] == "Never"
    assert values["dapr_sidecar_injector.sidecarImagePullPolicy"] == "Never"
    assert values["global.actors.enabled"] == values["global.scheduler.enabled"] == "false"
    assert dapr.images("1.18.3") == (
        "dapr-suite/sentry:1.18.3", "dapr-suite/operator:1.18.3",
        "dapr-suite/injector:1.18.3", "dapr-suite/daprd:1.18.3",
    )  # fmt: skip
