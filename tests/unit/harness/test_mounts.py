"""Mount points below a folder (harness/mounts.py), and the image build's use of them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from harness import images
from harness.mounts import mounts_below, unmount_all


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
    assert mounts_below(run, info) == [run / "a" / "b c", run / "a"]


def tmpfs(point: Path) -> None:
    point.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "none", str(point)], check=True)


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@needs_root
def test_every_mount_below_a_folder_is_unmounted(tmp_path: Path) -> None:
    tmpfs(tmp_path / "rootfs" / "proc")
    tmpfs(tmp_path / "rootfs" / "proc" / "inner")
    unmount_all(tmp_path / "rootfs")
    assert mounts_below(tmp_path) == []


@needs_root
def test_a_killed_builds_scratch_is_unmounted_and_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A base-image build killed during debootstrap left its chroot's /proc mounted."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    scratch = tmp_path / "dapr-pubsub-suite" / "tmp"
    gone_pid = _ended_pid()
    leftover = scratch / f"base-image-{gone_pid}-x1"
    running = scratch / f"base-image-{os.getpid()}-x2"
    tmpfs(leftover / "rootfs" / "proc")
    running.mkdir(parents=True)
    try:
        assert images._scratch() == scratch
        assert not leftover.exists() and running.is_dir()
        assert mounts_below(scratch) == []
    finally:
        unmount_all(scratch)


def _ended_pid() -> int:
    """A pid no process can have: one above the kernel's highest."""
    return int(Path("/proc/sys/kernel/pid_max").read_text()) + 1
