"""The service images, built for real with the Docker Engine.

Where no image registry can be reached (`FROM python:3.11-slim` cannot be pulled), the
images are built over a base made from Debian packages: `debootstrap` of bookworm (whose
python3 is 3.11) with python3-venv, imported with `docker import`. The Dockerfiles take
the base as the build argument `BASE_IMAGE`; their default stays the official python
image for users. What is present is never rebuilt: the base only when absent, the
service images through Docker's own layer cache.

`python -m harness.images` builds everything and prints sizes and build times.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness.arguments import one_line_parser
from harness.errors import HarnessError
from harness.longrun import Progress, last_line, run_step, say
from harness.mounts import unmount_all
from harness.processes import pid_alive
from harness.settings import REPO_ROOT

BASE_IMAGE = "dapr-suite/python-bookworm:3.11"
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
# The build host's CA bundle: where TLS to PyPI passes through a local CA, pip inside
# the build must trust what the host trusts.
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# The tag the suite gives its own builds; k3d/up.sh pushes its own tags.
IMAGE_TAG = "suite"
DOCKERFILES = {
    "service-1": REPO_ROOT / "system_under_test" / "service1" / "Dockerfile",
    "service-2": REPO_ROOT / "system_under_test" / "service2" / "Dockerfile",
}
# The load generator for master and worker pods (k3d/load/locust.yaml); built on demand,
# not by build_all: only the in-cluster load needs it.
LOAD_DOCKERFILE = REPO_ROOT / "loadtests" / "Dockerfile"
LOAD_IMAGE = f"dapr-suite/load:{IMAGE_TAG}"
INSTALL_HINT = (
    "`bash .ci/run` installs Debian's docker.io and starts dockerd "
    "(by hand: apt-get install -y docker.io && dockerd &)"
)

_say = say("images")


def cache_dir() -> Path:
    """The suite's own cache (build logs, built binaries), outside the repository."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "dapr-pubsub-suite"


def service_image(app_id: str) -> str:
    return f"dapr-suite/{app_id}:{IMAGE_TAG}"


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a short docker command; a missing CLI is named with how to get it."""
    if not shutil.which("docker"):
        raise HarnessError(f"the docker command is missing: {INSTALL_HINT}")
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def require_docker_engine() -> str:
    """The Engine's version; one line naming what is missing when it does not answer."""
    result = docker("version", "--format", "{{.Server.Version}}", timeout=30)
    if result.returncode != 0 or not result.stdout.strip():
        reason = last_line(result.stderr)
        raise HarnessError(f"the Docker Engine does not answer ({reason}): {INSTALL_HINT}")
    return result.stdout.strip()


def image_size(ref: str) -> int | None:
    """Bytes of a local image, None when it is absent."""
    result = docker("image", "inspect", "--format", "{{.Size}}", ref)
    if result.returncode != 0:
        return None
    return int(result.stdout.strip())


@dataclass(frozen=True)
class Built:
    """One image: its reference, size, and how long this call spent building it."""

    ref: str
    size_bytes: int
    seconds: float
    built: bool  # False: it was there already (the base) or fully cached

    def line(self) -> str:
        how = f"built in {self.seconds:.1f} s" if self.built else "present"
        return f"{self.ref}: {self.size_bytes / 1e6:.1f} MB, {how}"


