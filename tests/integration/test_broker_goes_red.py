"""The broker checks earn their place: a `messagebus` that resolves to another component
type fails both, although every message is still delivered (tests/mutants)."""

from __future__ import annotations

import pytest

from tests.integration.test_e2e_goes_red import failed_tests, run_e2e
from tests.integration.test_features_go_red import broken_resources

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BROKER_CHECKS = {
    "test_messagebus_is_the_component_type_of_the_selected_broker",
    "test_the_broker_counts_every_published_message",
}


def test_an_in_memory_messagebus_fails_the_broker_checks(tmp_path):
    resources = broken_resources(tmp_path, "messagebus-in-memory.yaml")
    result = run_e2e(tmp_path, 4600, "test_broker", {"HARNESS_DAPR_RESOURCES": str(resources)})
    output = result.stdout + result.stderr
    assert result.returncode == 1, f"the broker checks stayed green:\n{output[-3000:]}"
    assert failed_tests(output) == BROKER_CHECKS, output[-3000:]
