"""A service of the local stack run from its image, as a container beside the local sidecars.

The container shares the host's network (`--network host`) and its app binds 127.0.0.1
only, so it reaches its daprd on loopback exactly as the process run from source does,
and nothing listens beyond loopback. It runs as the image's own non-root user.
service-1's ledger sits on a named volume at /data, so it survives the container.

`docker run` stays attached in the foreground: it is the component's process (its log is
the container's output, SIGTERM is passed on to the app). Because a `docker run` killed
with SIGKILL leaves its container behind, the stack also removes its containers and
volumes by name when it stops, and before it starts.
"""

from __future__ import annotations

from pathlib import Path

from harness.errors import HarnessError
from harness.images import docker
from harness.processes import ManagedProcess

LEDGER_MOUNT = "/data"
# Set by the Dockerfiles; a variable the image brings must not be overridden from source runs.
IMAGE_OWNED_ENV = ("PYTHONPATH", "LEDGER_PATH")


def container_name(app_id: str, port: int) -> str:
    """One name per service and port, so stacks with other port offsets never collide."""
    return f"dapr-suite-{app_id}-{port}"


def ledger_volume(port: int) -> str:
    return f"dapr-suite-ledger-{port}"


def container_env(env: dict[str, str], port: int) -> dict[str, str]:
    """The service's environment inside the container: listening on 127.0.0.1:`port`."""
    variables = {k: v for k, v in env.items() if k not in IMAGE_OWNED_ENV}
    variables.update({"APP_HOST": "127.0.0.1", "APP_PORT": str(port)})
    return variables


def run_argv(app_id: str, image: str, port: int, env: dict[str, str]) -> list[str]:
    """`docker run` of one service on host networking, listening on 127.0.0.1:`port`.

    Only the variables' names are on the command line (`--env NAME`): docker takes their
    values from its own environment (`container_env`), so no token shows in `ps`.
    """
    argv = ["docker", "run", "--rm", "--name", container_name(app_id, port), "--network", "host"]
    for key in sorted(container_env(env, port)):
        argv += ["--env", key]
    if app_id == "service-1":
        argv += ["--volume", f"{ledger_volume(port)}:{LEDGER_MOUNT}"]
    return [*argv, image]


def service_container(
    app_id: str, image: str, port: int, env: dict[str, str], log: Path
) -> ManagedProcess:
    argv = run_argv(app_id, image, port, env)
    return ManagedProcess(app_id, argv, log, env=container_env(env, port))


def remove(app_id: str, port: int) -> None:
    """Remove the service's container and ledger volume; absent ones are fine."""
    docker("rm", "--force", container_name(app_id, port))
    if app_id == "service-1":
        docker("volume", "rm", "--force", ledger_volume(port))


def require_image(image: str) -> None:
    if docker("image", "inspect", image).returncode != 0:
        raise HarnessError(
            f"image {image} is not in the Docker Engine's store: build it with "
            "`python -m harness.images`"
        )


def running_uid(app_id: str, port: int) -> str:
    """The uid the container's main process runs as, as `id -u` prints it inside."""
    result = docker("exec", container_name(app_id, port), "id", "-u")
    if result.returncode != 0:
        raise HarnessError(f"docker exec in {container_name(app_id, port)}: {result.stderr}")
    return result.stdout.strip()
