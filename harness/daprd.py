"""Finding, checking and installing daprd releases side by side.

Lookup order: `$DAPRD`, `daprd` on PATH, then the release's own install path:
`~/.dapr/bin/daprd` for the pinned release, `~/.dapr/bin/daprd-<version>` for any other
(the version matrix runs several). When none is there, daprd is built from the Go module
proxy the way the release is built (`-tags allcomponents`, CGO off, version ldflags, with the
components-contrib version the release's go.mod requires). A binary is checked to report
the asked version before it is put in place, so a failed or wrong build leaves nothing
behind. What is present is never rebuilt.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.arguments import one_line_parser, run_command
from harness.errors import HarnessError
from harness.progress import say, wait_with_ticks
from harness.settings import DEFAULT_DAPR_VERSION

MODULE = "github.com/dapr/dapr"
COMMAND = f"{MODULE}/cmd/daprd"
CONTRIB = "github.com/dapr/components-contrib"
VERSION_PATTERN = re.compile(r"^\d+\.\d+\.\d+(-rc\.\d+)?$")
DEFAULT_INSTALL = Path.home() / ".dapr" / "bin" / "daprd"

# Module versions that a Dapr release requires but some Go module proxies do not serve
# (seen: a proxy that answers 403 "not available"). Only when the exact build is refused
# for one of these does the build take the substitute, and it says so; each substitute
# touches code this suite never runs (workflows, the pulsar component).
# Each entry: replaced module path -> (the module the proxy refuses, what to use instead).
SUBSTITUTES: dict[str, dict[str, tuple[str, str]]] = {
    "1.18.3": {
        "github.com/dapr/durabletask-go": (
            "github.com/dapr/durabletask-go",
            "github.com/dapr/durabletask-go v0.12.1",
        ),
        # dapr's fork of the pulsar client: drop the replace, take the upstream release
        "github.com/apache/pulsar-client-go": ("github.com/twmb/pulsar-client-go", ""),
        "github.com/iskorotkov/avro/v2": ("github.com/iskorotkov/avro/v2", "local:avro"),
    },
}

# Module versions a Dapr release requires that no longer compile with the Go this suite
# needs (1.26): always replaced by the nearest release of the same module that does, and
# recorded as such. choleraehyq/pid v0.0.20 (reached through dubbo-go) reads the runtime's
# internals in assembly that Go 1.26 rejects; v0.0.24 carries Go 1.24 to 1.26 support.
UPGRADES: dict[str, dict[str, str]] = {
    "1.16.0": {"github.com/choleraehyq/pid": "github.com/choleraehyq/pid v0.0.24"},
}

# The pulsar registration in daprd sets two limits on this library's global config; the
# shim keeps that compiling when the library itself cannot be downloaded.
AVRO_SHIM = """package avro

// Config carries the two limits daprd sets for the pulsar component.
type Config struct {
	MaxSliceAllocSize int
	MaxMapAllocSize   int
}

// API is what a frozen Config becomes.
type API interface{}

// Freeze returns the config as an API value.
func (c Config) Freeze() API { return c }

// DefaultConfig is the global config daprd assigns at start.
var DefaultConfig API = Config{}
"""

Progress = Callable[[str], None]


def _say(message: str) -> None:
    say("daprd", message)


def check_version_string(version: str) -> str:
    version = version.strip().lstrip("v")
    if not VERSION_PATTERN.match(version):
        raise HarnessError(f"DAPR_VERSION={version!r} is not a Dapr release number like 1.18.3")
    return version


def version_key(version: str) -> tuple[int, ...]:
    """Release order: 1.16.0 < 1.17.5 < 1.18.3 (a release candidate's suffix is ignored)."""
    return tuple(int(part) for part in check_version_string(version).split("-", 1)[0].split("."))


def reported_version(binary: Path) -> str:
    """What `daprd --version` prints, stripped."""
    if not binary.exists():
        raise HarnessError(f"daprd not found at {binary}")
    if not os.access(binary, os.X_OK):
        raise HarnessError(f"daprd at {binary} is not executable (chmod +x it or remove it)")
    try:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=20, check=False
        )
    except OSError as exc:
        raise HarnessError(f"daprd at {binary} cannot run: {exc.strerror}") from None
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[-1].strip() if text else ""


