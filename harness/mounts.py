"""Mount points below a folder, and unmounting them: what a killed debootstrap (its chroot's
/proc) or a single-node cluster (its pods' volumes) can leave mounted under a folder that is
about to be removed."""

from __future__ import annotations

import subprocess
from pathlib import Path


def mounts_below(directory: Path, mountinfo: Path = Path("/proc/self/mountinfo")) -> list[Path]:
    """Mount points below `directory`, deepest first (so each unmount can succeed)."""
    found = []
    prefix = str(directory.resolve()) + "/"
    for line in mountinfo.read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")  # \\040 is a space
        if point.startswith(prefix):
            found.append(Path(point))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def unmount_all(directory: Path) -> None:
    for point in mounts_below(directory):
        subprocess.run(["umount", "--lazy", str(point)], capture_output=True, check=False)
