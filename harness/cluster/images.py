"""Images for the node: the sandbox ("pause") image and the Docker Engine's images, put
into the node's containerd without a registry (`docker save | ctr images import`)."""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from harness.cluster.configs import CONTAINERD_NAMESPACE, PAUSE_IMAGE
from harness.errors import HarnessError
from harness.images import BASE_IMAGE, cache_dir, ensure_base_image, image_size
from harness.longrun import Progress, last_line, run_step

# Every pod's first container: it only holds the pod's namespaces. The Debian base the
# service images use (so its layers are shared), with a shell loop that sleeps until
# SIGTERM or SIGINT (a PID 1 without handlers would ignore both).
PAUSE_DOCKERFILE = f"""FROM {BASE_IMAGE}
ENTRYPOINT ["/bin/sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 86400 & wait $!; done"]
"""


def ensure_pause_image(progress: Progress) -> None:
    """Build the sandbox image with the Docker Engine when it is absent."""
    if image_size(PAUSE_IMAGE) is not None:
        return
    ensure_base_image(progress)
    with tempfile.TemporaryDirectory(prefix="pause-image-") as tmp:
        (Path(tmp) / "Dockerfile").write_text(PAUSE_DOCKERFILE)
        progress(f"docker build {PAUSE_IMAGE} over {BASE_IMAGE}")
        run_step(
            ["docker", "build", "-t", PAUSE_IMAGE, tmp], what="docker build of the pause image",
            log=cache_dir() / "logs" / "build-pause.log", progress=progress,
            env={"DOCKER_BUILDKIT": "0"},
        )  # fmt: skip


def ctr_argv(socket: Path, *args: str) -> list[str]:
    return ["ctr", "--address", str(socket), "--namespace", CONTAINERD_NAMESPACE, *args]


def import_image(ref: str, socket: Path, timeout: float = 300) -> float:
    """Copy one image from the Docker Engine into the node's containerd; seconds taken."""
    if image_size(ref) is None:
        raise HarnessError(f"image {ref} is not in the Docker Engine's store (build it first)")
    started = time.monotonic()
    save = subprocess.Popen(["docker", "save", ref], stdout=subprocess.PIPE)
    try:
        imported = subprocess.run(
            ctr_argv(socket, "images", "import", "-"), stdin=save.stdout,
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
    finally:
        assert save.stdout is not None
        save.stdout.close()
        save.wait(timeout=timeout)
    if save.returncode != 0 or imported.returncode != 0:
        reason = last_line(imported.stderr) if imported.returncode else f"exit {save.returncode}"
        raise HarnessError(f"importing {ref} into the node's containerd failed ({reason})")
    return time.monotonic() - started


def node_images(socket: Path) -> list[str]:
    """Names of the images the node's containerd holds."""
    listed = subprocess.run(
        ctr_argv(socket, "images", "ls", "-q"), capture_output=True, text=True, check=False
    )
    return listed.stdout.split()
