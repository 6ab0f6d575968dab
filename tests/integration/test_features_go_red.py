"""The feature checks earn their place: each goes red against a variant broken the way it guards.

Like test_e2e_goes_red.py: a slice of the real e2e gate runs in a subprocess against a stack
of its own whose service-1 (or Dapr resources folder) is a variant from tests/mutants, and
exactly the named check must fail; a control run of all feature checks on the unbroken stack
passes.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.resources import SOURCE_DIR
from tests.integration.test_e2e_goes_red import MUTANTS, failed_tests, run_e2e

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@dataclass(frozen=True)
class FeatureBreakage:
    name: str
    check: str  # the e2e test that must fail, and the only one run
    service1_app: str = ""  # a tests.mutants module whose `app` replaces service-1
    resource: str = ""  # a file of tests/mutants that replaces its namesake resource


BREAKAGES = [
    FeatureBreakage(
        "the routing rules are gone from the subscription",
        "test_routing_rules_send_each_event_type_to_its_route",
        service1_app="routing_without_rules",
    ),
    FeatureBreakage(
        "every bulk entry is answered SUCCESS",
        "test_bulk_entries_are_answered_one_by_one",
        service1_app="bulk_all_success",
    ),
    FeatureBreakage(
        "the raw topic is published without rawPayload",
        "test_raw_payloads_arrive_as_published",
        service1_app="raw_publish_wrapped",
    ),
    FeatureBreakage(
        "the publisher drops ttlInSeconds",
        "test_expired_messages_never_arrive_where_daprd_keeps_the_ttl",
        service1_app="ttl_not_passed",
    ),
    FeatureBreakage(
        "the declarative subscription's route is missing",
        "test_declarative_subscription_delivers_to_its_route",
        service1_app="declared_route_missing",
    ),
    FeatureBreakage(
        "the gRPC stream is opened on another topic",
        "test_streaming_subscription_receives_over_grpc",
        service1_app="stream_on_wrong_topic",
    ),
    FeatureBreakage(
        "featurebus has no publishing or subscription scopes",
        "test_scopes_refuse_the_publish_and_withhold_the_subscription",
        resource="featurebus-unscoped.yaml",
    ),
    FeatureBreakage(
        "the non-JSON reply goes out with status 500",
        "test_empty_unknown_and_non_json_answers",
        service1_app="answers_not_json_as_500",
    ),
]


def broken_resources(tmp_path: Path, mutant: str) -> Path:
    """The repository's resources with one file swapped for its broken variant."""
    folder = tmp_path / "resources"
    shutil.copytree(SOURCE_DIR, folder)
    target = f"{mutant.split('-')[0]}.yaml"  # featurebus-unscoped.yaml -> featurebus.yaml
    shutil.copy(MUTANTS / mutant, folder / target)
    return folder


def breakage_env(breakage: FeatureBreakage, tmp_path: Path) -> dict[str, str]:
    env = {}
    if breakage.service1_app:
        env["HARNESS_SERVICE1_APP"] = f"tests.mutants.{breakage.service1_app}:app"
    if breakage.resource:
        env["HARNESS_DAPR_RESOURCES"] = str(broken_resources(tmp_path, breakage.resource))
    return env


@pytest.mark.parametrize("breakage", BREAKAGES, ids=[b.name for b in BREAKAGES])
def test_the_feature_check_goes_red(breakage: FeatureBreakage, tmp_path):
    offset = 2000 + 100 * BREAKAGES.index(breakage)
    result = run_e2e(tmp_path, offset, breakage.check, breakage_env(breakage, tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode == 1, f"e2e stayed green against: {breakage.name}\n{output[-3000:]}"
    assert failed_tests(output) == {breakage.check}, output[-3000:]


def test_the_feature_checks_pass_on_the_unbroken_stack(tmp_path):
    result = run_e2e(tmp_path, 2900, "features", {})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert failed_tests(output) == set()
    assert f"{len(BREAKAGES)} passed" in output, output[-1000:]
