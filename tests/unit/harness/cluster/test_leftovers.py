"""Recognising what the node left on the machine, without touching the machine."""

from __future__ import annotations

import hashlib
import ipaddress
from pathlib import Path

import pytest

from harness.cluster import leftovers


def test_cgroup_root_is_named_in_every_hierarchy(tmp_path: Path) -> None:
    for name in ("cpu", "memory", "unified"):
        (tmp_path / name).mkdir()
    (tmp_path / "cpu,cpuacct").symlink_to(tmp_path / "cpu")
    found = leftovers.cgroup_dirs("/dapr-suite-cluster", tmp_path)
    assert found == [tmp_path / n / "dapr-suite-cluster" for n in ("cpu", "memory", "unified")]


def test_shim_socket_path_follows_containerd_1_6() -> None:
    socket = Path("/r/containerd.sock")
    digest = hashlib.sha256(b"/r/containerd.sock/k8s.io/abc").hexdigest()
    assert leftovers.shim_socket(socket, "abc") == Path("/run/containerd/s") / digest


def test_fixed_dirs_are_removed_only_when_they_hold_nothing_of_anyone_else(
    tmp_path: Path,
) -> None:
    ours, shared = tmp_path / "ours", tmp_path / "shared"
    (ours / "results").mkdir(parents=True)
    (ours / "results" / "suite-pods-1-eth0").write_text("{}")
    (ours / "results" / "cni-loopback-1-lo").write_text("{}")
    (shared / "results").mkdir(parents=True)
    (shared / "results" / "other-net-2-eth0").write_text("{}")
    leftovers.remove_fixed_dirs("suite-pods", (ours, shared))
    assert not ours.exists()
    assert (shared / "results" / "other-net-2-eth0").exists()


def test_firewall_rules_are_recognised_by_the_pod_subnet() -> None:
    network = ipaddress.IPv4Network("10.244.0.0/24")
    ours = ["-A", "CNI-FORWARD", "-s", "10.244.0.7/32", "-j", "ACCEPT"]
    docker = ["-A", "CNI-FORWARD", "-d", "172.17.0.2/32", "-j", "ACCEPT"]
    assert leftovers._names_address_in(ours, network)
    assert not leftovers._names_address_in(docker, network)
    assert not leftovers._names_address_in(["-A", "CNI-FORWARD", "-j", "CNI-ADMIN"], network)


NAT_AFTER_A_KILLED_NODE = """-P OUTPUT ACCEPT
-N CNI-DN-52e7
-N CNI-HOSTPORT-DNAT
-N CNI-HOSTPORT-MASQ
-N CNI-HOSTPORT-SETMARK
-N DOCKER
-A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A CNI-DN-52e7 -d 127.0.0.1/32 -p tcp -m tcp --dport 20170 -j DNAT --to-destination 10.244.0.2:7070
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"suite-pods\\" id: \\"60ed\\"" -m multiport --dports 20170 -j CNI-DN-52e7
"""  # noqa: E501 - iptables -S lines as they are


def test_the_pods_port_mappings_and_then_the_portmap_chains_are_removed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, ...]] = []
    listings = iter([NAT_AFTER_A_KILLED_NODE, "-N CNI-HOSTPORT-DNAT\n-N DOCKER\n"])

    def iptables(*args: str) -> str:
        calls.append(args)
        return next(listings) if args[-1] == "-S" else ""

    monkeypatch.setattr(leftovers, "_iptables", iptables)
    leftovers.remove_portmap_chains("suite-pods")
    changes = [c for c in calls if c[-1] != "-S"]
    assert changes[:3] == [
        ("-t", "nat", "-D", "CNI-HOSTPORT-DNAT", "-p", "tcp", "-m", "comment", "--comment",
         'dnat name: "suite-pods" id: "60ed"', "-m", "multiport", "--dports", "20170",
         "-j", "CNI-DN-52e7"),
        ("-t", "nat", "-F", "CNI-DN-52e7"),
        ("-t", "nat", "-X", "CNI-DN-52e7"),
    ]  # fmt: skip
    assert ("-t", "nat", "-X", "CNI-HOSTPORT-DNAT") in changes
    assert not any("DOCKER" in c or "MASQUERADE" in c for c in changes)


def test_another_networks_port_mappings_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    other = NAT_AFTER_A_KILLED_NODE.replace("suite-pods", "other-net")
    calls: list[tuple[str, ...]] = []

    def iptables(*args: str) -> str:
        calls.append(args)
        return other if args[-1] == "-S" else ""

    monkeypatch.setattr(leftovers, "_iptables", iptables)
    leftovers.remove_portmap_chains("suite-pods")
    assert all(c[-1] == "-S" for c in calls)


FILTER_WITH_KUBE_PROXY = """-P INPUT ACCEPT
-P FORWARD DROP
-N DOCKER-USER
-N KUBE-FORWARD
-N KUBE-SERVICES
-A INPUT -m conntrack --ctstate NEW -m comment --comment "lb firewall" -j KUBE-PROXY-FIREWALL
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -j DOCKER-USER
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
"""


def test_kube_proxys_jumps_then_its_chains_are_removed_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, ...]] = []

    def iptables(*args: str) -> str:
        calls.append(args)
        return FILTER_WITH_KUBE_PROXY if args[-1] == "-S" else ""

    monkeypatch.setattr(leftovers, "_iptables", iptables)
    leftovers.remove_kube_chains(("filter",))
    changes = [c for c in calls if c[-1] != "-S"]
    assert changes == [
        ("-t", "filter", "-D", "INPUT", "-m", "conntrack", "--ctstate", "NEW", "-m", "comment",
         "--comment", "lb firewall", "-j", "KUBE-PROXY-FIREWALL"),
        ("-t", "filter", "-D", "FORWARD", "-m", "comment", "--comment",
         "kubernetes forwarding rules", "-j", "KUBE-FORWARD"),
        ("-t", "filter", "-F", "KUBE-FORWARD"),
        ("-t", "filter", "-F", "KUBE-SERVICES"),
        ("-t", "filter", "-X", "KUBE-FORWARD"),
        ("-t", "filter", "-X", "KUBE-SERVICES"),
    ]  # fmt: skip