def install_path(version: str) -> Path:
    """Where release `version` is installed: the pinned one as `daprd`, others beside it."""
    if version == DEFAULT_DAPR_VERSION:
        return DEFAULT_INSTALL
    return DEFAULT_INSTALL.with_name(f"daprd-{version}")


def build_record_path(binary: Path) -> Path:
    """The build record beside a built daprd: daprd.build.json, daprd-1.16.0.build.json."""
    return binary.with_name(f"{binary.name}.build.json")


def candidates(version: str, env: dict[str, str] | None = None) -> list[tuple[str, Path]]:
    env = dict(os.environ if env is None else env)
    found: list[tuple[str, Path]] = []
    if env.get("DAPRD"):
        found.append(("$DAPRD", Path(env["DAPRD"])))
    on_path = shutil.which("daprd", path=env.get("PATH"))
    if on_path:
        found.append(("PATH", Path(on_path)))
    found.append(("~/.dapr/bin", install_path(version)))
    return found


def locate(version: str, env: dict[str, str] | None = None) -> Path | None:
    """The first daprd in lookup order, checked to be `version`; None if there is none.

    A daprd named by $DAPRD must exist and match: the user asked for that one.
    """
    for source, path in candidates(version, env):
        if not path.exists():
            if source == "$DAPRD":
                raise HarnessError(f"DAPRD={path} does not exist")
            continue
        found = reported_version(path)
        if found.lstrip("v") == version:
            return path
        if source == "$DAPRD":
            raise _wrong_version(path, source, found, version)
    return None


def _wrong_version(path: Path, source: str, found: str, version: str) -> HarnessError:
    return HarnessError(
        f"daprd at {path} ({source}) is version {found or 'unknown'}, "
        f"the stack is pinned to {version} (set DAPR_VERSION or remove that binary)"
    )


def ensure_daprd(version: str, progress: Progress = _say) -> Path:
    """Return a daprd of `version`, installing it when absent."""
    version = check_version_string(version)
    path = locate(version)
    if path:
        return path
    install_to = install_path(version)
    if install_to.exists():
        module_info(version)  # an unknown version is named as such before anything else
        raise _wrong_version(install_to, "~/.dapr/bin", reported_version(install_to), version)
    if not shutil.which("go"):
        raise HarnessError(
            f"daprd {version} is not installed and `go` is not on PATH to build it from the "
            "Go module proxy; install Go, or point DAPRD at a daprd binary"
        )
    module_info(version)  # an unknown or refused version: one line, nothing tried yet
    progress(f"daprd {version} not found; building it into {install_to}")
    build_from_module_proxy(version, install_to, progress)
    return install_to


def refuse_other_version(binary: Path, version: str) -> None:
    """A daprd that does not report `version` is never installed under that name."""
    found = reported_version(binary)
    if found.lstrip("v") != version:
        raise HarnessError(
            f"the daprd built for {version} reports {found or 'no version'!r}; not installed"
        )


def _install_bytes(data: bytes, target: Path, version: str) -> None:
    """Write, check the version, then rename into place: never a half or wrong install."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.partial")
    try:
        tmp.write_bytes(data)
        tmp.chmod(0o755)
        refuse_other_version(tmp, version)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


@dataclass(frozen=True)
class ModuleInfo:
    version: str
    commit: str
    gomod: Path

    def requirement(self, module: str) -> str:
        """The version of `module` this release's go.mod requires ("" if none)."""
        pattern = rf"^\s*(?:require\s+)?{re.escape(module)} (v\S+)"
        match = re.search(pattern, self.gomod.read_text(), re.MULTILINE)
        return match.group(1) if match else ""