def ensure_base_image(progress: Progress = _say, ref: str = BASE_IMAGE) -> Built:
    """The Debian base image; debootstrap and `docker import` only when it is absent."""
    require_docker_engine()
    size = image_size(ref)
    if size is not None:
        return Built(ref, size, 0.0, built=False)
    if not shutil.which("debootstrap"):
        raise HarnessError(
            f"building the base image {ref} needs debootstrap: `bash .ci/run` installs it "
            "(by hand: apt-get install -y debootstrap)"
        )
    if os.geteuid() != 0:
        raise HarnessError(f"building the base image {ref} with debootstrap needs root")
    logs = cache_dir() / "logs"
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"base-image-{os.getpid()}-", dir=_scratch()) as tmp:
        rootfs = Path(tmp) / "rootfs"
        progress(f"debootstrap {DEBIAN_SUITE} minbase + {' '.join(BASE_PACKAGES)}")
        try:
            run_step(
                [
                    "debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
                    DEBIAN_SUITE, str(rootfs), DEBIAN_MIRROR,
                ],
                what="debootstrap", log=logs / "debootstrap.log", progress=progress,
            )  # fmt: skip
        finally:  # a debootstrap stopped part way leaves its chroot's /proc mounted
            unmount_all(rootfs)
        _trim_rootfs(rootfs)
        tarball = Path(tmp) / "rootfs.tar"
        run_step(
            ["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(tarball), "."],
            what="tar of the base rootfs", log=logs / "base-tar.log", progress=progress,
        )  # fmt: skip
        progress(f"docker import -> {ref}")
        run_step(
            ["docker", "import", *_import_changes(), "-", ref],
            what="docker import", log=logs / "docker-import.log", progress=progress,
            stdin_from=tarball,
        )  # fmt: skip
    seconds = time.monotonic() - started
    return Built(ref, image_size(ref) or 0, seconds, built=True)


def _scratch() -> Path:
    """The build's scratch folder, with what a killed earlier build left there removed
    (its folder names the build's process; a build still running keeps its own)."""
    path = cache_dir() / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    for leftover in path.glob("base-image-*-*"):
        owner = leftover.name.split("-")[2]
        if owner.isdigit() and not pid_alive(int(owner)):
            unmount_all(leftover)
            shutil.rmtree(leftover, ignore_errors=True)
    return path


def _trim_rootfs(rootfs: Path) -> None:
    """Drop apt's downloaded lists and packages; trust the host's CAs (see HOST_CA_BUNDLE)."""
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for entry in (rootfs / leftover).glob("*"):
            if entry.is_file():
                entry.unlink()
    if HOST_CA_BUNDLE.is_file():
        shutil.copyfile(HOST_CA_BUNDLE, rootfs / HOST_CA_BUNDLE.relative_to("/"))


def _import_changes() -> list[str]:
    """What `docker import` cannot learn from a tarball: the environment and command."""
    changes = [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ENV LANG=C.UTF-8",
        f"ENV PIP_CERT={HOST_CA_BUNDLE}",
        'CMD ["python3"]',
    ]
    return [arg for change in changes for arg in ("--change", change)]


def build_service_image(
    app_id: str, base: str | None, progress: Progress = _say, tag: str | None = None
) -> Built:
    """`docker build` of one service over `base` (None: the Dockerfile's default)."""
    return build_image(app_id, DOCKERFILES[app_id], tag or service_image(app_id), base, progress)


def ensure_load_image(progress: Progress = _say, base: str = BASE_IMAGE) -> Built:
    """The load generator's image over the Debian base; Docker's cache makes a rebuild of
    unchanged sources take seconds."""
    require_docker_engine()
    ensure_base_image(progress, base)
    return build_image("load", LOAD_DOCKERFILE, LOAD_IMAGE, base, progress)


def build_image(
    name: str, dockerfile: Path, ref: str, base: str | None, progress: Progress = _say
) -> Built:
    argv = ["docker", "build", "--network", "host", "-f", str(dockerfile), "-t", ref]
    if base:
        argv += ["--build-arg", f"BASE_IMAGE={base}"]
    argv.append(str(REPO_ROOT))
    progress(f"docker build {ref}" + (f" over {base}" if base else ""))
    # The classic builder: it takes a base image from the local store without a registry.
    seconds = run_step(
        argv,
        what=f"docker build of {name}",
        log=cache_dir() / "logs" / f"build-{name}.log",
        progress=progress,
        env={"DOCKER_BUILDKIT": "0"},
    )
    size = image_size(ref)
    if size is None:
        raise HarnessError(f"docker build of {name} finished but {ref} is not in the store")
    return Built(ref, size, seconds, built=True)


def build_all(progress: Progress = _say, base: str | None = BASE_IMAGE) -> list[Built]:
    """The base (when used) and both service images, in build order."""
    require_docker_engine()
    built = [ensure_base_image(progress, base)] if base else []
    built += [build_service_image(app_id, base, progress) for app_id in DOCKERFILES]
    return built


def main(argv: list[str] | None = None) -> int:
    """`python -m harness.images [--json] [--load]`: build the images (--load: also the load
    generator's), print sizes and times."""
    parser = one_line_parser("python -m harness.images", main.__doc__)
    parser.add_argument("--json", action="store_true", help="print the builds as JSON")
    parser.add_argument("--load", action="store_true", help="also the load generator's image")
    args = parser.parse_args(argv)
    try:
        built = build_all()
        if args.load:
            built.append(ensure_load_image())
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([b.__dict__ for b in built], indent=2))
    else:
        for image in built:
            print(image.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
