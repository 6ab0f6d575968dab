"""Image builds and service containers: the commands they run and the errors they give."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness import containers, images
from harness.errors import HarnessError
from harness.longrun import run_step


def test_a_missing_docker_command_names_how_ci_installs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(HarnessError, match=r"docker command is missing: `bash \.ci/run` installs"):
        images.require_docker_engine()


def test_an_engine_that_does_not_answer_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin:/bin")
    with pytest.raises(HarnessError) as raised:
        images.require_docker_engine()
    message = str(raised.value)
    assert "Docker Engine does not answer (Cannot connect to the Docker daemon)" in message
    assert "installs Debian's docker.io and starts dockerd" in message


def test_the_base_image_gets_its_environment_from_import_changes() -> None:
    changes = images._import_changes()
    assert changes[::2] == ["--change"] * (len(changes) // 2)
    assert 'CMD ["python3"]' in changes
    assert f"ENV PIP_CERT={images.HOST_CA_BUNDLE}" in changes


def test_built_line_says_size_and_time() -> None:
    line = images.Built("dapr-suite/service-1:suite", 151_000_000, 42.04, built=True).line()
    assert line == "dapr-suite/service-1:suite: 151.0 MB, built in 42.0 s"
    assert images.Built("base", 1, 0.0, built=False).line().endswith("present")


def test_dockerfiles_take_the_base_as_a_build_argument() -> None:
    for dockerfile in images.DOCKERFILES.values():
        text = dockerfile.read_text()
        assert "ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}" in text
        assert '--port \\"$APP_PORT\\"' in text, "uvicorn must listen where APP_PORT says"


def test_service_container_runs_on_loopback_with_the_ledger_on_a_volume() -> None:
    env = {"DAPR_HTTP_ENDPOINT": "http://127.0.0.1:17500", "PYTHONPATH": "/repo",
           "LEDGER_PATH": "/host/ledger.db", "APP_PORT": "1"}  # fmt: skip
    argv = containers.run_argv("service-1", "img", 20060, env)
    assert argv[:6] == [
        "docker",
        "run",
        "--rm",
        "--name",
        "dapr-suite-service-1-20060",
        "--network",
    ]
    assert argv[argv.index("--network") + 1] == "host"
    names = [argv[i + 1] for i, a in enumerate(argv) if a == "--env"]
    assert names == ["APP_HOST", "APP_PORT", "DAPR_HTTP_ENDPOINT"]  # no values, no host paths
    inside = containers.container_env(env, 20060)
    assert inside["APP_HOST"] == "127.0.0.1" and inside["APP_PORT"] == "20060"
    assert "PYTHONPATH" not in inside and "LEDGER_PATH" not in inside
    assert argv[argv.index("--volume") + 1] == "dapr-suite-ledger-20060:/data"
    assert argv[-1] == "img"
    assert "--volume" not in containers.run_argv("service-2", "img", 21070, {})


def test_a_token_never_shows_on_the_docker_command_line() -> None:
    env = {"DAPR_API_TOKEN": "secret-1", "SUITE_API_TOKEN": "secret-2"}
    argv = containers.run_argv("service-2", "img", 21070, env)
    assert not any("secret" in a for a in argv)
    assert containers.container_env(env, 21070)["DAPR_API_TOKEN"] == "secret-1"


def test_a_failed_build_step_names_itself_its_last_line_and_its_log(tmp_path: Path) -> None:
    log = tmp_path / "step.log"
    with pytest.raises(HarnessError) as raised:
        run_step(
            ["sh", "-c", "echo compiling; echo 'no space left on device' >&2; exit 3"],
            what="docker build of service-1", log=log, progress=lambda _: None,
        )  # fmt: skip
    assert str(raised.value) == (
        f"docker build of service-1 failed (exit 3): no space left on device; log {log}"
    )


def test_a_long_step_says_it_is_alive(tmp_path: Path) -> None:
    said: list[str] = []
    seconds = run_step(
        ["sleep", "0.3"], what="go build of x", log=tmp_path / "l", progress=said.append, tick=0.1
    )
    assert seconds >= 0.3
    assert said and all(line.startswith("go build of x: still running") for line in said)
