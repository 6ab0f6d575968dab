"""Which Kubernetes release is built and how its wrapper module and apiserver look."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.gobuild import GoCommand
from harness.kube_apiserver import KubeSettings, apiserver_argv, etcd_argv
from harness.kube_builds import nearest_served, pinned_kubernetes, staging_replaces
from harness.tls import KeyPair


def test_the_pinned_release_follows_the_k3s_image(tmp_path: Path) -> None:
    assert pinned_kubernetes() == "v1.32.5"  # k3d/cluster.yaml: rancher/k3s:v1.32.5-k3s1
    other = tmp_path / "cluster.yaml"
    other.write_text("image: rancher/k3s:latest\n")
    with pytest.raises(HarnessError, match="not a rancher/k3s release tag"):
        pinned_kubernetes(other)


def test_nearest_served_prefers_the_same_minor() -> None:
    served = ["v1.32.2", "v1.32.13", "v1.33.6", "v1.34.3", "v1.32.0-rc.1"]
    assert nearest_served("v1.32.5", served + ["v1.32.5"]) == "v1.32.5"
    assert nearest_served("v1.32.5", served) == "v1.32.2"
    assert nearest_served("v1.31.1", ["v1.33.6", "v1.34.3"]) == "v1.33.6"
    with pytest.raises(HarnessError):
        nearest_served("v1.32.5", [])


def test_staging_paths_map_to_the_published_modules() -> None:
    gomod = "replace (\n\tk8s.io/api => ./staging/src/k8s.io/api\n\tfoo => bar v1\n)\n"
    assert staging_replaces(gomod, "v1.32.5") == ("k8s.io/api => k8s.io/api v0.32.5",)


def test_wrapper_module_requires_and_replaces() -> None:
    command = GoCommand(
        "x", "example.com/m", "v1.2.3", "example.com/m/cmd/x", replaces=("a => b v1",)
    )
    assert command.wrapper_gomod() == (
        "module suite-build/x\n\ngo 1.23\n\nrequire example.com/m v1.2.3\n\n"
        "replace (\n\ta => b v1\n)\n"
    )
    assert '_ "example.com/m/cmd/x"' in command.tools_go()
    assert command.binary().name == "x-v1.2.3"


def test_kube_ports_move_with_the_offset_and_stay_on_loopback(tmp_path: Path) -> None:
    settings = KubeSettings.from_env({"HARNESS_PORT_OFFSET": "14000"})
    assert settings.ports() == {"etcd": 16379, "etcd peer": 16380, "kube-apiserver": 20443}
    with pytest.raises(HarnessError, match="must be in 1024..32767"):
        KubeSettings.from_env({"HARNESS_PORT_OFFSET": "30000"})
    pair = KeyPair(tmp_path / "c", tmp_path / "k")
    argv = apiserver_argv(Path("kube-apiserver"), settings, pair, tmp_path / "sa")
    assert "--bind-address=127.0.0.1" in argv and "--advertise-address=127.0.0.1" in argv
    assert "--etcd-servers=http://127.0.0.1:16379" in argv
    assert all("0.0.0.0" not in arg for arg in argv + etcd_argv("etcd", settings))