def module_info(version: str) -> ModuleInfo:
    result = _go(["mod", "download", "-json", f"{MODULE}@v{version}"], cwd=Path.cwd(), check=False)
    try:
        info = json.loads(result.stdout or "{}")
    except json.JSONDecodeError:
        info = {}
    if info.get("Error") or result.returncode != 0 or "GoMod" not in info:
        raise HarnessError(
            f"unknown Dapr version {version}: the Go module proxy does not serve "
            f"{MODULE}@v{version} ({proxy_answer(info.get('Error') or result.stderr)})"
        )
    commit = info.get("Origin", {}).get("Hash", "")
    return ModuleInfo(version=version, commit=commit, gomod=Path(info["GoMod"]))


def proxy_answer(error: str) -> str:
    """What the proxy answered, in one line: `403 Forbidden: This module version is not
    available.` rather than go's two-line message."""
    status = re.search(r": (\d{3} [^\n]*)", error)
    server = re.search(r"server response: (.+)", error)
    if status and server:
        return f"{status.group(1).strip()}: {server.group(1).strip()}"
    return _last_error(error)


def replace_lines(gomod_text: str) -> list[str]:
    """The `old => new` lines of every replace directive in a go.mod."""
    lines: list[str] = []
    in_block = False
    for raw in gomod_text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if line.startswith("replace ("):
            in_block = True
        elif in_block and line == ")":
            in_block = False
        elif in_block and "=>" in line:
            lines.append(line)
        elif line.startswith("replace ") and "=>" in line:
            lines.append(line[len("replace ") :].strip())
    return lines


def wrapper_gomod(info: ModuleInfo, go_version: str, substitutes: dict[str, str]) -> str:
    """go.mod of the throwaway module that builds daprd with dapr's own replaces."""
    replaces = []
    for line in replace_lines(info.gomod.read_text()):
        old_path = line.split()[0]
        if old_path in substitutes:
            continue
        replaces.append(line)
    for old_path, new in substitutes.items():
        if new.startswith("local:"):
            replaces.append(f"{old_path} => ./{new.removeprefix('local:')}")
        elif new:
            replaces.append(f"{old_path} => {new}")
    body = "\n".join(f"\t{line}" for line in replaces)
    return (
        f"module daprd-build\n\ngo {go_version}\n\nrequire {MODULE} v{info.version}\n\n"
        f"replace (\n{body}\n)\n"
    )


def go_directive(gomod_text: str) -> str:
    match = re.search(r"^go (\S+)", gomod_text, re.MULTILINE)
    return match.group(1) if match else "1.22"


def ldflags(info: ModuleInfo) -> str:
    return " ".join(
        [
            f"-X {MODULE}/pkg/buildinfo.version={info.version}",
            f"-X {MODULE}/pkg/buildinfo.gitcommit={info.commit}",
            f"-X {MODULE}/pkg/buildinfo.gitversion=v{info.version}",
            f"-X github.com/dapr/kit/logger.DaprVersion={info.version}",
            "-s -w",
        ]
    )


