"""What a node leaves on the machine, found and removed: `down` leaves nothing behind.

Everything is recognised as the node's own by where it lives, never by a broad name:
processes by their cgroup (below CGROUP_ROOT) or by the node's containerd socket on their
command line (the runc shims, which leave containerd's process group), mounts by their
path (below the run directory), the bridge and the portmap chains by their names, the
log links kubelet makes in /var/log/containers by their target (the node's pod log dir),
kube-proxy's iptables chains by their KUBE- prefix (no other program on the machine uses
it; two clusters at once would share the bridge's name anyway).
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import shlex
import shutil
import signal
import subprocess
from pathlib import Path

from harness.cluster.configs import CNI_NETWORK, CONTAINERD_NAMESPACE
from harness.cluster.settings import BRIDGE, CGROUP_ROOT, POD_SUBNET, ClusterSettings
from harness.mounts import mounts_below, unmount_all
from harness.wait import poll

CGROUP_MOUNT = Path("/sys/fs/cgroup")
CONTAINER_LOG_LINKS = Path("/var/log/containers")  # fixed in kubelet
SHIM_SOCKET_DIR = Path("/run/containerd/s")  # fixed in containerd 1.6's shims
# Directories kubelet, the controller manager and libcni make at fixed paths, whatever
# their configuration says: removed when they hold nothing but sockets, empty
# directories and the pod network's CNI cache files (so nobody else's state is touched).
FIXED_DIRS = (
    Path("/var/lib/kubelet"),  # device-plugins/kubelet.sock (fixed in kubelet)
    Path("/var/lib/cni"),  # libcni's result cache, under containerd's CRI
)
# The top-level chains of the portmap plugin; each pod's own (CNI-DN-*) go with the pod.
PORTMAP_CHAINS = ("CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ")
# The firewall plugin's chains in the filter table; each pod's rules name its address.
FIREWALL_CHAINS = ("CNI-FORWARD", "CNI-ADMIN")
# kube-proxy's (and kubelet's canary) chains are all named KUBE-*, in these tables.
KUBE_CHAIN_PREFIX = "KUBE-"
KUBE_TABLES = ("nat", "filter", "mangle")


def cgroup_dirs(root: str = CGROUP_ROOT, mount: Path = CGROUP_MOUNT) -> list[Path]:
    """`root` in every mounted hierarchy (cgroup v1 controllers and the v2 one beside them)."""
    return [hierarchy / root.lstrip("/") for hierarchy in sorted(mount.iterdir())
            if hierarchy.is_dir() and not hierarchy.is_symlink()]  # fmt: skip


def make_cgroup_root() -> None:
    """kubelet wants its cgroup root to exist in every hierarchy before it starts."""
    for directory in cgroup_dirs():
        with contextlib.suppress(OSError):  # a read-only or odd hierarchy: kubelet names it
            directory.mkdir(exist_ok=True)


def cgroup_pids() -> set[int]:
    pids: set[int] = set()
    for directory in cgroup_dirs():
        for procs in directory.rglob("cgroup.procs") if directory.is_dir() else ():
            with contextlib.suppress(OSError):
                pids.update(int(line) for line in procs.read_text().split())
    return pids


def shim_pids(socket: Path) -> dict[int, str]:
    """pid -> container id of the runc shims serving the node's containerd."""
    shims: dict[int, str] = {}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            argv = cmdline.read_bytes().decode(errors="replace").split("\0")
            if "-address" in argv and str(socket) in argv and "-id" in argv:
                shims[int(cmdline.parent.name)] = argv[argv.index("-id") + 1]
    return shims


def shim_socket(containerd_socket: Path, container_id: str) -> Path:
    """Where containerd 1.6 puts a shim's socket (runtime/v2/shim/util_unix.go)."""
    digest = hashlib.sha256(
        f"{containerd_socket}/{CONTAINERD_NAMESPACE}/{container_id}".encode()
    ).hexdigest()
    return SHIM_SOCKET_DIR / digest


