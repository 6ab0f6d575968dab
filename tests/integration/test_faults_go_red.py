"""Each fault scenario earns its place: it goes red against a variant that breaks the
guarantee it checks, in a subprocess, on a faults stack of its own.

A variant is either a broken service-1 from tests/mutants (one that acknowledges before
it has done its work, one without dead-letter topics) or an override of the faults
profile (redelivery switched off, the broker with or without persistence, the sidecars
bypassing Toxiproxy), on Redis or, for the broker scenarios, on Kafka and NATS JetStream.
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


@dataclass(frozen=True)
class Breakage:
    scenario: str
    name: str
    env: dict[str, str] = field(default_factory=dict)
    says: str = ""  # the assertion message the failure must show


BREAKAGES = [
    Breakage("service1-kill", "service-1 acknowledges before it records and forwards",
             {"HARNESS_SERVICE1_APP": "tests.mutants.ack_before_record:app"}, "'drop'"),
    Breakage("sidecar-term", "service-1 answers 200 to a publish daprd refused",
             {"HARNESS_SERVICE1_APP": "tests.mutants.publish_always_ok:app"}, "at-least-once"),
    Breakage("sidecar-kill", "service-1 answers 200 to a publish it could not hand to daprd",
             {"HARNESS_SERVICE1_APP": "tests.mutants.publish_always_ok:app"}, "at-least-once"),
    # On service2-down, whose failed deliveries Dapr always retries (a frozen sidecar makes a
    # redelivery only if a message is in flight at that moment: none in one CI run). The
    # retry answered SUCCESS unrecorded leaves its message never done: caught as a loss.
    Breakage("service2-down", "service-1 hides redeliveries from its ledger",
             {"HARNESS_SERVICE1_APP": "tests.mutants.hide_redeliveries:app"}, "at-least-once"),
    Breakage("redis-restart-aof", "Redis without persistence",
             {"FAULTS_BROKER_PERSISTENCE": "off"}, "at-least-once"),
    Breakage("redis-restart-volatile", "Redis with AOF after all",
             {"FAULTS_BROKER_PERSISTENCE": "on"}, "did the broker keep its data?"),
    Breakage("network-cut", "service-1 answers 200 to a publish daprd failed",
             {"HARNESS_SERVICE1_APP": "tests.mutants.publish_always_ok:app"}, "at-least-once"),
    Breakage("network-latency", "the sidecars bypass Toxiproxy", {"FAULTS_BROKER_PROXY": "off"},
             "went through Toxiproxy"),
    Breakage("service2-down", "subscriptions without dead-letter topics",
             {"HARNESS_SERVICE1_APP": "tests.mutants.no_dead_letter:app"}, "at-least-once"),
    Breakage("slow-handler", "processingTimeout longer than the slow handler",
             {"FAULTS_PROCESSING_TIMEOUT_MS": "60000"}, "delivered only once"),
    Breakage("replica-kill", "service-1 replicas acknowledge before they record",
             {"HARNESS_SERVICE1_APP": "tests.mutants.ack_before_record:app"}, "at-least-once"),
    Breakage("broker-restart", "Kafka's log dir wiped at each start",
             {"HARNESS_BROKER": "kafka", "FAULTS_BROKER_PERSISTENCE": "off"}, "at-least-once"),
    Breakage("network-cut", "on NATS, the sidecars bypass Toxiproxy",
             {"HARNESS_BROKER": "nats", "FAULTS_BROKER_PROXY": "off"}, "went through Toxiproxy"),
]  # fmt: skip


def run_faults(tmp_path: Path, offset: int, scenario: str, extra: dict[str, str]):
    env = {
        **os.environ,
        "HARNESS_PORT_OFFSET": str(offset),
        "HARNESS_RUN_DIR": str(tmp_path / "faults"),
        "FAULT_SCENARIOS": scenario,
        **extra,
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "e2e/faults", "-m", "faults", "-p", "no:cacheprovider",
         "-q", "-rfE", "--no-header"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("breakage", BREAKAGES, ids=[f"{b.scenario}: {b.name}" for b in BREAKAGES])
def test_the_scenario_goes_red(breakage: Breakage, tmp_path):
    offset = 3000 + 100 * BREAKAGES.index(breakage)  # 3000..4200
    result = run_faults(tmp_path, offset, breakage.scenario, breakage.env)
    output = result.stdout + result.stderr
    assert result.returncode == 1, f"{breakage.scenario} stayed green\n{output[-3000:]}"
    failed = f"FAILED e2e/faults/test_faults.py::test_scenario[{breakage.scenario}]"
    assert failed in output, f"not a failed check but an error\n{output[-3000:]}"
    assert breakage.says in output, output[-3000:]
