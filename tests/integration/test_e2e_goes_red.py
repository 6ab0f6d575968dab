"""The e2e checks earn their place: each goes red against a service broken the way it guards.

Every case runs a slice of the real e2e suite in a subprocess, against a stack of its own
whose service-1 (or sidecar Configuration) is one of the variants in tests/mutants, and
expects exactly the named checks to fail. A control run of the same slice against the
unbroken stack passes, so the failures come from the defects and not from the slice.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.settings import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MUTANTS = REPO_ROOT / "tests" / "mutants"


@dataclass(frozen=True)
class Breakage:
    name: str
    selection: str  # pytest -k expression over the e2e suite
    must_fail: tuple[str, ...]  # test names that must be reported as failed or errored
    env: dict[str, str] = field(default_factory=dict)
    says: str = ""  # text the output must contain


BREAKAGES = [
    Breakage(
        "service-1 skips the invocation of service-2",
        "invokes_service2 or metric_deltas or envelope",
        (
            "test_each_t1_event_invokes_service2_once_and_stores_its_answer",
            "test_metric_deltas_for_t1_messages",
            "test_cloudevent_envelope_and_trace_as_the_subscriber_saw_them",
        ),
        {"HARNESS_SERVICE1_APP": "tests.mutants.skip_invocation:app"},
    ),
    Breakage(
        "service-1 answers every delivery with 404",
        "t1_messages_arrive_once or t2_is_handled",
        (
            "test_t1_messages_arrive_once_on_their_route",
            "test_t2_is_handled_after_the_delay_and_delivered_once",
        ),
        {"HARNESS_SERVICE1_APP": "tests.mutants.answer_404:app"},
    ),
    Breakage(
        "t2 is missing from service-1's subscriptions",
        "t2_is_handled",
        ("test_t2_is_handled_after_the_delay_and_delivered_once",),
        {
            "HARNESS_SERVICE1_APP": "tests.mutants.drop_t2_subscription:app",
            "HARNESS_READY_TIMEOUT": "5",
        },  # fmt: skip
        says="missing ['t2']",
    ),
    Breakage(
        "metrics disabled in the sidecar Configuration",
        "metric_deltas or prometheus_agrees",
        ("test_metric_deltas_for_t1_messages", "test_prometheus_agrees_with_the_sidecars"),
        {"HARNESS_DAPR_CONFIG": str(MUTANTS / "config-metrics-off.yaml")},
    ),
    Breakage(
        "tracing off in the sidecar Configuration (sampling 0)",
        "one_trace_in_jaeger",
        ("test_one_trace_in_jaeger_holds_both_sidecars_spans",),
        {"HARNESS_DAPR_CONFIG": str(MUTANTS / "config-tracing-off.yaml")},
        says="lacks",
    ),
    Breakage(
        "on Kafka, service-1 records t1 deliveries out of the order daprd handed them over",
        "publish_order",
        ("test_one_publishers_messages_arrive_in_publish_order_where_the_component_keeps_it",),
        {
            "HARNESS_BROKER": "kafka",
            "HARNESS_SERVICE1_APP": "tests.mutants.record_out_of_order:app",
        },  # fmt: skip
        says="keeps publish order",
    ),
]


def run_e2e(tmp_path: Path, offset: int, selection: str, extra: dict[str, str]):
    env = {
        **os.environ,
        "HARNESS_PORT_OFFSET": str(offset),
        "HARNESS_RUN_DIR": str(tmp_path / "stack"),
        "T2_DELAY_SECONDS": "1",
        "E2E_REPORT_DIR": str(tmp_path / "e2e-report"),  # not into the user's results/
        **extra,
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "e2e", "-p", "no:cacheprovider", "-q", "-rfE",
         "--no-header", "-k", selection],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip


def failed_tests(output: str) -> set[str]:
    names = set()
    for line in output.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            names.add(line.split("::")[-1].split(" ")[0].split("[")[0])
    return names


@pytest.mark.parametrize("breakage", BREAKAGES, ids=[b.name for b in BREAKAGES])
def test_the_guarding_checks_go_red(breakage: Breakage, tmp_path):
    offset = 1000 + 100 * BREAKAGES.index(breakage)
    result = run_e2e(tmp_path, offset, breakage.selection, breakage.env)
    output = result.stdout + result.stderr
    assert result.returncode == 1, f"e2e stayed green against: {breakage.name}\n{output[-3000:]}"
    assert set(breakage.must_fail) <= failed_tests(output), output[-3000:]
    assert breakage.says in output


def test_the_same_checks_pass_on_the_unbroken_stack(tmp_path):
    selection = " or ".join(f"({b.selection})" for b in BREAKAGES)
    result = run_e2e(tmp_path, 1000 + 100 * len(BREAKAGES), selection, {})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert failed_tests(output) == set()
