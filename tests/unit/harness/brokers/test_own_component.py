"""A user's own pubsub component (HARNESS_PUBSUB_COMPONENT): checked, rendered, counted."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.brokers.own import NotCountable, OwnComponent
from harness.errors import HarnessError, SettingsError
from harness.processes import fatal_message
from harness.resources import render_dapr_resources
from harness.settings import StackSettings

COMPONENT = {
    "apiVersion": "dapr.io/v1alpha1",
    "kind": "Component",
    "metadata": {"name": "whatever"},
    "spec": {
        "type": "pubsub.kafka",
        "version": "v2",
        "metadata": [{"name": "brokers", "value": "127.0.0.1:9092"}],
    },
}


def written(tmp_path: Path, resource: object) -> Path:
    path = tmp_path / "component.yaml"
    path.write_text(yaml.safe_dump(resource))
    return path


def own_settings(tmp_path: Path, component: Path, **env: str) -> StackSettings:
    return StackSettings.from_env(
        {"HARNESS_PUBSUB_COMPONENT": str(component), "HARNESS_RUN_DIR": str(tmp_path), **env}
    )


def test_the_users_type_version_and_metadata_replace_the_suites(tmp_path: Path) -> None:
    settings = own_settings(tmp_path, written(tmp_path, COMPONENT))
    folder, _ = render_dapr_resources(settings)
    bus = yaml.safe_load((folder / "messagebus.yaml").read_text())
    assert bus["metadata"]["name"] == "messagebus"  # the services publish to this name
    assert (bus["spec"]["type"], bus["spec"]["version"]) == ("pubsub.kafka", "v2")
    names = [entry["name"] for entry in bus["spec"]["metadata"]]
    assert names[0] == "brokers" and "redisHost" not in names
    assert settings.broker_server().component_type == "pubsub.kafka"
    assert settings.broker_server().command == ""  # the user's broker is already running


def test_scopes_of_the_suites_components_are_kept(tmp_path: Path) -> None:
    settings = own_settings(tmp_path, written(tmp_path, COMPONENT))
    folder, _ = render_dapr_resources(settings)
    feature = yaml.safe_load((folder / "featurebus.yaml").read_text())
    assert feature["spec"]["type"] == "pubsub.kafka"
    assert "publishingScopes" in [entry["name"] for entry in feature["spec"]["metadata"]]


def test_a_named_broker_beside_an_own_component_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="both choose the broker"):
        own_settings(tmp_path, written(tmp_path, COMPONENT), HARNESS_BROKER="nats")


@pytest.mark.parametrize(
    ("resource", "said"),
    [
        ("kind: [", "cannot be read as YAML"),
        ({"kind": "Configuration", "spec": {}}, "not a Dapr Component"),
        ({"kind": "Component", "spec": {"type": "state.redis"}}, "not a pubsub component"),
        (
            {"kind": "Component", "spec": {"type": "pubsub.redis", "metadata": {"redisHost": "x"}}},
            "spec.metadata must be a list of name/value entries",
        ),
        (
            {"kind": "Component", "spec": {"type": "pubsub.redis", "metadata": [
                {"name": "redisPassword", "secretKeyRef": {"name": "s", "key": "k"}}]}},
            "no secret store",
        ),
    ],
    ids=["not yaml", "not a component", "not pubsub", "metadata not a list", "secret reference"],
)  # fmt: skip
def test_a_component_the_stack_cannot_use_is_named_in_one_line(
    tmp_path: Path, resource: object, said: str
) -> None:
    path = tmp_path / "component.yaml"
    path.write_text(resource if isinstance(resource, str) else yaml.safe_dump(resource))
    with pytest.raises(HarnessError, match=said) as caught:
        OwnComponent.load(path)
    assert "\n" not in str(caught.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="cannot be read"):
        OwnComponent.load(tmp_path / "absent.yaml")


def test_only_a_redis_component_can_be_counted(tmp_path: Path) -> None:
    own = OwnComponent.load(written(tmp_path, COMPONENT))
    with pytest.raises(NotCountable, match="pubsub.kafka"):
        own.messages(StackSettings().broker_place(), "t1")


def test_daprds_fatal_reason_is_found_in_its_log() -> None:
    log = (
        'time="t" level=info msg="Dapr is shutting down" app_id=service-2\n'
        'time="t" level=fatal msg="Fatal error from runtime: process component messagebus '
        'error: dial tcp 127.0.0.1:1: connect: connection refused \\"x\\"" app_id=service-2\n'
    )
    reason = fatal_message(log)
    assert reason is not None and reason.endswith('connection refused "x"')
    assert fatal_message('time="t" level=info msg="ready"') is None
