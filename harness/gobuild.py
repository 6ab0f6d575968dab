"""Go commands built from the Go module proxy into the suite's cache, only when absent.

kube-apiserver, helm and Dapr's sidecar injector are not packaged for Debian, and their
release downloads live on GitHub or in registries this machine cannot reach. Each is a Go
module: a throwaway wrapper module requires it (with the `replace` lines it needs, such as
Kubernetes' staging paths mapped to the published `k8s.io/*` modules of the same release),
`go build` compiles the command, and the binary is kept under `cache_dir()/bin` with the
version in its name. What is there is never rebuilt.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError
from harness.images import cache_dir
from harness.longrun import Progress, last_line, run_step, say

_say = say("go")


@dataclass(frozen=True)
class GoCommand:
    """A command of a Go module at a pinned version, and how to build it."""

    name: str  # the binary's name in the cache
    module: str
    version: str  # as the proxy names it: v1.32.5
    package: str  # the import path of the command
    replaces: tuple[str, ...] = ()  # `old => new` lines
    tags: tuple[str, ...] = ()
    ldflags: str = "-s -w"
    go_directive: str = "1.23"
    env: dict[str, str] = field(default_factory=lambda: {"CGO_ENABLED": "0"})
    # Extra files of the wrapper module (a local module a `replace` points at), path -> text.
    files: tuple[tuple[str, str], ...] = ()

    def binary(self) -> Path:
        return cache_dir() / "bin" / f"{self.name}-{self.version}"

    def wrapper_gomod(self) -> str:
        text = f"module suite-build/{self.name}\n\ngo {self.go_directive}\n\n"
        text += f"require {self.module} {self.version}\n"
        if self.replaces:
            body = "\n".join(f"\t{line}" for line in self.replaces)
            text += f"\nreplace (\n{body}\n)\n"
        return text

    def tools_go(self) -> str:
        return f'//go:build tools\n\npackage tools\n\nimport _ "{self.package}"\n'


def go(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    if not shutil.which("go"):
        raise HarnessError("building needs Go (1.26 or newer; `.ci/run` expects it on PATH)")
    return subprocess.run(["go", *args], cwd=cwd, capture_output=True, text=True, check=False)


def module_download(module: str, version: str) -> dict[str, str]:
    """`go mod download -json`: the module's Dir and GoMod; a refusal is named."""
    with tempfile.TemporaryDirectory(prefix="suite-mod-") as tmp:
        result = go("mod", "download", "-json", f"{module}@{version}", cwd=Path(tmp))
    info: dict[str, str] = json.loads(result.stdout or "{}")
    if result.returncode != 0 or info.get("Error"):
        reason = last_line(info.get("Error") or result.stderr)
        raise HarnessError(f"the Go module proxy does not serve {module}@{version} ({reason})")
    return info


def go_directive(gomod: Path) -> str:
    match = re.search(r"^go (\S+)", gomod.read_text(), re.MULTILINE)
    return match.group(1) if match else "1.23"


def ensure_command(command: GoCommand, progress: Progress = _say) -> tuple[Path, float]:
    """The command's binary and the seconds spent building it now (0 when cached)."""
    target = command.binary()
    if target.is_file():
        return target, 0.0
    logs = cache_dir() / "logs"
    seconds = 0.0
    with tempfile.TemporaryDirectory(prefix=f"build-{command.name}-") as tmp:
        workdir = Path(tmp)
        (workdir / "go.mod").write_text(command.wrapper_gomod())
        (workdir / "tools.go").write_text(command.tools_go())
        for relative, text in command.files:
            (workdir / relative).parent.mkdir(parents=True, exist_ok=True)
            (workdir / relative).write_text(text)
        progress(f"{command.module}@{command.version}: resolving modules (go mod tidy)")
        seconds += run_step(
            ["go", "mod", "tidy"], what=f"go mod tidy for {command.name}", cwd=workdir,
            log=logs / f"tidy-{command.name}.log", progress=progress,
        )  # fmt: skip
        progress(f"compiling {command.package} (the first build takes minutes)")
        output = workdir / command.name
        argv = ["go", "build", "-ldflags", command.ldflags, "-o", str(output)]
        if command.tags:
            argv += ["-tags", ",".join(command.tags)]
        seconds += run_step(
            [*argv, command.package], what=f"go build of {command.name}", cwd=workdir,
            log=logs / f"build-{command.name}.log", progress=progress, env=command.env,
        )  # fmt: skip
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        shutil.copyfile(output, partial)
        partial.chmod(0o755)
        partial.replace(target)
    progress(f"{target} built in {seconds:.0f} s")
    return target, seconds
