"""The service images, built for real and run as containers beside the local sidecars.

The e2e gate runs unchanged against a local stack whose two services are containers of
the built images (host networking, listening on 127.0.0.1 only, as the image's non-root
user). service-1's ledger is on a volume: after the container is removed and run again,
the deliveries recorded before are still there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing

import httpx
import pytest

from harness import containers
from harness.client import SuiteClient
from harness.images import BASE_IMAGE, Built, build_all, docker, service_image
from harness.ledger import new_run_id
from harness.longrun import Progress
from harness.settings import REPO_ROOT, StackSettings
from harness.tokens import read_tokens
from harness.wait import wait_until

pytestmark = [pytest.mark.k8s, pytest.mark.integration]

APP_UID = "10001"  # the Dockerfiles' user


@pytest.fixture(scope="module")
def images(figures: list[str], progress: Progress) -> list[Built]:
    """Base and service images; a second call shows what a cached build costs."""
    first = build_all(progress)
    cached = build_all(progress)
    for before, after in zip(first, cached, strict=True):
        figures.append(f"image {before.line()}; again: {after.seconds:.1f} s")
    return first


def test_base_is_debian_python_311(images: list[Built]) -> None:
    result = docker("run", "--rm", "--network", "none", BASE_IMAGE, "python3", "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Python 3.11."), result.stdout
    release = docker("run", "--rm", "--network", "none", BASE_IMAGE, "cat", "/etc/os-release")
    assert "VERSION_CODENAME=bookworm" in release.stdout


@pytest.mark.parametrize("app_id", ["service-1", "service-2"])
def test_image_runs_as_non_root_user(images: list[Built], app_id: str) -> None:
    user = docker("image", "inspect", "--format", "{{.Config.User}}", service_image(app_id))
    assert user.stdout.strip() == APP_UID


def _run(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def stack_env(
    images: list[Built], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """A local stack started by `up` whose services are the built images; `down` at the end."""
    env = {
        **os.environ,
        "HARNESS_RUN_DIR": str(tmp_path_factory.mktemp("container-stack")),
        "HARNESS_SERVICE1_IMAGE": service_image("service-1"),
        "HARNESS_SERVICE2_IMAGE": service_image("service-2"),
        "HARNESS_JAEGER": "1",  # the e2e gate's trace check asks the stack's Jaeger
    }
    up = _run(["-m", "harness", "up"], env, timeout=180)
    try:
        assert up.returncode == 0, f"up failed:\n{up.stdout}\n{up.stderr}"
        yield env
    finally:
        down = _run(["-m", "harness", "down"], env, timeout=60)
        assert down.returncode == 0, down.stderr
    settings = StackSettings.from_env(env)
    left = docker("ps", "-a", "--filter", "name=dapr-suite-", "--format", "{{.Names}}")
    assert not [n for n in left.stdout.split() if n.endswith(f"-{settings.service1_port}")
                or n.endswith(f"-{settings.service2_port}")], left.stdout  # fmt: skip
    volume = containers.ledger_volume(settings.service1_port)
    assert docker("volume", "inspect", volume).returncode != 0, f"{volume} left behind"


def test_services_run_as_non_root_containers(stack_env: dict[str, str]) -> None:
    s = StackSettings.from_env(stack_env)
    assert containers.running_uid("service-1", s.service1_port) == APP_UID
    assert containers.running_uid("service-2", s.service2_port) == APP_UID


def test_e2e_gate_passes_with_service_containers(stack_env: dict[str, str]) -> None:
    gate = _run(["-m", "pytest", "e2e", "-p", "no:cacheprovider", "-q"], stack_env, timeout=600)
    assert gate.returncode == 0, f"e2e gate failed:\n{gate.stdout[-6000:]}\n{gate.stderr[-2000:]}"


def test_ledger_survives_the_container(stack_env: dict[str, str], figures: list[str]) -> None:
    s = StackSettings.from_env(stack_env)
    headers = read_tokens(s.run_dir).suite_headers()
    with closing(
        SuiteClient(s.url(s.service1_port), s.url(s.service2_port), headers=headers)
    ) as suite:
        _ledger_survives(suite, s, figures)


def _ledger_survives(suite: SuiteClient, s: StackSettings, figures: list[str]) -> None:
    run = new_run_id("ledger-volume")
    suite.publish_ok("t1", run, 1)
    before = suite.ledger.wait_for(run, lambda records: len(records) == 1, timeout=20)
    assert len(before) == 1, before

    started = time.monotonic()
    name = containers.container_name("service-1", s.service1_port)
    assert docker("rm", "--force", name).returncode == 0
    env = {
        "DAPR_HTTP_ENDPOINT": s.url(s.sidecar1.http),
        "T2_DELAY_SECONDS": str(s.t2_delay_seconds),
        **read_tokens(s.run_dir).service_env(),
    }
    argv = containers.run_argv("service-1", service_image("service-1"), s.service1_port, env)
    argv.insert(argv.index("run") + 1, "--detach")
    again = subprocess.run(
        argv, capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, **containers.container_env(env, s.service1_port)},
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    wait_until(
        lambda: httpx.get(f"{s.url(s.service1_port)}/healthz", timeout=1, trust_env=False)
        .status_code == 200,
        timeout=30, what="the new service-1 container answers /healthz",
    )  # fmt: skip
    figures.append(f"service-1 container replaced in {time.monotonic() - started:.1f} s")

    after = suite.ledger.records(run)
    assert [r["id"] for r in after] == [r["id"] for r in before]
    assert after[0]["count"] == before[0]["count"]
