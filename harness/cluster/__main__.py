"""`python -m harness.cluster up|down|status|env|run`: the single-node cluster in the background.

`up` starts a supervisor process that owns the cluster, shows its progress, and returns
once the node is Ready, Dapr's control plane runs on it as pods, and the suite's workload
(k3d's manifests, Prometheus) is Ready behind k3d's host ports on 127.0.0.1 (a running
cluster is left as it is). `down` stops it and removes whatever the node left on the
machine, also after a supervisor that was killed. `status` says whether it runs and
whether the node is Ready (exit 1 when not). `env` prints the settings that point the
Kubernetes target at it (`eval "$(python -m harness.cluster env)"`); `run CMD...` runs a
command with them (`python -m harness.cluster run pytest e2e`).
Ports move with HARNESS_PORT_OFFSET; HARNESS_CLUSTER_RUN_DIR moves the run directory.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from harness.arguments import one_line_parser
from harness.cluster import dapr, leftovers, workload
from harness.cluster.node import Cluster, node_ready, preflight
from harness.cluster.pods import pod_problem
from harness.cluster.port_mappings import Mapping, mappings, target_env
from harness.cluster.settings import NODE_NAME, ClusterSettings
from harness.errors import HarnessError
from harness.images import DOCKERFILES, service_image
from harness.kube_apiserver import HOST, launch
from harness.kube_apply import DAPR_NAMESPACE
from harness.longrun import say as progress_for
from harness.ports import accepts, ensure_ports_free
from harness.processes import ManagedProcess, pid_alive, stop_group
from harness.progress import say
from harness.settings import REPO_ROOT
from harness.wait import poll

SUPERVISE = "_supervise"
# Both services' images, under the names the node imports (workload.ensure_images builds them)
SUITE_SERVICE_IMAGES = tuple(service_image(app_id) for app_id in DOCKERFILES)


@dataclass(frozen=True)
class State:
    pid: int
    status: str  # starting | ready | failed
    error: str = ""
    up_seconds: float = 0.0
    kubeconfig: str = ""
    target_env: dict[str, str] = field(default_factory=dict)  # port_mappings.target_env
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase of `up`


def read_state(s: ClusterSettings) -> State | None:
    try:
        return State(**json.loads(s.state_file.read_text()))
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None


def write_state(s: ClusterSettings, state: State) -> None:
    tmp = s.state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state)))
    tmp.replace(s.state_file)


def live_state(s: ClusterSettings) -> State | None:
    """The state of a supervisor that still runs (its pid not reused by another program)."""
    state = read_state(s)
    if state is None or not pid_alive(state.pid):
        return None
    try:
        cmdline = Path(f"/proc/{state.pid}/cmdline").read_bytes()
    except OSError:
        return None
    return state if SUPERVISE.encode() in cmdline else None


# -- up ---------------------------------------------------------------------------------


def up(s: ClusterSettings) -> int:
    state = live_state(s)
    if state and state.status == "ready":
        print(f"cluster already up (supervisor pid {state.pid}); nothing changed")
        print(f"  kubeconfig  {state.kubeconfig}")
        return 0
    if state:
        raise HarnessError(f"a cluster is {state.status} (supervisor pid {state.pid}); "
                           "wait for it or run `python -m harness.cluster down`")  # fmt: skip
    preflight()
    started = time.monotonic()
    s.run_dir.parent.mkdir(parents=True, exist_ok=True)
    s.state_file.unlink(missing_ok=True)
    say("cluster", f"starting (log: {s.supervisor_log})")
    with s.supervisor_log.open("wb") as log:
        proc = subprocess.Popen(  # our own module
            [sys.executable, "-m", "harness.cluster", SUPERVISE], stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT, start_new_session=True,
        )  # fmt: skip
    try:
        state = _follow(s, proc)
    except BaseException:  # a failure or Ctrl-C: the supervisor stops what it started
        _stop_supervisor(proc.pid, timeout=90)
        leftovers.sweep(s)  # and whatever a supervisor killed after 90 s left
        raise
    print(f"cluster up in {time.monotonic() - started:.1f} s (node {NODE_NAME} Ready, "
          "Dapr's control plane Ready, the suite's workload Ready)")  # fmt: skip
    for phase, seconds in state.phases.items():
        print(f"  {seconds:6.1f} s  {phase}")
    print(f"  kubeconfig  {state.kubeconfig}")
    print("  target      python -m harness.cluster run pytest e2e   (or: eval \"$(python -m "
          "harness.cluster env)\")")  # fmt: skip
    return 0


def _follow(s: ClusterSettings, proc: subprocess.Popen[bytes]) -> State:
    """Echo the supervisor's progress until it reports ready; a failure raises."""
    offset = 0

    def report() -> State | None:
        nonlocal offset
        with s.supervisor_log.open("rb") as log:
            log.seek(offset)
            chunk = log.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        offset += len(complete)
        if complete:
            sys.stderr.write(complete.decode(errors="replace"))
        state = read_state(s)
        if state and state.status == "ready":
            return state
        if state and state.status == "failed":
            raise HarnessError(state.error)
        if proc.poll() is not None:
            raise HarnessError(f"the cluster supervisor exited with code {proc.returncode}; "
                               f"see {s.supervisor_log}")  # fmt: skip
        return None

    timeout = 1800  # a first run builds three Go commands and the images
    ready = poll(report, timeout=timeout, interval=0.2, on_timeout="return")
    if ready is None:
        raise HarnessError(f"the cluster did not report ready within {timeout} s")
    return ready