def kill_all(pids: set[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def remove_bridge() -> None:
    if Path(f"/sys/class/net/{BRIDGE}").exists():
        subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True, check=False)


def remove_portmap_chains(network: str) -> None:
    """The pods' port mappings (left when kubelet could not tear a sandbox down), then the
    portmap plugin's own chains once no mapping of anyone is left in them."""
    rules = _iptables("-t", "nat", "-S").splitlines()
    marker = f'name: "{network}" id:'
    for line in rules:
        argv = shlex.split(line)
        if argv[:2] == ["-A", "CNI-HOSTPORT-DNAT"] and any(marker in a for a in argv):
            pod_chain = argv[argv.index("-j") + 1]
            _iptables("-t", "nat", "-D", *argv[1:])
            _iptables("-t", "nat", "-F", pod_chain)
            _iptables("-t", "nat", "-X", pod_chain)
    rules = _iptables("-t", "nat", "-S").splitlines()
    if any(line.startswith("-A CNI-HOSTPORT-DNAT ") for line in rules):
        return  # someone else's pod still maps a port
    for line in rules:
        argv = shlex.split(line)
        if argv[0] == "-A" and argv[-1] in PORTMAP_CHAINS:
            _iptables("-t", "nat", "-D", *argv[1:])
    for chain in PORTMAP_CHAINS:
        if f"-N {chain}" in rules:
            _iptables("-t", "nat", "-F", chain)
            _iptables("-t", "nat", "-X", chain)


def remove_firewall_chains(subnet: str) -> None:
    """The firewall plugin's rules for addresses of the pod subnet, then its chains once
    they accept nobody else's pods."""
    network = ipaddress.IPv4Network(subnet)
    rules = _iptables("-t", "filter", "-S").splitlines()
    for line in rules:
        argv = shlex.split(line)
        if argv[:2] == ["-A", "CNI-FORWARD"] and _names_address_in(argv, network):
            _iptables("-t", "filter", "-D", *argv[1:])
    rules = _iptables("-t", "filter", "-S").splitlines()
    if any(line.startswith("-A CNI-") and not line.endswith("-j CNI-ADMIN") for line in rules):
        return  # another user's pods still have rules
    for line in rules:
        argv = shlex.split(line)
        if argv[0] == "-A" and argv[-1] in FIREWALL_CHAINS:
            _iptables("-t", "filter", "-D", *argv[1:])
    for chain in FIREWALL_CHAINS:
        if f"-N {chain}" in rules:
            _iptables("-t", "filter", "-F", chain)
            _iptables("-t", "filter", "-X", chain)


def remove_kube_chains(tables: tuple[str, ...] = KUBE_TABLES) -> None:
    """kube-proxy's rules: the jumps into its KUBE-* chains from the built-in chains, then
    the chains themselves (what `kube-proxy --cleanup` removes, without its IPVS flush,
    which would touch every virtual server on the machine)."""
    for table in tables:
        rules = _iptables("-t", table, "-S").splitlines()
        for line in rules:
            argv = shlex.split(line)
            chain = argv[1] if len(argv) > 1 else ""
            if argv[0] == "-A" and not chain.startswith(KUBE_CHAIN_PREFIX) and _jumps_to_kube(argv):
                _iptables("-t", table, "-D", *argv[1:])
        chains = [line.split()[1] for line in rules if line.startswith(f"-N {KUBE_CHAIN_PREFIX}")]
        for chain in chains:
            _iptables("-t", table, "-F", chain)
        for chain in chains:
            _iptables("-t", table, "-X", chain)


def _jumps_to_kube(argv: list[str]) -> bool:
    return any(
        flag in ("-j", "-g") and target.startswith(KUBE_CHAIN_PREFIX)
        for flag, target in zip(argv, argv[1:], strict=False)
    )


def _names_address_in(argv: list[str], network: ipaddress.IPv4Network) -> bool:
    """The rule's source or destination is an address of `network`."""
    for flag in ("-s", "-d"):
        if flag in argv:
            with contextlib.suppress(ValueError):
                if ipaddress.ip_interface(argv[argv.index(flag) + 1]).ip in network:
                    return True
    return False


def _iptables(*args: str) -> str:
    result = subprocess.run(["iptables", "-w", "5", *args], capture_output=True, text=True,
                            check=False)  # fmt: skip
    return result.stdout


def remove_log_links(pod_logs: Path) -> None:
    if not CONTAINER_LOG_LINKS.is_dir():
        return
    for link in CONTAINER_LOG_LINKS.iterdir():
        if link.is_symlink() and str(os.readlink(link)).startswith(str(pod_logs) + "/"):
            link.unlink(missing_ok=True)


def only_node_state(directory: Path, network: str) -> bool:
    """True when `directory` holds no regular file but CNI cache files of `network` and of
    the loopback network containerd's CRI sets up in each pod."""
    ours = (f"{network}-", "cni-loopback-")
    for entry in directory.rglob("*"):
        if entry.is_file() and not entry.is_symlink() and not entry.name.startswith(ours):
            return False
    return True


def remove_fixed_dirs(network: str, dirs: tuple[Path, ...] = FIXED_DIRS) -> None:
    for directory in dirs:
        if directory.is_dir() and only_node_state(directory, network):
            shutil.rmtree(directory, ignore_errors=True)


def remove_cgroups() -> None:
    """The node's cgroup tree in each hierarchy, deepest first (rmdir of empty cgroups)."""
    for directory in cgroup_dirs():
        if not directory.is_dir():
            continue
        tree = [p for p in directory.rglob("*") if p.is_dir()] + [directory]
        for cgroup in sorted(tree, key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                cgroup.rmdir()


def sweep(s: ClusterSettings) -> list[str]:
    """Remove whatever the node left; what could not be removed is named in the answer."""
    shims = shim_pids(s.containerd_socket)
    kill_all(cgroup_pids() | set(shims))
    poll(lambda: not cgroup_pids() and not shim_pids(s.containerd_socket), timeout=10,
         interval=0.1, on_timeout="return")  # fmt: skip
    for container_id in shims.values():
        shim_socket(s.containerd_socket, container_id).unlink(missing_ok=True)
    unmount_all(s.run_dir)
    remove_bridge()
    remove_portmap_chains(CNI_NETWORK)
    remove_firewall_chains(POD_SUBNET)
    remove_kube_chains()
    remove_log_links(s.run_dir / "pod-logs")
    remove_fixed_dirs(CNI_NETWORK)
    remove_cgroups()
    return leftovers(s)


def leftovers(s: ClusterSettings) -> list[str]:
    """What of the node is still on the machine (empty once `down` did its work)."""
    found = [f"process {pid} in {CGROUP_ROOT}" for pid in sorted(cgroup_pids())]
    found += [f"runc shim {pid}" for pid in sorted(shim_pids(s.containerd_socket))]
    found += [f"mount {point}" for point in mounts_below(s.run_dir)] if s.run_dir.exists() else []
    if Path(f"/sys/class/net/{BRIDGE}").exists():
        found.append(f"bridge {BRIDGE}")
    found += [f"cgroup {d}" for d in cgroup_dirs() if d.exists()]
    fixed = [d for d in FIXED_DIRS if d.exists() and only_node_state(d, CNI_NETWORK)]
    found += [f"directory {d}" for d in fixed]
    for table in ("nat", "filter"):
        if "-N CNI-" in _iptables("-t", table, "-S"):
            found.append(f"iptables chains CNI-* in the {table} table")
    for table in KUBE_TABLES:
        if f"-N {KUBE_CHAIN_PREFIX}" in _iptables("-t", table, "-S"):
            found.append(f"iptables chains {KUBE_CHAIN_PREFIX}* in the {table} table")
    return found
