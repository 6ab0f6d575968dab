"""Jaeger in the local stack: switched on by HARNESS_JAEGER, loopback ports, OTLP export."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import SettingsError
from harness.jaeger import config, services_of
from harness.resources import render_configuration
from harness.settings import StackSettings


def test_jaeger_is_off_unless_switched_on() -> None:
    assert not StackSettings.from_env({}).jaeger
    assert "jaeger" not in StackSettings.from_env({}).ports()
    on = StackSettings.from_env({"HARNESS_JAEGER": "1", "HARNESS_PORT_OFFSET": "100"})
    assert on.ports()["jaeger"] == 9786 and on.ports()["jaeger otlp"] == 9418


def test_a_bad_switch_is_one_line() -> None:
    with pytest.raises(SettingsError, match=r"HARNESS_JAEGER='maybe' is not a switch: use 1 or 0"):
        StackSettings.from_env({"HARNESS_JAEGER": "maybe"})


def test_every_listener_is_on_loopback() -> None:
    rendered = config("127.0.0.1", 9686, 9685, 9318)
    endpoints = [
        rendered["extensions"]["jaeger_query"]["http"]["endpoint"],
        rendered["extensions"]["jaeger_query"]["grpc"]["endpoint"],
        rendered["receivers"]["otlp"]["protocols"]["http"]["endpoint"],
    ]
    assert endpoints == ["127.0.0.1:9686", "127.0.0.1:9685", "127.0.0.1:9318"]
    assert rendered["service"]["telemetry"]["metrics"] == {"level": "none"}  # no :8888
    assert rendered["extensions"]["jaeger_query"]["enable_tracing"] is False  # no :4317


def test_the_configuration_exports_to_jaeger_only_when_it_runs(tmp_path: Path) -> None:
    def configuration() -> dict:
        return {
            "spec": {"tracing": {"samplingRate": "1"}, "nameResolution": {"component": "sqlite"}}
        }

    off = render_configuration(configuration(), tmp_path / "n.db")
    assert "otel" not in off["spec"]["tracing"]
    on = render_configuration(configuration(), tmp_path / "n.db", "127.0.0.1:9318")
    assert on["spec"]["tracing"] == {
        "samplingRate": "1",
        "otel": {"endpointAddress": "127.0.0.1:9318", "isSecure": False, "protocol": "http"},
    }


def test_spans_are_grouped_by_service() -> None:
    body = {"data": [{
        "processes": {"p1": {"serviceName": "service-1"}, "p2": {"serviceName": "service-2"}},
        "spans": [{"processID": "p1", "operationName": "publish"},
                  {"processID": "p2", "operationName": "CallLocal"},
                  {"processID": "p1", "operationName": "deliver"}],
    }]}  # fmt: skip
    assert services_of(body) == {"service-1": ["publish", "deliver"], "service-2": ["CallLocal"]}
    assert services_of({"data": []}) == {}