def _go(
    args: list[str], cwd: Path, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `go`; a step that takes long (downloading modules) says so every 30 s."""
    if not shutil.which("go"):
        raise HarnessError("building daprd needs Go (1.26.6 or newer for Dapr 1.18): install it")
    # files, not pipes: a long output cannot block go while we wait with ticks
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
        subprocess.Popen(
            ["go", *args], cwd=cwd, stdout=out, stderr=err, text=True,
            env={**os.environ, **(env or {})},
        ) as proc,
    ):  # fmt: skip
        code = wait_with_ticks(proc, _say, f"running go {' '.join(args[:2])}")
        out.seek(0)
        err.seek(0)
        result = subprocess.CompletedProcess(["go", *args], code, out.read(), err.read())
    if check and result.returncode != 0:
        raise HarnessError(f"go {' '.join(args[:2])} failed: {_last_error(result.stderr)}")
    return result


def _last_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def refused_modules(stderr: str) -> set[str]:
    """Module paths the proxy refused, from `go mod tidy` output."""
    return set(re.findall(r"(\S+)@v\S+: reading \S+: 40[34]", stderr))


def _write_wrapper(workdir: Path, info: ModuleInfo, substitutes: dict[str, str]) -> None:
    for name in ("go.mod", "go.sum"):
        (workdir / name).unlink(missing_ok=True)
    go_version = go_directive(info.gomod.read_text())
    (workdir / "go.mod").write_text(wrapper_gomod(info, go_version, substitutes))
    (workdir / "tools.go").write_text(
        f'//go:build tools\n\npackage tools\n\nimport _ "{COMMAND}"\n'
    )
    if any(new == "local:avro" for new in substitutes.values()):
        shim = workdir / "avro"
        shim.mkdir(exist_ok=True)
        (shim / "go.mod").write_text("module github.com/iskorotkov/avro/v2\n\ngo 1.22\n")
        (shim / "avro.go").write_text(AVRO_SHIM)


def _tidy(workdir: Path, info: ModuleInfo, progress: Progress) -> dict[str, str]:
    """Resolve the wrapper's modules; fall back to known substitutes if the proxy refuses."""
    upgrades = UPGRADES.get(info.version, {})
    _write_wrapper(workdir, info, upgrades)
    progress("resolving modules (go mod tidy)")
    result = _go(["mod", "tidy"], cwd=workdir, check=False)
    if result.returncode == 0:
        return {}
    refused = refused_modules(result.stderr)
    known = SUBSTITUTES.get(info.version, {})
    if not refused or not refused <= {module for module, _ in known.values()}:
        raise HarnessError(f"go mod tidy failed: {_last_error(result.stderr)}")
    progress(f"the Go module proxy refuses {', '.join(sorted(refused))}; using substitutes")
    substitutes = {path: new for path, (_, new) in known.items()}
    _write_wrapper(workdir, info, {**upgrades, **substitutes})
    _go(["mod", "tidy"], cwd=workdir)
    return substitutes


def build_from_module_proxy(version: str, target: Path, progress: Progress) -> None:
    started = time.monotonic()
    info = module_info(version)
    with tempfile.TemporaryDirectory(prefix="daprd-build-") as tmp:
        workdir = Path(tmp)
        substitutes = _tidy(workdir, info, progress)
        progress("compiling daprd with -tags allcomponents (the first build takes many minutes)")
        output = workdir / "daprd"
        _build_with_ticks(workdir, info, output, progress)
        _install_bytes(output.read_bytes(), target, version)
    record = {
        "version": version,
        "commit": info.commit,
        "components_contrib": info.requirement(CONTRIB),
        "built_seconds": round(time.monotonic() - started),
        "substitutes": substitutes,
        "upgrades": UPGRADES.get(version, {}),
    }
    build_record_path(target).write_text(json.dumps(record, indent=2) + "\n")
    progress(f"installed {target} in {record['built_seconds']} s")


def _build_with_ticks(workdir: Path, info: ModuleInfo, output: Path, progress: Progress) -> None:
    """Run `go build`, printing a line every 30 s so a long build shows it is alive."""
    argv = [
        "go", "build", "-tags", "allcomponents",
        "-ldflags", ldflags(info), "-o", str(output), COMMAND,
    ]  # fmt: skip
    log = workdir / "build.log"  # a file, not a pipe: a long error output cannot block go
    with (
        log.open("w") as out,
        subprocess.Popen(
            argv,
            cwd=workdir,
            env={**os.environ, "CGO_ENABLED": "0"},
            stdout=out,
            stderr=subprocess.STDOUT,
        ) as proc,
    ):
        wait_with_ticks(proc, progress, "compiling")
    if proc.returncode != 0:
        raise HarnessError(f"go build of daprd failed: {_last_error(log.read_text())}")


def main(argv: list[str] | None = None) -> int:
    """`python -m harness.daprd [--version X]`: install release X (default: $DAPR_VERSION,
    else the pinned one) beside the others; needs only the standard library."""
    parser = one_line_parser("python -m harness.daprd", main.__doc__)
    parser.add_argument(
        "--version",
        default=os.environ.get("DAPR_VERSION") or DEFAULT_DAPR_VERSION,
        help="a Dapr release such as 1.16.0 (default: $DAPR_VERSION or the pinned release)",
    )
    version = parser.parse_args(argv).version

    def install() -> str:
        path = ensure_daprd(version)
        return f"daprd {reported_version(path)} at {path}"

    return run_command(install)


if __name__ == "__main__":
    sys.exit(main())
