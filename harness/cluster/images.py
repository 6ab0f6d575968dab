"""Images for the node: the sandbox ("pause") image and the Docker Engine's images, put
into the node's containerd without a registry (`docker save | ctr images import`)."""

from __future__ import annotations

import shutil
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


def ensure_binary_image(
    ref: str, binary: Path, entry: str, progress: Progress, user: str = "",
    files: dict[str, Path] | None = None, env: dict[str, str] | None = None,
) -> None:  # fmt: skip
    """An image of one static Go binary at `entry` over the Debian base, built with the
    Docker Engine when `ref` is absent (refs carry the binary's version); `files` are
    copied to their paths in the image (path -> source), `env` is set."""
    if image_size(ref) is not None:
        return
    ensure_base_image(progress)
    with tempfile.TemporaryDirectory(prefix="binary-image-") as tmp:
        shutil.copyfile(binary, Path(tmp) / "binary")
        (Path(tmp) / "binary").chmod(0o755)
        lines = [f"FROM {BASE_IMAGE}", f"COPY binary {entry}"]
        for number, (path, source) in enumerate((files or {}).items()):
            shutil.copyfile(source, Path(tmp) / f"file{number}")
            lines.append(f"COPY file{number} {path}")
        lines += [f"ENV {name}={value}" for name, value in (env or {}).items()]
        lines += [f"USER {user}"] if user else []
        lines.append(f'ENTRYPOINT ["{entry}"]')
        (Path(tmp) / "Dockerfile").write_text("\n".join(lines) + "\n")
        progress(f"docker build {ref} ({binary.name} over {BASE_IMAGE})")
        run_step(
            ["docker", "build", "-t", ref, tmp], what=f"docker build of {ref}",
            log=cache_dir() / "logs" / f"build-image-{binary.name}.log", progress=progress,
            env={"DOCKER_BUILDKIT": "0"},
        )  # fmt: skip


def ensure_debian_image(
    ref: str, packages: tuple[str, ...], lines: tuple[str, ...], progress: Progress,
    files: tuple[tuple[str, str], ...] = (),
) -> None:  # fmt: skip
    """An image of Debian packages over the Debian base, built with the Docker Engine when
    `ref` is absent: apt-get from Debian's mirror (the only registry reachable here), then
    `lines` (Dockerfile instructions); `files` (name, text) are put beside the Dockerfile."""
    if image_size(ref) is not None:
        return
    ensure_base_image(progress)
    with tempfile.TemporaryDirectory(prefix="debian-image-") as tmp:
        for name, text in files:
            (Path(tmp) / name).write_text(text)
            (Path(tmp) / name).chmod(0o755)
        install = " ".join(packages)
        dockerfile = [
            f"FROM {BASE_IMAGE}",
            # policy-rc.d 101: a package's maintainer script starts no daemon in the build
            "RUN printf '#!/bin/sh\\nexit 101\\n' >/usr/sbin/policy-rc.d && "
            "chmod 755 /usr/sbin/policy-rc.d && apt-get update && "
            "apt-get install -y --no-install-recommends "
            f"{install} && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d",
            *lines,
        ]
        (Path(tmp) / "Dockerfile").write_text("\n".join(dockerfile) + "\n")
        progress(f"docker build {ref} (Debian's {install} over {BASE_IMAGE})")
        run_step(
            ["docker", "build", "--network", "host", "-t", ref, tmp],
            what=f"docker build of {ref}", progress=progress,
            log=cache_dir() / "logs" / f"build-image-{ref.replace('/', '_').replace(':', '_')}.log",
            env={"DOCKER_BUILDKIT": "0"},
        )  # fmt: skip


def tag_image(source: str, ref: str) -> None:
    """`docker tag`: the same image under the name a manifest uses."""
    tagged = subprocess.run(["docker", "tag", source, ref], capture_output=True, text=True,
                            check=False)  # fmt: skip
    if tagged.returncode != 0:
        raise HarnessError(f"docker tag {source} {ref} failed: {last_line(tagged.stderr)}")


def ctr_argv(socket: Path, *args: str) -> list[str]:
    return ["ctr", "--address", str(socket), "--namespace", CONTAINERD_NAMESPACE, *args]


def import_image(ref: str, socket: Path, timeout: float = 300) -> float:
    """Copy one image from the Docker Engine into the node's containerd; seconds taken."""
    return import_images((ref,), socket, timeout)


def import_images(refs: tuple[str, ...], socket: Path, timeout: float = 300) -> float:
    """Copy images from the Docker Engine into the node's containerd in one `docker save`
    (layers they share are copied once); seconds taken."""
    missing = [ref for ref in refs if image_size(ref) is None]
    if missing:
        raise HarnessError(
            f"image {missing[0]} is not in the Docker Engine's store (build it first)"
        )
    ref = ", ".join(refs)
    started = time.monotonic()
    save = subprocess.Popen(["docker", "save", *refs], stdout=subprocess.PIPE)
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
