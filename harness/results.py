"""Where a run writes its results: the folder it was given, or results/<kind>-<UTC time>.

Every command that writes results (load runs, benchmarks, the fault scenarios, the version
matrix, the e2e report) names its folder here, so they share one clock and one layout, and a
folder that cannot be made is refused before the run starts rather than at its end.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from harness.errors import HarnessError
from harness.settings import REPO_ROOT

RESULTS = REPO_ROOT / "results"


def results_folder(named: str | Path | None, kind: str, root: Path | None = None) -> Path:
    """The named folder (absolute: locust and pytest children start elsewhere), or a new
    results/<kind>-<UTC time>, with -2, -3... when a run of the same second has it."""
    if named:
        return Path(named).absolute()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return _unused((root or RESULTS) / f"{kind}-{stamp}")


def _unused(folder: Path) -> Path:
    candidate, n = folder, 1
    while candidate.exists():
        n += 1
        candidate = folder.with_name(f"{folder.name}-{n}")
    return candidate


def unwritable(folder: Path) -> str:
    """Why `folder` cannot be made and written, or "" when it can; nothing is created.
    The nearest part of its path that is there (a link too, even one to nothing) decides."""
    nearest = folder
    while not os.path.lexists(nearest) and nearest != nearest.parent:
        nearest = nearest.parent
    return "" if _writable_folder(nearest) else _why(nearest)


def _writable_folder(path: Path) -> bool:
    # os.path's tests answer False where a folder on the way cannot be searched
    return os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)


def _why(path: Path) -> str:
    if os.path.islink(path) and not os.path.exists(path):
        return f"{path} is a link to nothing"
    if os.path.exists(path) and not os.path.isdir(path):
        return f"{path} is a file, not a folder"
    return f"{path} cannot be written"


def require_makeable(folder: Path) -> Path:
    """`folder`, or one line naming why a run could not write its results there."""
    reason = unwritable(folder)
    if reason:
        raise HarnessError(f"results folder {folder}: {reason}")
    return folder
