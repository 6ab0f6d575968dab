"""`python -m loadtests.in_cluster`: distributed publish load from inside a Kubernetes cluster.

locust's master and `--workers` workers run as pods (k3d/load/locust.yaml, image
loadtests/Dockerfile) against service-1's Service, in the cluster the Kubernetes target
uses (KUBECONFIG, K3D_CONTEXT, K3D_NAMESPACE). The master measures as `python -m
loadtests.run` does; its summary comes back through its log and lands in the results folder
as summary.json and chart.png, with the same report and gate. Exit code: the master's (0 the
gate passed, 1 a threshold broke or the run did not conclude), 2 for bad options, 130 on
Ctrl-C. What it creates is deleted at the end, also on failure and Ctrl-C; what a killed run
left behind is deleted before the next one starts.

    python -m loadtests.in_cluster --workers 2 --duration 30s --arrival-rate 40
    python -m loadtests.in_cluster --image k3d-dapr-suite-registry:5111/load:dev --users 20

Where no registry serves the image, K3D_IMAGE_PULL_POLICY=Never (or --pull-policy) uses
the node's own copy (the cluster of harness.cluster imports it when it comes up).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.arguments import OPTION_ERROR_EXIT, bounded_int, command_failed, one_line_parser
from harness.env import env_str
from harness.errors import HarnessError
from harness.longrun import Progress, say
from harness.manifests import documents
from harness.results import require_makeable, results_folder
from harness.settings import REPO_ROOT
from harness.targets.k8s import KubeAccess
from harness.wait import WaitTimeout, poll
from loadtests.chart import draw_chart
from loadtests.options import (
    PASSED_ON,
    LoadOptionError,
    default,
    parse_duration,
)
from loadtests.run import (
    MAX_PROCESSES,
    add_load_flags,
    check_load_flags,
    load_seconds,
    raise_on_sigterm,
    report,
)
from loadtests.summary import SUMMARY_LOG_PREFIX, write_summary

MANIFEST = REPO_ROOT / "k3d" / "load" / "locust.yaml"
MASTER, WORKERS = "locust-master", "locust-worker"
MASTER_PODS, WORKER_PODS = "app=locust,role=master", "app=locust,role=worker"
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
START_SECONDS = 180.0  # pods scheduled and the master's container started
WORKERS_WAIT_SECONDS = 120  # the master's --expect-workers-max-wait
MARGIN_SECONDS = 120.0
GONE_SECONDS = 60.0

_say = say("in-cluster")


def build_parser() -> argparse.ArgumentParser:
    parser = one_line_parser("python -m loadtests.in_cluster", __doc__)
    add_load_flags(parser)
    add = parser.add_argument
    add("--workers", type=bounded_int(1, MAX_PROCESSES), default=2,
        help=f"worker pods, 1..{MAX_PROCESSES}")  # fmt: skip
    add("--image", help="the load image (default: the manifest's)")
    add("--pull-policy", choices=PULL_POLICIES,
        help="imagePullPolicy (default: K3D_IMAGE_PULL_POLICY, else the manifest's)")  # fmt: skip
    return parser


@contextmanager
def kube_api(cluster: KubeAccess) -> Iterator[Any]:
    """A client of the cluster the Kubernetes target uses, closed at the end; an apiserver
    that does not answer (refused, reset, timed out: urllib3's errors) is one line."""
    try:
        from kubernetes import config
        from kubernetes.config.config_exception import ConfigException
        from urllib3.exceptions import HTTPError as Unanswered
    except ImportError:
        raise HarnessError(
            "in-cluster load needs the kubernetes package: pip install 'dapr-pubsub-suite[k3d]'"
        ) from None
    try:
        api = config.new_client_from_config(cluster.kubeconfig, cluster.context)
    except (ConfigException, OSError, TypeError, ValueError) as err:
        raise HarnessError(f"kube context {cluster.context!r} not usable: {err}") from None
    with api:
        try:
            yield api
        except Unanswered as err:
            host = api.configuration.host
            raise HarnessError(
                f"the Kubernetes API at {host} did not answer: {_first_line(err)}"
            ) from None


# -- the objects ------------------------------------------------------------------------------


def deadline_seconds(args: argparse.Namespace) -> int:
    """The longest the master may run: load, drain, waiting for workers, and a margin."""
    drain: float = default("drain_seconds") if args.drain_seconds is None else args.drain_seconds
    return math.ceil(load_seconds(args) + drain + WORKERS_WAIT_SECONDS + MARGIN_SECONDS)


def master_args(manifest_args: list[str], args: argparse.Namespace) -> list[str]:
    """The manifest's master arguments, with this run's worker count and given options in
    place of the manifest's values for the same flags."""
    given = {o.flag: getattr(args, o.name) for o in PASSED_ON if getattr(args, o.name) is not None}
    ours = {"--expect-workers": args.workers,
            "--expect-workers-max-wait": WORKERS_WAIT_SECONDS, **given}  # fmt: skip
    if args.duration is not None:
        ours["--run-time"] = f"{math.ceil(parse_duration(args.duration))}s"
    kept = [arg for arg in manifest_args if arg.split("=", 1)[0] not in ours]
    return kept + [f"{flag}={value}" for flag, value in ours.items()]


def render(objects: list[dict[str, Any]], args: argparse.Namespace, namespace: str,
           pull_policy: str | None) -> list[dict[str, Any]]:  # fmt: skip
    """The manifest's objects for this run: namespace, image, pull policy, workers, the
    master's arguments and both Jobs' deadline."""
    out = copy.deepcopy(objects)
    for doc in out:
        doc["metadata"]["namespace"] = namespace
        if doc["kind"] != "Job":
            continue
        doc["spec"]["activeDeadlineSeconds"] = deadline_seconds(args)
        container = doc["spec"]["template"]["spec"]["containers"][0]
        container["image"] = args.image or container["image"]
        container["imagePullPolicy"] = pull_policy or container["imagePullPolicy"]
        if doc["metadata"]["name"] == MASTER:
            container["args"] = master_args(container["args"], args)
        else:
            doc["spec"]["parallelism"] = doc["spec"]["completions"] = args.workers
    return out


# -- the run ----------------------------------------------------------------------------------


@dataclass
class MasterOutcome:
    exit_code: int | None
    summary: dict[str, Any] | None
    log: list[str]


class InClusterRun:
    """One run: create the objects, follow the master, delete everything it made."""

    def __init__(self, api: Any, namespace: str, progress: Progress = _say) -> None:
        from kubernetes import client
        from kubernetes.dynamic import DynamicClient

        self.core = client.CoreV1Api(api)
        self.batch = client.BatchV1Api(api)
        self.dynamic = DynamicClient(api)
        self.namespace = namespace
        self.progress = progress

    def __call__(self, objects: list[dict[str, Any]], limit: float) -> MasterOutcome:
        from kubernetes.client.exceptions import ApiException

        try:
            self.delete(quiet=True)  # what a killed run left behind
            try:
                self.create(objects)
                master = self.wait_started()
                return self.follow(master, limit)
            finally:
                self.delete(quiet=False)
        except ApiException as err:
            where = f"in namespace {self.namespace}"
            raise HarnessError(f"the Kubernetes API answered HTTP {err.status} ({err.reason}) "
                               f"{where}") from None  # fmt: skip

    def create(self, objects: list[dict[str, Any]]) -> None:
        from harness.kube_apply import apply_all

        refused = apply_all(self.dynamic, objects, dry_run=False)
        if refused:
            raise HarnessError(f"the cluster refused the load pods: {refused[0].line()}")
        self.progress(f"created the master and its workers in namespace {self.namespace}")

    def pods(self, selector: str) -> list[Any]:
        found: list[Any] = self.core.list_namespaced_pod(
            self.namespace, label_selector=selector
        ).items
        return found

    def wait_started(self) -> str:
        """The master pod's name once its container has started; else why not, naming the
        pod's own reason (an image that cannot be pulled, a pod not scheduled)."""
        from harness.cluster.pods import pod_problem

        def read() -> tuple[str, str]:
            pods = self.pods(MASTER_PODS)
            if not pods:
                return "", "no master pod yet"
            pod = pods[0]
            if pod.status.phase in ("Running", "Succeeded", "Failed"):
                return pod.metadata.name, ""
            return pod.metadata.name, pod_problem(pod)

        try:
            name, _ = poll(read, lambda found: not found[1], timeout=START_SECONDS, interval=1.0)
        except WaitTimeout as exc:
            _, problem = exc.last if isinstance(exc.last, tuple) else ("", str(exc.last))
            raise HarnessError(f"the locust master did not start within "
                               f"{START_SECONDS:g} s: {problem}") from None  # fmt: skip
        self.progress(f"master {name} started; {len(self.pods(WORKER_PODS))} worker pods")
        return name

    def follow(self, master: str, limit: float) -> MasterOutcome:
        """Print the master's log as it comes (without the summary line), until it ends; a
        master still running at `limit` is named (its pods are deleted on the way out)."""
        from urllib3.exceptions import ReadTimeoutError

        lines: list[str] = []
        summary = None
        stream: Any = self.core.read_namespaced_pod_log(
            master, self.namespace, follow=True, _preload_content=False, _request_timeout=limit
        )
        try:
            for line in _lines(stream):
                _, prefix, rest = line.partition(SUMMARY_LOG_PREFIX)
                if prefix:
                    summary = json.loads(rest)
                    self.progress("the master sent its summary")
                    continue
                lines.append(line)
                print(f"master | {line}", flush=True)
        except ReadTimeoutError:
            raise HarnessError(
                f"the locust master {master} still ran at the run's limit of {limit:g} s"
            ) from None
        finally:
            stream.release_conn()
        return MasterOutcome(self.exit_code(master), summary, lines)

    def exit_code(self, master: str) -> int | None:
        def read() -> int | None:
            pod: Any = self.core.read_namespaced_pod(master, self.namespace)
            for status in pod.status.container_statuses or []:
                if status.state and status.state.terminated:
                    code: int = status.state.terminated.exit_code
                    return code
            return None

        found: int | None = poll(read, lambda code: code is not None, timeout=30, interval=1.0,
                                 on_timeout="return")  # fmt: skip
        return found

    def delete(self, quiet: bool) -> None:
        """Both Jobs (with their pods) and the Service; waits until the pods are gone."""
        from kubernetes.client.exceptions import ApiException

        deletes = [(self.batch.delete_namespaced_job, MASTER), (self.batch.delete_namespaced_job,
                   WORKERS), (self.core.delete_namespaced_service, MASTER)]  # fmt: skip
        found = 0
        for delete, name in deletes:
            try:
                delete(name, self.namespace, propagation_policy="Background")
                found += 1
            except ApiException as err:
                if err.status != 404:
                    raise
        if not found:
            return
        left = poll(lambda: len(self.pods("app=locust")), lambda n: n == 0, timeout=GONE_SECONDS,
                    interval=1.0, on_timeout="return")  # fmt: skip
        if left:
            self.progress(f"{left} locust pods still terminating after {GONE_SECONDS:g} s")
        elif not quiet:
            self.progress("deleted the load pods, their Jobs and the master's Service")
        else:
            self.progress("deleted the load pods an earlier run left behind")


def _first_line(err: BaseException) -> str:
    """urllib3 nests the reason in a long repr; its first line is enough to act on."""
    reason = getattr(err, "reason", None) or err
    return str(reason).splitlines()[0] if str(reason) else type(err).__name__


def _lines(stream: Any) -> Iterator[str]:
    """Whole lines of a streamed pod log."""
    pending = b""
    for chunk in stream.stream(amt=65536, decode_content=False):
        pending += chunk
        *whole, pending = pending.split(b"\n")
        for line in whole:
            yield line.decode("utf-8", "replace")
    if pending:
        yield pending.decode("utf-8", "replace")


def keep_results(outcome: MasterOutcome, results_dir: Path) -> int:
    """summary.json, chart.png and the master's log in the results folder; the exit code."""
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "master.log").write_text("\n".join(outcome.log) + "\n")
    if outcome.summary is not None:
        write_summary(outcome.summary, results_dir)
        draw_chart(outcome.summary, results_dir / "chart.png")
    report(results_dir)
    if outcome.exit_code is None:
        print("error: the master's container did not end", file=sys.stderr)
        return 1
    if outcome.summary is None and outcome.exit_code == 0:
        return 1  # no summary is no verdict
    return outcome.exit_code


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_load_flags(args)
        cluster = KubeAccess.from_env(os.environ)
        pull_policy = args.pull_policy or env_str(os.environ, "K3D_IMAGE_PULL_POLICY") or None
        if pull_policy not in (None, *PULL_POLICIES):
            raise LoadOptionError(f"K3D_IMAGE_PULL_POLICY={pull_policy!r}: one of "
                                  f"{', '.join(PULL_POLICIES)}")  # fmt: skip
        objects = render(documents(MANIFEST), args, cluster.namespace, pull_policy)
        results = require_makeable(results_folder(args.results_dir, "load-in-cluster"))
    except HarnessError as err:
        print(f"error: {err}", file=sys.stderr)
        return OPTION_ERROR_EXIT
    raise_on_sigterm()
    started = time.monotonic()
    try:
        with kube_api(cluster) as api:
            outcome = InClusterRun(api, cluster.namespace)(objects, deadline_seconds(args))
    except (HarnessError, KeyboardInterrupt) as err:
        return command_failed(err)
    _say(f"the run took {time.monotonic() - started:.0f} s with {args.workers} workers")
    return keep_results(outcome, results)


if __name__ == "__main__":
    sys.exit(main())
