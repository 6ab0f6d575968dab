"""Settings of the local stack: pinned ports, the offset, and one line for a bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError, SettingsError
from harness.ports import EPHEMERAL_PORT_START
from harness.settings import StackSettings


def test_default_ports_are_pinned_below_the_ephemeral_range_and_distinct():
    ports = StackSettings.from_env({}).ports()
    assert len(ports) == 12
    assert all(1024 <= port < EPHEMERAL_PORT_START for port in ports.values())
    assert len(set(ports.values())) == len(ports)


def test_port_offset_moves_every_port():
    base = StackSettings.from_env({}).ports()
    moved = StackSettings.from_env({"HARNESS_PORT_OFFSET": "100"}).ports()
    assert {name: port - 100 for name, port in moved.items()} == base


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HARNESS_REDIS_PORT": "abc"}, "HARNESS_REDIS_PORT='abc' is not a whole number"),
        ({"HARNESS_REDIS_PORT": "40000"}, "port 40000 for redis must be in 1024..32767"),
        ({"HARNESS_REDIS_PORT": "6060"}, "port 6060 is given to both redis and service-1"),
        (
            {"T2_DELAY_SECONDS": "-1"},
            "T2_DELAY_SECONDS='-1' must be a number of seconds in 0..3600",
        ),
        ({"HARNESS_READY_TIMEOUT": "nan"}, "HARNESS_READY_TIMEOUT='nan' must be a number of"),
        ({"T2_DELAY_SECONDS": "inf"}, "T2_DELAY_SECONDS='inf' must be a number of seconds"),
        ({"T2_DELAY_SECONDS": "soon"}, "T2_DELAY_SECONDS='soon' is not a number"),
    ],
)
def test_bad_settings_give_one_clear_line(env, message):
    with pytest.raises(SettingsError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        StackSettings.from_env(env)


def test_dapr_version_setting_accepts_a_leading_v():
    assert StackSettings.from_env({"DAPR_VERSION": "v1.17.0"}).dapr_version == "1.17.0"


def test_a_bad_setting_is_a_harness_error():
    with pytest.raises(HarnessError):
        StackSettings.from_env({"HARNESS_PORT_OFFSET": "many"})


def test_a_moved_stack_gets_a_run_folder_of_its_own() -> None:
    moved = StackSettings.from_env({"HARNESS_PORT_OFFSET": "500"})
    assert moved.run_dir.name == "local-stack-500"
    assert StackSettings.from_env({}).run_dir.name == "local-stack"
    given = StackSettings.from_env({"HARNESS_PORT_OFFSET": "500", "HARNESS_RUN_DIR": "/tmp/x"})
    assert given.run_dir == Path("/tmp/x")