def supervise() -> int:
    """Body of the supervisor: run the cluster until SIGTERM, SIGINT or SIGHUP."""
    s = ClusterSettings.from_env(dict(os.environ))
    stop = threading.Event()

    def on_signal(*_: object) -> None:
        if not ready:
            raise KeyboardInterrupt  # abort the start: Cluster.start stops what it started
        stop.set()

    ready = False
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    pid = os.getpid()
    write_state(s, State(pid, "starting"))
    try:
        progress = progress_for("cluster")
        phases: dict[str, float] = {}
        env: dict[str, str] = {}
        started = time.monotonic()
        dapr.ensure_images(progress)
        workload_images = workload.images(
            workload.manifest_documents() + workload.manifest_documents(workload.LOAD_MANIFESTS)
        )
        workload.ensure_images(workload_images, progress)
        phases["images built (ours again, pinned ones when absent)"] = time.monotonic() - started
        images = (*SUITE_SERVICE_IMAGES, *workload_images, *dapr.images())
        cluster = Cluster(s, images=images, progress=progress)
        cluster.start()
        phases.update(_node_phases(cluster))
        phases["Dapr control plane Ready"] = _install_dapr(cluster)
        env, phases["workload Ready and mapped"] = _deploy_workload(cluster)
        for step, seconds in cluster.timings.items():
            if step.startswith("workload: "):
                phases[step] = seconds
    except (HarnessError, OSError) as exc:
        write_state(s, State(pid, "failed", error=str(exc)))
        return 1
    except KeyboardInterrupt:
        s.state_file.unlink(missing_ok=True)
        return 130
    ready = True
    write_state(s, State(pid, "ready", up_seconds=round(time.monotonic() - started, 1),
                         kubeconfig=str(cluster.kubeconfig_path), target_env=env,
                         phases={k: round(v, 1) for k, v in phases.items()}))  # fmt: skip
    try:
        stop.wait()
    finally:
        try:
            cluster.stop()
        finally:
            s.state_file.unlink(missing_ok=True)
    return 0


def _node_phases(cluster: Cluster) -> dict[str, float]:
    t = cluster.timings
    return {"images imported into containerd": t.get("import images", 0.0),
            "node Ready with kube-proxy and CoreDNS (import included)": t["up"]}  # fmt: skip


def _install_dapr(cluster: Cluster) -> float:
    """Dapr's chart on the running node; seconds it took. A failure stops the node too."""
    started = time.monotonic()
    try:
        dapr.install_and_wait(cluster.apiserver, cluster.progress)
    except BaseException:
        cluster.stop()
        raise
    return time.monotonic() - started


def _deploy_workload(cluster: Cluster) -> tuple[dict[str, str], float]:
    """k3d's manifests and Prometheus on the node, k3d's host ports relayed to their
    NodePorts; the target's settings and the seconds it took. A failure stops the node."""
    started = time.monotonic()
    try:
        steps = workload.deploy(cluster.apiserver, cluster.progress)
        cluster.timings.update({f"workload: {k}": v for k, v in steps.items()})
        found = _start_relays(cluster)
    except BaseException:
        cluster.stop()
        raise
    env = target_env(found, str(cluster.kubeconfig_path), context=KUBE_CONTEXT)
    return env, time.monotonic() - started


KUBE_CONTEXT = "suite"  # the context of the apiserver's kubeconfig (harness.kube_apiserver)


def _start_relays(cluster: Cluster) -> list[Mapping]:
    """One socat per NodePort in use, on 127.0.0.1 at k3d's host port (+ offset)."""
    with cluster.api_client() as api:
        services: Any = k8s.CoreV1Api(api).list_service_for_all_namespaces().items
    in_use = {p.node_port for svc in services for p in svc.spec.ports or [] if p.node_port}
    found = mappings(cluster.settings.port_offset, in_use)
    ensure_ports_free({f"{m.name} host port": m.host_port for m in found}, HOST)
    for m in found:
        relay = ManagedProcess(f"relay {m.name}", m.relay_argv(),
                               cluster.settings.logs / f"relay-{m.node_port}.log")  # fmt: skip
        cluster.processes.append(relay)
        launch(relay, partial(accepts, HOST, m.host_port), 10, cluster.progress)
    cluster.progress("host ports: " + ", ".join(f"{m.name} {m.url}" for m in found))
    return found


