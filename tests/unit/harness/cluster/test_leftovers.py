"""Recognising what the node left on the machine, without touching the machine."""

from __future__ import annotations

import hashlib
import ipaddress
from pathlib import Path

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


def test_mounts_below_the_run_dir_come_deepest_first(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    run = tmp_path / "run"
    run.mkdir()
    info.write_text(
        "1 0 0:1 / / rw - ext4 /dev/vda rw\n"
        f"2 1 0:2 / {run}/a rw - tmpfs tmpfs rw\n"
        f"3 2 0:3 / {run}/a/b\\040c rw - tmpfs tmpfs rw\n"
        f"4 1 0:4 / {tmp_path}/runner rw - tmpfs tmpfs rw\n"
    )
    assert leftovers.mounts_below(run, info) == [run / "a" / "b c", run / "a"]


def test_firewall_rules_are_recognised_by_the_pod_subnet() -> None:
    network = ipaddress.IPv4Network("10.244.0.0/24")
    ours = ["-A", "CNI-FORWARD", "-s", "10.244.0.7/32", "-j", "ACCEPT"]
    docker = ["-A", "CNI-FORWARD", "-d", "172.17.0.2/32", "-j", "ACCEPT"]
    assert leftovers._names_address_in(ours, network)
    assert not leftovers._names_address_in(docker, network)
    assert not leftovers._names_address_in(["-A", "CNI-FORWARD", "-j", "CNI-ADMIN"], network)
