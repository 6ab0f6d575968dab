"""Shared parts of the real Kubernetes-path checks: figures printed at the end of the run.

These checks build images and Go commands and start real servers; they are marked
`integration` (so the unit run skips them) and `k8s` (tox -e k8s-validate runs them).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.dynamic import DynamicClient

from harness.kube_apiserver import KubeApiserver, KubeSettings
from harness.kube_apply import apply_all, wait_established
from harness.kube_builds import dapr_module_dir
from harness.longrun import Progress
from harness.manifests import documents
from harness.settings import DEFAULT_DAPR_VERSION

FIGURES: list[str] = []


@pytest.fixture(scope="session")
def figures() -> list[str]:
    """Lines a check wants the user to see (sizes, build and start times)."""
    return FIGURES


@pytest.fixture(scope="session")
def progress(pytestconfig: pytest.Config) -> Progress:
    """Progress of long builds, shown live under tox (pytest would capture it)."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")

    def show(message: str) -> None:
        with capture.global_and_fixture_disabled():
            print(f"\n[k8s] {message}", file=sys.stderr, end="", flush=True)

    return show


@pytest.fixture(scope="module")
def apiserver(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
    figures: list[str], progress: Progress,
) -> Iterator[KubeApiserver]:  # fmt: skip
    """One apiserver per test module; a module's APISERVER_HOSTS gives it host names."""
    env = {**os.environ, "HARNESS_KUBE_RUN_DIR": str(tmp_path_factory.mktemp("kube"))}
    hosts = getattr(request.module, "APISERVER_HOSTS", None)
    server = KubeApiserver(KubeSettings.from_env(env), progress, hosts=hosts)
    started = time.monotonic()
    with server:
        figures.append(
            f"kube-apiserver {server.release} + etcd ready in {time.monotonic() - started:.1f} s "
            "(build included when it was absent)"
        )
        yield server
    assert all(p.gone() for p in server.processes), "a kube process outlived the context"


@pytest.fixture(scope="module")
def dyn(apiserver: KubeApiserver) -> DynamicClient:
    return apiserver.dynamic()


@pytest.fixture(scope="module")
def dapr_crds(dyn: DynamicClient) -> list[dict[str, Any]]:
    crd_dir = dapr_module_dir(DEFAULT_DAPR_VERSION) / "charts" / "dapr" / "crds"
    crds = [doc for path in sorted(crd_dir.glob("*.yaml")) for doc in documents(path)]
    assert apply_all(dyn, crds, dry_run=False) == []
    wait_established(dyn, crds)
    return crds


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("kubernetes path figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
