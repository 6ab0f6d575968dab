"""What Dapr 1.18.3 loses, duplicates and recovers under each fault (docs/fault-semantics.md).

Each scenario runs steady open-model load (50 msgs/s with run id and seq) on a fresh
faults-profile stack, injects its fault in the middle, heals it, drains and is judged by
the total-queue checker. The expectations below are what the pinned release did when run
here; where Dapr promises at-least-once delivery, lost is 0.
"""

from __future__ import annotations

import pytest

from harness.faults.runner import ScenarioResult
from harness.faults.scenarios import Scenario

pytestmark = pytest.mark.faults


def test_scenario(scenario: Scenario, fault_run: ScenarioResult):
    verdict = fault_run.verdict
    print(fault_run.row(), fault_run.counters, fault_run.ledger)
    assert not verdict.unexpected, str(verdict)