# -- down and status --------------------------------------------------------------------


def _stop_supervisor(pid: int, timeout: float) -> None:
    """SIGTERM (it takes the pods off and stops the node), SIGKILL if it hangs."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if not poll(lambda: not pid_alive(pid), timeout=timeout, interval=0.1, on_timeout="return"):
        stop_group(pid, grace=0)


def down(s: ClusterSettings) -> int:
    started = time.monotonic()
    state = live_state(s)
    if state:
        say("cluster", f"stopping the supervisor (pid {state.pid}) and the node")
        _stop_supervisor(state.pid, timeout=90)
    s.state_file.unlink(missing_ok=True)
    remaining = leftovers.sweep(s)
    if remaining:
        raise HarnessError("still on the machine after down: " + "; ".join(remaining))
    what = "cluster down" if state else "no cluster supervisor was running; nothing left behind"
    print(f"{what} ({time.monotonic() - started:.1f} s)")
    return 0


def status(s: ClusterSettings) -> int:
    state = live_state(s)
    if state is None:
        print("cluster: not running")
        return 1
    if state.status != "ready":
        print(f"cluster: {state.status} (supervisor pid {state.pid})")
        return 1
    api = k8s_config.new_client_from_config(config_file=state.kubeconfig)
    try:
        with api:
            node: Any = k8s.CoreV1Api(api).read_node(NODE_NAME)
            pods: Any = k8s.CoreV1Api(api).list_namespaced_pod(DAPR_NAMESPACE).items
    except (ApiException, urllib3.exceptions.HTTPError) as exc:
        print(f"cluster: supervisor pid {state.pid} runs, but the node cannot be read "
              f"({type(exc).__name__}); see {s.run_dir / 'logs'}")  # fmt: skip
        return 1
    ready = node_ready(node)
    info = node.status.node_info
    print(f"cluster: up (supervisor pid {state.pid}, came up in {state.up_seconds} s); node "
          f"{NODE_NAME} {'Ready' if ready else 'NOT Ready'}, kubelet {info.kubelet_version}, "
          f"{info.container_runtime_version}")  # fmt: skip
    ready_apps = {p.metadata.labels.get("app") for p in pods if not pod_problem(p)}
    missing = [app for app in dapr.CONTROL_PLANE if app not in ready_apps]
    print("  dapr        " + (f"not Ready: {', '.join(missing)}" if missing else
                              f"{', '.join(dapr.CONTROL_PLANE)} Ready"))  # fmt: skip
    print(f"  kubeconfig  {state.kubeconfig}")
    for name, value in state.target_env.items():
        if name.endswith("_URL"):
            print(f"  {name.removeprefix('K3D_').removesuffix('_URL').lower():<11} {value}")
    return 0 if ready and not missing else 1


def ready_env(s: ClusterSettings) -> dict[str, str]:
    """The target settings of a running, ready cluster; one line when there is none."""
    state = live_state(s)
    if state is None or state.status != "ready" or not state.target_env:
        raise HarnessError("no ready cluster: run `python -m harness.cluster up` first")
    return state.target_env


def env(s: ClusterSettings) -> int:
    for name, value in ready_env(s).items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


def run(s: ClusterSettings, argv: list[str]) -> int:
    """Run `argv` with the target pointed at the cluster; its exit code."""
    if not argv:
        raise HarnessError("run needs a command: python -m harness.cluster run pytest e2e")
    environment = {**os.environ, **ready_env(s)}
    if not shutil.which(argv[0], path=environment.get("PATH")):
        raise HarnessError(f"run: {argv[0]!r} is not a command found on PATH")
    try:
        return subprocess.run(argv, env=environment, check=False).returncode
    except OSError as exc:  # there, but not a program this machine can start
        raise HarnessError(f"run: {argv[0]!r} cannot be started: {exc.strerror or exc}") from None


COMMANDS = {"up": up, "down": down, "status": status, "env": env}


def main(argv: list[str] | None = None) -> int:
    parser = one_line_parser("python -m harness.cluster", __doc__)
    parser.add_argument("command", metavar="up|down|status|env|run")
    parser.add_argument("argv", nargs=argparse.REMAINDER, help="run: the command to run")
    args = parser.parse_args(argv)
    if args.command not in (*COMMANDS, "run", SUPERVISE):
        parser.error(f"unknown command {args.command!r}: use up, down, status, env or run")
    if args.argv and args.command != "run":
        parser.error(f"{args.command} takes no arguments")
    try:
        if args.command == SUPERVISE:
            return supervise()
        settings = ClusterSettings.from_env(dict(os.environ))
        if args.command == "run":
            return run(settings, args.argv)
        return COMMANDS[args.command](settings)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
