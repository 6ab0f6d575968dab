"""The fault machinery's own logic: call classification, scenario selection, timelines,
the faults profile's resources and ports, the verdict table, and the open-model load
against a Starlette app of our own."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from harness.errors import HarnessError
from harness.faults.load import Call, OpenLoad, classify
from harness.faults.report import table_lines, write_results
from harness.faults.scenarios import BY_NAME, SCENARIOS, Window, require_local_target, selected
from harness.faults.stack import FaultPorts, FaultProfile, FaultStack, faults_settings
from harness.faults.timeline import done_times, per_second, recovery
from harness.verdict import Outcome


def test_a_call_is_ok_failed_or_indeterminate():
    request = httpx.Request("POST", "http://127.0.0.1/publish/t1")
    assert classify(200, None) == (Outcome.OK, "")
    assert classify(500, None) == (Outcome.FAILED, "HTTP 500")
    assert classify(None, httpx.ConnectError("refused", request=request))[0] is Outcome.FAILED
    assert classify(None, httpx.ReadTimeout("slow", request=request))[0] is Outcome.INDETERMINATE
    lost = httpx.RemoteProtocolError("closed mid-call", request=request)
    assert classify(None, lost)[0] is Outcome.INDETERMINATE


def test_scenarios_are_chosen_by_name_and_unknown_names_are_one_line():
    assert selected({}) == [s for s in SCENARIOS if s.name != "broker-restart"]  # Redis's
    assert [s.name for s in selected({"FAULT_SCENARIOS": "sidecar-kill, network-cut"})] == [
        "sidecar-kill",
        "network-cut",
    ]
    with pytest.raises(HarnessError, match="unknown scenario.*nope.*known: service1-kill"):
        selected({"FAULT_SCENARIOS": "sidecar-kill,nope"})


def test_a_cluster_target_is_refused_with_the_reason():
    require_local_target({})
    with pytest.raises(HarnessError, match="E2E_TARGET=k3d: faults can only be injected"):
        require_local_target({"E2E_TARGET": "k3d"})


def test_services_run_as_images_are_refused_with_the_reason():
    with pytest.raises(HarnessError) as caught:
        require_local_target({"HARNESS_SERVICE2_IMAGE": "dapr-suite/service-2:suite"})
    assert str(caught.value) == (
        "HARNESS_SERVICE2_IMAGE: the fault scenarios kill and pause the services' own "
        "processes, and a killed `docker run` client leaves its container serving; unset it"
    )


def test_every_scenario_of_the_issue_is_there_with_load_around_its_fault():
    # ten faults on Redis, the network one twice; the broker restart on the other brokers
    assert len(SCENARIOS) == 12 and len(BY_NAME) == 12
    for scenario in SCENARIOS:
        assert scenario.load_seconds == scenario.fault_seconds + 4
        assert scenario.load_seconds <= 14


def record(seq, topic="t1", answers=("SUCCESS",), first=10.0, last=None):
    return {"seq": seq, "topic": topic, "answers": list(answers), "count": len(answers),
            "first_received_at": first, "last_received_at": last or first}  # fmt: skip


def call(seq, at, outcome=Outcome.OK):
    return Call(seq, "t1", at, outcome, 0.01)


def test_a_message_is_done_on_success_or_in_the_dead_letter_topic():
    records = [
        record(1, first=1.0),
        record(2, answers=["RETRY", "SUCCESS"], first=2.0, last=2.4),
        record(3, answers=["RETRY"] * 4, first=3.0, last=3.6),
        record(3, topic="t1-dead-letter", first=3.7),
        record(4, answers=["RETRY"], first=4.0),
    ]
    assert done_times(records, "t1") == {1: 1.0, 2: 2.4, 3: 3.7}


def test_time_to_recover_runs_from_the_heal_to_the_last_late_message():
    calls = [call(1, 0.0), call(2, 1.0), call(3, 5.0)]
    done = {1: 0.01, 2: 7.5, 3: 5.02}  # seq 2 waited out the fault
    result = recovery(calls, done, healed_at=6.0)
    assert result.seconds_to_recover == pytest.approx(1.5)
    assert result.worst_latency == pytest.approx(6.5)
    assert recovery(calls, {1: 0.01, 3: 5.02}, healed_at=6.0).seconds_to_recover is None
    assert recovery(calls, {1: 0.01, 2: 1.01, 3: 5.02}, 6.0).seconds_to_recover == 0.0


def test_the_timeline_counts_publishes_and_deliveries_per_second():
    calls = [call(1, 100.2), call(2, 100.7, Outcome.FAILED), call(3, 101.1)]
    series = per_second(calls, {1: 100.3, 3: 102.6}, start=100.0, seconds=3)
    assert series["ok"] == [1, 1, 0] and series["failed"] == [1, 0, 0]
    assert series["done"] == [1, 0, 1]
    assert series["latency"][2] == pytest.approx(1.5)


def test_the_faults_profile_has_its_own_ports_and_run_dir(tmp_path):
    settings = faults_settings({}, run_dir=tmp_path)
    assert settings.redis_port == 6390 + 2000 and settings.run_dir == tmp_path
    assert settings.t2_delay_seconds == 0
    mine = faults_settings({"HARNESS_PORT_OFFSET": "13000"}, run_dir=tmp_path)
    ports = FaultPorts.of(mine)
    assert (ports.toxiproxy_api, ports.broker_proxy, ports.replica_app) == (21474, 19391, 19061)
    stack = FaultStack(mine, FaultProfile(replica=True))
    named = stack.named_ports()
    assert "prometheus" not in named and len(set(named.values())) == len(named)
    assert all(1024 <= port < 32768 for port in named.values())


def test_the_sidecars_reach_redis_through_the_proxy_with_fast_redelivery(tmp_path):
    from harness.resources import render_dapr_resources

    settings = faults_settings({}, run_dir=tmp_path)
    stack = FaultStack(settings, FaultProfile())
    resources, _ = render_dapr_resources(stack.settings)
    stack._tune_pubsub(resources)
    bus = yaml.safe_load((resources / "messagebus.yaml").read_text())
    meta = {e["name"]: e["value"] for e in bus["spec"]["metadata"]}
    assert meta["redisHost"] == "127.0.0.1:8391"
    assert (meta["processingTimeout"], meta["redeliverInterval"]) == ("5000", "1000")
    store = yaml.safe_load((resources / "statestore.yaml").read_text())
    assert {e["name"]: e["value"] for e in store["spec"]["metadata"]}["redisHost"].endswith(":8391")


def test_redis_runs_with_aof_always_unless_the_scenario_wants_it_volatile(tmp_path):
    settings = faults_settings({}, run_dir=tmp_path)
    durable = FaultStack(settings, FaultProfile())._redis("redis-server").process.argv
    assert durable[durable.index("--appendonly") + 1 :][:3] == ["yes", "--appendfsync", "always"]
    volatile = FaultStack(settings, FaultProfile(persistence=False))._redis("r")
    assert volatile.process.argv[volatile.process.argv.index("--appendonly") + 1] == "no"


def test_a_window_holds_its_start_not_its_end():
    window = Window(10.0, 13.0)
    assert window.holds(10.0) and window.holds(12.9) and not window.holds(13.0)
    slow = BY_NAME["slow-handler"].extra
    assert slow is not None
    assert slow(40, 11.0, window)["control"]["delay_seconds"] == 6.0
    assert slow(41, 11.0, window)["control"]["delay_seconds"] == 0
    assert slow(40, 14.0, window)["control"]["delay_seconds"] == 0


def test_the_table_and_the_results_folder(tmp_path):
    rows = [{"broker": "nats", "scenario": "x", "acknowledged": 3, "lost": 0, "recover_s": None}]
    lines = table_lines(rows)
    assert lines[0].startswith("broker  scenario") and "never" in lines[1]
    summary = {"scenario": "x", "title": "t", "fault_window_s": [1, 2],
               "verdict": {"counts": {"lost": 0}},
               "timeline": {k: [0, 1, 2] for k in ("ok", "failed", "indeterminate", "done",
                                                   "latency")}}  # fmt: skip
    write_results(tmp_path, [summary], rows)
    assert (tmp_path / "x.png").read_bytes()[:4] == b"\x89PNG"
    page = (tmp_path / "index.html").read_text()
    assert "<table>" in page and "data:image/png;base64," in page
    assert '"scenario": "x"' in (tmp_path / "summary.json").read_text()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def flaky_service1():
    """A service-1 stand-in: 200, then 500 for seq 3, and a hang for seq 4."""

    async def publish(request):
        body = await request.json()
        if body["seq"] == 3:
            return JSONResponse({"error": "no"}, status_code=500)
        if body["seq"] == 4:
            import asyncio

            await asyncio.sleep(2)
        return JSONResponse({"message": "published"})

    port = free_port()
    app = Starlette(routes=[Route("/publish/{topic}", publish, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="error"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


def test_the_open_load_keeps_its_schedule_and_classifies_each_call(flaky_service1):
    load = OpenLoad(flaky_service1, "run-x", rate=20, seconds=0.5, timeout=0.5)
    load.start()
    calls = load.join()
    assert [c.seq for c in calls] == list(range(1, 11))
    outcomes = {c.seq: c.outcome for c in calls}
    assert outcomes[3] is Outcome.FAILED and outcomes[4] is Outcome.INDETERMINATE
    assert sum(o is Outcome.OK for o in outcomes.values()) == 8
    intended = [c.intended_at - load.started_at for c in calls]
    assert intended == pytest.approx([i / 20 for i in range(10)])


def test_the_command_refuses_an_unknown_scenario_in_one_line(capsys, monkeypatch):
    from harness.faults.__main__ import main

    monkeypatch.delenv("E2E_TARGET", raising=False)
    assert main(["sidecar-kill", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: FAULT_SCENARIOS names unknown scenario")


def test_the_command_refuses_a_cluster_target_in_one_line(capsys, monkeypatch):
    from harness.faults.__main__ import main

    monkeypatch.setenv("E2E_TARGET", "k3d")
    assert main(["sidecar-kill"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: E2E_TARGET=k3d: faults can only be injected into the local stack "
        "(its processes are this machine's); unset E2E_TARGET"
    ]


@pytest.mark.parametrize(
    "env, says",
    [
        ({"FAULT_SCENARIOS": "no-such-fault"}, "faults: FAULT_SCENARIOS names unknown scenario"),
        ({"E2E_TARGET": "k3d"}, "faults: E2E_TARGET=k3d: faults can only be injected"),
        ({"FAULTS_BROKER_PERSISTENCE": "maybe"}, "must be on or off"),
        ({"FAULTS_BROKER_PROXY": "sometimes"}, "must be on or off"),
        ({"HARNESS_BROKER": "zeromq"}, "HARNESS_BROKER"),
        (
            {"HARNESS_BROKER": "nats", "FAULT_SCENARIOS": "redis-restart-aof"},
            "faults: FAULT_SCENARIOS: redis-restart-aof not for HARNESS_BROKER=nats; on nats: ",
        ),
        (
            {"HARNESS_SERVICE1_IMAGE": "dapr-suite/service-1:suite"},
            "faults: HARNESS_SERVICE1_IMAGE: the fault scenarios kill and pause",
        ),
        ({"FAULTS_RESULTS_DIR": "/dev/null/faults"}, "/dev/null is a file, not a folder"),
    ],
    ids=[
        "unknown scenario",
        "k3d target",
        "bad persistence",
        "bad proxy",
        "unknown broker",
        "not for this broker",
        "services as images",
        "results folder",
    ],
)
def test_the_pytest_session_ends_in_one_line_on_bad_input(env, says):
    import os
    import subprocess
    import sys

    from harness.settings import REPO_ROOT

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "e2e/faults", "-m", "faults", "-q", "-p",
         "no:cacheprovider"],
        cwd=REPO_ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 4, output
    assert says in output and "Traceback" not in output


def test_the_e2e_gate_leaves_the_fault_checks_out():
    import subprocess
    import sys

    from harness.settings import REPO_ROOT

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "e2e", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "e2e/faults" not in result.stdout and "deselected" in result.stdout, result.stdout


def test_overrides_change_the_profile_for_a_variant():
    from harness.errors import SettingsError
    from harness.faults.stack import profile_from_env

    base = FaultProfile()
    assert profile_from_env(base, {}) == base
    changed = profile_from_env(
        base,
        {"FAULTS_PROCESSING_TIMEOUT_MS": "0", "FAULTS_BROKER_PERSISTENCE": "off",
         "FAULTS_BROKER_PROXY": "off"},
    )  # fmt: skip
    assert (changed.processing_timeout_ms, changed.persistence, changed.through_proxy) == (
        0,
        False,
        False,
    )
    with pytest.raises(SettingsError, match="is not a whole number"):
        profile_from_env(base, {"FAULTS_PROCESSING_TIMEOUT_MS": "5s"})


@pytest.mark.parametrize("broker", ["nats", "mqtt", "kafka", "rabbitmq"])
def test_on_another_broker_only_its_pubsub_goes_through_the_proxy(tmp_path, broker):
    """The broker's client port is behind Toxiproxy; the state store keeps Redis direct."""
    from harness.resources import render_dapr_resources

    settings = faults_settings({"HARNESS_BROKER": broker}, run_dir=tmp_path)
    stack = FaultStack(settings, FaultProfile())
    resources, _ = render_dapr_resources(stack.settings)
    stack._tune_pubsub(resources)
    bus = yaml.safe_load((resources / "messagebus.yaml").read_text())
    assert bus["spec"]["type"] == stack.broker.component_type
    values = " ".join(e["value"] for e in bus["spec"]["metadata"])
    assert "127.0.0.1:8391" in values and f":{settings.broker_port}" not in values
    store = yaml.safe_load((resources / "statestore.yaml").read_text())
    redis_host = {e["name"]: e["value"] for e in store["spec"]["metadata"]}["redisHost"]
    assert redis_host == f"127.0.0.1:{settings.redis_port}"
    named = stack.named_ports()
    assert named["broker proxy"] == 8391 and len(set(named.values())) == len(named)


