"""Which Kubernetes, helm and Dapr control-plane commands the suite builds, and how.

The Kubernetes release follows k3d/cluster.yaml: the k3s image `rancher/k3s:v1.32.5-k3s1`
pins Kubernetes v1.32.5. When the Go module proxy does not serve that exact release, the
nearest one it serves is taken (same minor first) and named. `k8s.io/kubernetes` keeps its
libraries in staging paths; the wrapper module maps each to the published
`k8s.io/<name> v0.<minor>.<patch>` of the same release.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from harness.daprd import AVRO_SHIM, SUBSTITUTES, replace_lines
from harness.daprd import ldflags as dapr_ldflags
from harness.daprd import module_info as dapr_module_info
from harness.errors import HarnessError
from harness.gobuild import GoCommand, go, go_directive, module_download
from harness.settings import DEFAULT_DAPR_VERSION, REPO_ROOT

KUBERNETES_MODULE = "k8s.io/kubernetes"
HELM_MODULE = "helm.sh/helm/v3"
HELM_VERSION = "v3.22.0"
DAPR_MODULE = "github.com/dapr/dapr"
# The cluster DNS: the release kubeadm installs beside Kubernetes 1.32.
COREDNS_MODULE = "github.com/coredns/coredns"
COREDNS_VERSION = "v1.11.3"
CLUSTER_YAML = REPO_ROOT / "k3d" / "cluster.yaml"
_K3S_TAG = re.compile(r":v(\d+)\.(\d+)\.(\d+)-k3s\d+$")
_STAGING = re.compile(r"^\s*(k8s\.io/[\w.-]+)\s*=>\s*\./staging/", re.MULTILINE)


def pinned_kubernetes(cluster_yaml: Path = CLUSTER_YAML) -> str:
    """The Kubernetes release of the k3s image cluster.yaml pins, as `v1.32.5`."""
    image = str(yaml.safe_load(cluster_yaml.read_text()).get("image", ""))
    match = _K3S_TAG.search(image)
    if not match:
        raise HarnessError(f"{cluster_yaml}: image {image!r} is not a rancher/k3s release tag")
    return "v{}.{}.{}".format(*match.groups())


def nearest_served(wanted: str, served: list[str]) -> str:
    """`wanted` when served; else the same minor's nearest patch; else the nearest minor."""

    def parts(version: str) -> tuple[int, int, int]:
        major, minor, patch = (int(x) for x in version.lstrip("v").split("."))
        return major, minor, patch

    plain = [v for v in served if re.fullmatch(r"v\d+\.\d+\.\d+", v)]
    if wanted in plain:
        return wanted
    if not plain:
        raise HarnessError(f"the Go module proxy serves no release of {KUBERNETES_MODULE}")
    want = parts(wanted)
    return min(
        plain,
        key=lambda v: (abs(parts(v)[1] - want[1]), abs(parts(v)[2] - want[2]), -parts(v)[2]),
    )


def kubernetes_release() -> str:
    """The release to build: the pinned one, or the nearest the proxy serves."""
    wanted = pinned_kubernetes()
    try:
        module_download(KUBERNETES_MODULE, wanted)
        return wanted
    except HarnessError:
        listed = go("list", "-m", "-versions", KUBERNETES_MODULE, cwd=Path("/"))
        served = listed.stdout.split()[1:] if listed.returncode == 0 else []
        chosen = nearest_served(wanted, [v for v in served if v != wanted])
        module_download(KUBERNETES_MODULE, chosen)
        return chosen


def staging_replaces(gomod_text: str, release: str) -> tuple[str, ...]:
    """Each staging path of k8s.io/kubernetes mapped to its published module."""
    published = "v0." + release.lstrip("v").split(".", 1)[1]
    return tuple(f"{path} => {path} {published}" for path in _STAGING.findall(gomod_text))


def kubernetes_command(name: str, release: str) -> GoCommand:
    """kube-apiserver (or another command of k8s.io/kubernetes) at `release`."""
    info = module_download(KUBERNETES_MODULE, release)
    gomod = Path(info["GoMod"])
    replaces = staging_replaces(gomod.read_text(), release)
    if not replaces:
        raise HarnessError(f"{KUBERNETES_MODULE}@{release} lists no staging modules")
    return GoCommand(
        name=name,
        module=KUBERNETES_MODULE,
        version=release,
        package=f"{KUBERNETES_MODULE}/cmd/{name}",
        replaces=replaces,
        go_directive=go_directive(gomod),
        ldflags=f"-s -w -X k8s.io/component-base/version.gitVersion={release}",
    )


def helm_command() -> GoCommand:
    info = module_download(HELM_MODULE, HELM_VERSION)
    return GoCommand(
        name="helm",
        module=HELM_MODULE,
        version=HELM_VERSION,
        package=f"{HELM_MODULE}/cmd/helm",
        go_directive=go_directive(Path(info["GoMod"])),
        ldflags=f"-s -w -X helm.sh/helm/v3/internal/version.version={HELM_VERSION}",
    )


def coredns_command() -> GoCommand:
    """CoreDNS, the cluster DNS (its main package is the module's root)."""
    info = module_download(COREDNS_MODULE, COREDNS_VERSION)
    return GoCommand(
        name="coredns",
        module=COREDNS_MODULE,
        version=COREDNS_VERSION,
        package=COREDNS_MODULE,
        go_directive=go_directive(Path(info["GoMod"])),
    )


def dapr_module_dir(version: str = DEFAULT_DAPR_VERSION) -> Path:
    """The unpacked github.com/dapr/dapr module: its chart, CRDs and control-plane code."""
    return Path(module_download(DAPR_MODULE, f"v{version.lstrip('v')}")["Dir"])


def dapr_replaces(gomod_text: str, substitutes: dict[str, str]) -> tuple[str, ...]:
    """dapr's own replace lines, with the substitutes the daprd build needs in their place."""
    kept = [line for line in replace_lines(gomod_text) if line.split()[0] not in substitutes]
    for old_path, new in substitutes.items():
        if new.startswith("local:"):
            kept.append(f"{old_path} => ./{new.removeprefix('local:')}")
        elif new:
            kept.append(f"{old_path} => {new}")
    return tuple(kept)


def dapr_command(name: str, version: str = DEFAULT_DAPR_VERSION) -> GoCommand:
    """A control-plane command of the dapr module (`sentry`, `injector`), built like daprd.

    The substitutes are taken at once: the proxy here refuses the modules they stand for,
    and the control plane imports none of the code they touch (workflows, pulsar).
    """
    info = dapr_module_info(version.lstrip("v"))
    substitutes = {path: new for path, (_, new) in SUBSTITUTES.get(info.version, {}).items()}
    files: tuple[tuple[str, str], ...] = ()
    if "local:avro" in substitutes.values():
        gomod = "module github.com/iskorotkov/avro/v2\n\ngo 1.22\n"
        files = (("avro/go.mod", gomod), ("avro/avro.go", AVRO_SHIM))
    return GoCommand(
        name=f"dapr-{name}",
        module=DAPR_MODULE,
        version=f"v{info.version}",
        package=f"{DAPR_MODULE}/cmd/{name}",
        replaces=dapr_replaces(info.gomod.read_text(), substitutes),
        go_directive=go_directive(info.gomod),
        ldflags=dapr_ldflags(info),
        files=files,
    )
