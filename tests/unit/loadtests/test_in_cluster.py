"""The in-cluster load runner's own logic: the objects it renders from k3d/load/locust.yaml,
its command line, how it reads the master's log and what it keeps. The run itself, on pods,
is in `tox -e cluster-e2e`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.cluster import workload
from harness.manifests import documents
from harness.settings import REPO_ROOT
from loadtests.in_cluster import (
    MANIFEST,
    MASTER,
    WORKERS,
    MasterOutcome,
    _lines,
    build_parser,
    deadline_seconds,
    keep_results,
    render,
)
from loadtests.options import Thresholds
from loadtests.summary import add_gate, summary_from_log, summary_log_line
from tests.unit.loadtests.test_summary import summary_of, tracked_run


def rendered(*flags: str, pull_policy: str | None = None) -> dict[str, dict[str, Any]]:
    args = build_parser().parse_args(list(flags))
    objects = render(documents(MANIFEST), args, "load-ns", pull_policy)
    return {f"{doc['kind']}/{doc['metadata']['name']}": doc for doc in objects}


def container(doc: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = doc["spec"]["template"]["spec"]["containers"][0]
    return found


def test_the_runs_options_replace_the_manifests_and_the_rest_stays() -> None:
    docs = rendered(
        "--workers", "3", "--duration", "45s", "--arrival-rate", "70", "--max-lost", "2"
    )
    args = container(docs[f"Job/{MASTER}"])["args"]
    assert "--expect-workers=3" in args and "--expect-workers=2" not in args
    assert "--run-time=45s" in args and "--run-time=60s" not in args
    assert "--arrival-rate=70.0" in args and "--arrival-rate=20" not in args
    assert "--max-lost=2" in args
    assert "--host=http://service-1.dapr-suite.svc.cluster.local:6060" in args
    assert args[:2] == ["--master", "--headless"]
    workers = docs[f"Job/{WORKERS}"]["spec"]
    assert workers["parallelism"] == workers["completions"] == 3
    assert {doc["metadata"]["namespace"] for doc in docs.values()} == {"load-ns"}


def test_both_jobs_end_after_the_load_the_drain_and_the_wait_for_workers() -> None:
    args = build_parser().parse_args(["--duration", "30s", "--drain-seconds", "20"])
    assert deadline_seconds(args) == 30 + 20 + 120 + 120
    docs = rendered("--duration", "30s", "--drain-seconds", "20")
    assert {docs[f"Job/{name}"]["spec"]["activeDeadlineSeconds"] for name in (MASTER, WORKERS)} == {
        290
    }


def test_image_and_pull_policy_are_the_manifests_unless_given() -> None:
    plain = rendered()
    assert container(plain[f"Job/{MASTER}"])["image"] == workload.LOAD_MANIFEST_IMAGE
    assert container(plain[f"Job/{WORKERS}"])["imagePullPolicy"] == "Always"
    given = rendered("--image", "registry.local/load:7", pull_policy="Never")
    for name in (MASTER, WORKERS):
        assert container(given[f"Job/{name}"])["image"] == "registry.local/load:7"
        assert container(given[f"Job/{name}"])["imagePullPolicy"] == "Never"


def test_the_cluster_built_here_has_a_build_for_the_load_image() -> None:
    docs = workload.manifest_documents(workload.LOAD_MANIFESTS)
    assert set(workload.images(docs)) <= set(workload.IMAGE_BUILDERS)


def test_the_locustfile_accepts_the_masters_arguments_inside_a_pod() -> None:
    """The master's rendered arguments, validated by the locustfile as the pod would run it
    (a Service name is a URL the suite accepts only in a pod)."""
    args = container(rendered("--duration", "20s")[f"Job/{MASTER}"])["args"]
    env = {**os.environ, "KUBERNETES_SERVICE_HOST": "10.43.0.1", "SUITE_API_TOKEN": "x" * 32}
    argv = [sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py", "--config",
            "loadtests/locust.conf", *args, "--validate-only"]  # fmt: skip
    done = subprocess.run(argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    outside = {k: v for k, v in env.items() if k != "KUBERNETES_SERVICE_HOST"}
    refused = subprocess.run(argv, cwd=REPO_ROOT, env=outside, capture_output=True, text=True,
                             timeout=60, check=False)  # fmt: skip
    assert refused.returncode == 2 and "is refused" in refused.stderr


@pytest.mark.parametrize(
    ("flags", "env", "says"),
    [
        (["--workers", "0"], {}, "--workers"),
        (["--arrival-rate", "-5"], {}, "--arrival-rate"),
        (["--duration", "soon"], {}, "--duration 'soon' is not a duration"),
        ([], {"K3D_IMAGE_PULL_POLICY": "Sometimes"}, "K3D_IMAGE_PULL_POLICY='Sometimes'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_before_the_cluster_is_asked(
    flags: list[str], env: dict[str, str], says: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loadtests.in_cluster", *flags],
        cwd=REPO_ROOT,
        env={**os.environ, "KUBECONFIG": "/nonexistent/kubeconfig", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and says in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unreachable_cluster_is_one_line_and_exit_1(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loadtests.in_cluster", "--results-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        env={**os.environ, "KUBECONFIG": str(tmp_path / "absent")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().startswith("error: kube context")
    assert "Traceback" not in done.stderr


def summary(lost: int = 0) -> dict[str, Any]:
    """A summary with its gate, as a master writes it (20 publishes, `lost` never arrived)."""
    found: dict[str, Any] = summary_of(tracked_run(delivered=20 - lost))
    add_gate(found, Thresholds())
    return found


def test_the_summary_travels_through_the_log_as_one_line() -> None:
    line = summary_log_line(summary(lost=3))
    assert "\n" not in line
    log = f"[2026-11-30] master ready\n{line}\n[2026-11-30] Shutting down (exit code 1)\n"
    assert summary_from_log(log) == summary(lost=3)
    assert summary_from_log("no summary here\n") is None


class Chunks:
    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks

    def stream(self, amt: int, decode_content: bool) -> Any:
        return iter(self.chunks)


def test_a_streamed_log_is_cut_into_whole_lines() -> None:
    stream = Chunks(b"first li", b"ne\nsecond\nthi", b"rd \xc3\xa9\n", b"tail")
    assert list(_lines(stream)) == ["first line", "second", "third \u00e9", "tail"]


def test_what_is_kept_and_the_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    passed = keep_results(MasterOutcome(0, summary(), ["a", "b"]), tmp_path / "ok")
    assert passed == 0
    assert json.loads((tmp_path / "ok" / "summary.json").read_text()) == summary()
    assert (tmp_path / "ok" / "chart.png").stat().st_size > 0
    assert (tmp_path / "ok" / "master.log").read_text() == "a\nb\n"
    assert "published" in capsys.readouterr().out
    assert keep_results(MasterOutcome(1, summary(lost=1), []), tmp_path / "gate") == 1
    assert keep_results(MasterOutcome(0, None, ["crash"]), tmp_path / "none") == 1
    assert keep_results(MasterOutcome(None, None, []), tmp_path / "hung") == 1


def test_an_apiserver_that_does_not_answer_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "gone",
        "clusters": [{"name": "gone", "cluster": {"server": f"https://127.0.0.1:{port}",
                                                  "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}],
    }))  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "loadtests.in_cluster", "--results-dir", str(tmp_path / "out")],
        cwd=REPO_ROOT,
        env={**os.environ, "KUBECONFIG": str(kubeconfig), "K3D_CONTEXT": "gone"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(
        f"error: the Kubernetes API at https://127.0.0.1:{port} did not answer"
    )