def test_kafka_advertises_the_proxy_so_clients_never_bypass_it(tmp_path):
    from harness.brokers.kafka import server_properties

    settings = faults_settings({"HARNESS_BROKER": "kafka"}, run_dir=tmp_path)
    place = FaultStack(settings, FaultProfile()).settings.broker_place()
    lines = server_properties(place).splitlines()
    assert "advertised.listeners=PLAINTEXT://127.0.0.1:8391" in lines
    assert (
        f"listeners=PLAINTEXT://127.0.0.1:{place.port(0)},CONTROLLER://127.0.0.1:{place.port(1)}"
        in lines
    )
    bypass = FaultStack(settings, FaultProfile(through_proxy=False)).settings.broker_place()
    assert (
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{place.port(0)}"
        in server_properties(bypass).splitlines()
    )


def test_scenarios_say_which_brokers_they_apply_to():
    from harness.faults.scenarios import applicable, selected

    names = {broker: [s.name for s in applicable(broker)] for broker in ("redis", "nats")}
    assert "broker-restart" not in names["redis"] and "redis-restart-aof" in names["redis"]
    assert names["nats"] == ["sidecar-term", "sidecar-kill", "broker-restart", "network-cut"]
    assert [s.name for s in selected({"HARNESS_BROKER": "kafka"})] == names["nats"]
