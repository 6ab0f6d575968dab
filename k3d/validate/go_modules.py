"""The Go modules whose files the checks read: Dapr's CRDs and k3d's config schema."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from k3d.validate.report import SetupError

DAPR_MODULE = "github.com/dapr/dapr"
K3D_MODULE = "github.com/k3d-io/k3d/v5"
# The k3d release whose config schema cluster.yaml must satisfy; the workflow installs it.
K3D_VERSION = "v5.9.0"


def escape_module_path(path: str) -> str:
    """The module cache spells upper-case letters as '!' + lower case."""
    return re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), path)


def go_module_dir(module: str, version: str) -> Path:
    """The unpacked module in the Go module cache, downloaded first if it is missing."""
    go = shutil.which("go")
    if go is None:
        raise SetupError(f"Go is needed to read {module}@{version} (install Go 1.21+)")
    try:
        modcache = subprocess.run(
            [go, "env", "GOMODCACHE"], capture_output=True, text=True, check=True, timeout=60
        ).stdout.strip()
    except (subprocess.SubprocessError, OSError) as err:
        raise SetupError(f"'go env GOMODCACHE' failed: {err}") from None
    cached = Path(modcache) / f"{escape_module_path(module)}@{version}"
    if cached.is_dir():
        return cached
    with tempfile.TemporaryDirectory() as workdir:  # outside any go.mod
        result = subprocess.run(
            [go, "mod", "download", "-json", f"{module}@{version}"],
            capture_output=True,
            text=True,
            cwd=workdir,
            timeout=900,
            check=False,
        )
    try:
        info = json.loads(result.stdout)
    except json.JSONDecodeError:
        info = {"Error": (result.stderr or result.stdout).strip().splitlines()[-1:]}
    if result.returncode != 0 or info.get("Error") or not info.get("Dir"):
        raise SetupError(f"go mod download {module}@{version} failed: {info.get('Error')}")
    return Path(info["Dir"])


def module_dir(env: Mapping[str, str], variable: str, module: str, version: str) -> Path:
    override = env.get(variable, "").strip()
    if override:
        path = Path(override)
        if not path.is_dir():
            raise SetupError(f"{variable}={override} is not a directory")
        return path
    return go_module_dir(module, version)
