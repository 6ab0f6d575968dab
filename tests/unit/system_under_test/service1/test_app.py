"""service-1 against a fake daprd: every route, the ledger, the test control, tokens, bad input."""

from __future__ import annotations

import json
import re
import sqlite3
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning

from system_under_test.common.settings import SettingsError, settings_or_exit
from system_under_test.service1 import app as service1_module
from system_under_test.service1.app import create_app
from system_under_test.service1.settings import Service1Settings
from tests.unit.fake_daprd import FakeDaprd

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 behind its test client; with plain httpx it works the same.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
TRACEPARENT_PATTERN = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$")
CLOUDEVENT = {"content-type": "application/cloudevents+json"}
JSON_CT = {"content-type": "application/json"}
TEXT = {"content-type": "text/plain"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
WANTS_JSON = "content type must be application/json"
WANTS_CLOUDEVENT = "content type must be application/cloudevents+json or application/json"
BAD_ANSWER = "control.answer must be one of RETRY, DROP, 404, 500, got"
BAD_TIMES = "control.times must be a whole number 1..1000, got"


def fake_service2(method: str, request: httpx.Request) -> httpx.Response:
    if method == "ping":
        return httpx.Response(200, json={"message": "pong", "app_id": "service-2"})
    message = json.loads(request.content).get("message", {})
    answer = {"message": "received", "run": message.get("run"), "seq": message.get("seq")}
    return httpx.Response(200, json=answer)


def make_settings(tmp_path: Path, **overrides: Any) -> Service1Settings:
    values: dict[str, Any] = {"ledger_path": tmp_path / "ledger.sqlite3", "t2_delay_seconds": 0.0}
    values.update(overrides)
    return Service1Settings(**values)


@pytest.fixture
def daprd() -> FakeDaprd:
    fake = FakeDaprd()
    fake.apps["service-2"] = fake_service2
    return fake


@pytest.fixture
def client(tmp_path: Path, daprd: FakeDaprd) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path), daprd.transport)) as test_client:
        yield test_client


@pytest.fixture
def run() -> str:
    return f"run-{uuid.uuid4().hex[:8]}"


def cloud_event(
    message: dict[str, Any], topic: str = "t1", event_id: str | None = None
) -> dict[str, Any]:
    return {
        "id": event_id or str(uuid.uuid4()),
        "source": "service-1",
        "type": "com.dapr.event.sent",
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "data": {"messageType": topic, "message": message},
        "topic": topic,
        "pubsubname": "messagebus",
        "traceparent": TRACEPARENT,
        "tracestate": "",
        "time": "2026-01-01T00:00:00Z",
    }


def deliver(
    client: TestClient, route: str, event: Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    return client.post(route, content=body, headers={**CLOUDEVENT, **(headers or {})})


def ledger(client: TestClient, run: str) -> list[dict[str, Any]]:
    response = client.get("/ledger", params={"run": run})
    assert response.status_code == 200
    assert response.json()["run"] == run
    return response.json()["records"]


def newest_rows(client: TestClient) -> list[dict[str, Any]]:
    app = client.app
    assert isinstance(app, Starlette)
    return app.state.deps.ledger.last_attempts()


# --- settings -------------------------------------------------------------------------------


def test_settings_defaults_follow_the_contract() -> None:
    settings = Service1Settings.from_env({})
    assert settings.port == 6060
    assert settings.dapr_http_endpoint == "http://127.0.0.1:3500"
    assert settings.pubsub_name == "messagebus"
    assert settings.state_store_name == "statestore"
    assert settings.state_key == "dapr-series"
    assert settings.topics == ("t1", "t2")
    assert settings.t2_delay_seconds == 10.0
    assert settings.max_body_bytes == 65536


def test_settings_read_the_environment() -> None:
    settings = Service1Settings.from_env(
        {
            "DAPR_HTTP_PORT": "3600",
            "TOPICS": "t1, t2 ,t3",
            "T2_DELAY_SECONDS": "0.5",
            "MAX_BODY_BYTES": "2048",
            "LEDGER_PATH": "/tmp/x/ledger.sqlite3",
            "APP_API_TOKEN": "app-secret",
            "DAPR_API_TOKEN": "dapr-secret",
            "PUBSUB_NAME": "bus",
        }
    )
    assert settings.dapr_http_endpoint == "http://127.0.0.1:3600"
    assert settings.topics == ("t1", "t2", "t3")
    assert settings.t2_delay_seconds == 0.5
    assert settings.max_body_bytes == 2048
    assert str(settings.ledger_path) == "/tmp/x/ledger.sqlite3"
    assert (settings.app_api_token, settings.dapr_api_token) == ("app-secret", "dapr-secret")
    assert settings.pubsub_name == "bus"


def test_dapr_http_endpoint_wins_over_port() -> None:
    env = {"DAPR_HTTP_ENDPOINT": "http://10.0.0.9:3500/", "DAPR_HTTP_PORT": "3600"}
    assert Service1Settings.from_env(env).dapr_http_endpoint == "http://10.0.0.9:3500"


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({"T2_DELAY_SECONDS": "soon"}, "T2_DELAY_SECONDS='soon' is not a number"),
        ({"T2_DELAY_SECONDS": "-1"}, "T2_DELAY_SECONDS=-1 must be a finite number"),
        ({"T2_DELAY_SECONDS": "nan"}, "T2_DELAY_SECONDS=nan must be a finite number"),
        ({"MAX_BODY_BYTES": "lots"}, "MAX_BODY_BYTES='lots' is not a whole number"),
        ({"MAX_BODY_BYTES": "10"}, "MAX_BODY_BYTES=10 must be at least 1024"),
        ({"DAPR_HTTP_PORT": "70000"}, "DAPR_HTTP_PORT=70000 must be at least 1 and at most 65535"),
        ({"DAPR_HTTP_ENDPOINT": "127.0.0.1:3500"}, "is not an http(s) URL"),
        ({"TOPICS": " , "}, "TOPICS must name at least one topic"),
        ({"TOPICS": "t1,t1"}, "TOPICS names a topic twice"),
        ({"TOPICS": "t1,a/b"}, "'a/b' is not a plain topic name"),
        ({"TOPICS": "t1,state"}, "'state' is taken by a service-1 route"),
        ({"LEDGER_PATH": ":memory:"}, "LEDGER_PATH=':memory:' must be a file path"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL='loud' is not one of"),
    ],
)
def test_bad_settings_give_one_line_errors(env: dict[str, str], error: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Service1Settings.from_env(env)
    assert error in str(caught.value)
    assert "\n" not in str(caught.value)


def test_bad_setting_ends_the_process_with_one_line() -> None:
    with pytest.raises(SystemExit) as caught:
        settings_or_exit(lambda: Service1Settings.from_env({"TOPICS": "t1,t1"}), "service-1")
    assert str(caught.value) == "service-1: bad setting: TOPICS names a topic twice: t1,t1"


def test_module_level_app_is_a_starlette_app() -> None:
    assert isinstance(service1_module.app, Starlette)
    paths = [route.path for route in service1_module.app.routes]  # type: ignore[attr-defined]
    assert paths[-2:] == ["/t1", "/t2"]


# --- subscriptions --------------------------------------------------------------------------


def test_dapr_subscribe_lists_topics_and_dead_letter_topics(client: TestClient) -> None:
    response = client.get("/dapr/subscribe")
    assert response.status_code == 200
    bus = {"pubsubname": "messagebus"}
    tutorial = [s for s in response.json() if s["pubsubname"] == "messagebus"]
    assert tutorial == [
        {**bus, "topic": "t1", "route": "/t1", "deadLetterTopic": "t1-dead-letter"},
        {**bus, "topic": "t2", "route": "/t2", "deadLetterTopic": "t2-dead-letter"},
        {**bus, "topic": "t1-dead-letter", "route": "/dead-letter/t1"},
        {**bus, "topic": "t2-dead-letter", "route": "/dead-letter/t2"},
    ]


def test_dapr_subscribe_without_dead_letter_topics(tmp_path: Path, daprd: FakeDaprd) -> None:
    """The plain subscription profile: t1 and t2 subscribed without a dead-letter topic."""
    settings = make_settings(tmp_path, dead_letter_topics=False)
    with TestClient(create_app(settings, daprd.transport)) as client:
        subscriptions = client.get("/dapr/subscribe").json()
    tutorial = {s["topic"]: s for s in subscriptions if s["pubsubname"] == "messagebus"}
    assert tutorial["t1"] == {"pubsubname": "messagebus", "topic": "t1", "route": "/t1"}
    assert "deadLetterTopic" not in tutorial["t2"]


def test_dead_letter_topics_setting_is_a_switch() -> None:
    assert Service1Settings.from_env({"DEAD_LETTER_TOPICS": "off"}).dead_letter_topics is False
    assert Service1Settings.from_env({}).dead_letter_topics is True
    with pytest.raises(SettingsError, match="DEAD_LETTER_TOPICS='maybe' must be on or off"):
        Service1Settings.from_env({"DEAD_LETTER_TOPICS": "maybe"})


def test_dapr_subscribe_follows_topic_settings(tmp_path: Path, daprd: FakeDaprd) -> None:
    settings = make_settings(tmp_path, topics=("t2",), pubsub_name="bus")
    with TestClient(create_app(settings, daprd.transport)) as client:
        subscriptions = client.get("/dapr/subscribe").json()
    tutorial = [s for s in subscriptions if s["pubsubname"] != "featurebus"]
    assert [(s["pubsubname"], s["topic"], s["route"]) for s in tutorial] == [
        ("bus", "t2", "/t2"),
        ("bus", "t2-dead-letter", "/dead-letter/t2"),
    ]


# --- publish --------------------------------------------------------------------------------


def test_publish_wraps_the_message_and_sends_a_fresh_traceparent(
    client: TestClient, daprd: FakeDaprd, run: str
) -> None:
    body = {"run": run, "seq": 7, "sent_at": 1767225600.25, "note": "carried as is"}
    response = client.post("/publish/t1", json=body)
    assert response.status_code == 200
    answer = response.json()
    assert answer == {
        "message": "published",
        "topic": "t1",
        "run": run,
        "seq": 7,
        "traceparent": answer["traceparent"],
    }
    assert TRACEPARENT_PATTERN.match(answer["traceparent"])
    [published] = daprd.published
    assert (published.pubsub, published.topic) == ("messagebus", "t1")
    assert published.data == {"messageType": "t1", "message": body}
    assert published.headers["traceparent"] == answer["traceparent"]
    assert published.headers["content-type"] == "application/json"


def test_each_publish_gets_its_own_trace_id(client: TestClient, run: str) -> None:
    first = client.post("/publish/t2", json={"run": run, "seq": 1}).json()["traceparent"]
    second = client.post("/publish/t2", json={"run": run, "seq": 2}).json()["traceparent"]
    assert first.split("-")[1] != second.split("-")[1]


def test_publish_to_unknown_topic_is_404(client: TestClient, daprd: FakeDaprd) -> None:
    response = client.post("/publish/t9", json={"run": "r"})
    assert response.status_code == 404
    assert response.json() == {"error": "unknown topic 't9'", "topics": ["t1", "t2"]}
    assert daprd.published == []


def test_publish_passes_daprd_errors_on_as_502(client: TestClient, daprd: FakeDaprd) -> None:
    daprd.fail("publish", 403, "ERR_PUBSUB_FORBIDDEN", "topic t1 is not allowed for app id")
    response = client.post("/publish/t1", json={"run": "r", "seq": 1})
    assert response.status_code == 502
    assert response.json() == {
        "error": "daprd failed to publish to messagebus/t1",
        "daprd_status": 403,
        "errorCode": "ERR_PUBSUB_FORBIDDEN",
        "message": "topic t1 is not allowed for app id",
    }


def test_publish_with_daprd_down_is_502(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    app = create_app(make_settings(tmp_path), httpx.MockTransport(refuse))
    with TestClient(app) as client:
        response = client.post("/publish/t1", json={"run": "r", "seq": 1})
    assert response.status_code == 502
    answer = response.json()
    assert answer["error"] == "daprd failed to publish to messagebus/t1"
    assert (answer["daprd_status"], answer["errorCode"]) == (None, None)
    assert answer["message"] == "ConnectError: connection refused"


@pytest.mark.parametrize(
    ("body", "headers", "status", "error"),
    [
        (b'{"run": ', JSON_CT, 400, "malformed JSON: Expecting"),
        (b"[1, 2]", JSON_CT, 400, "body must be a JSON object, got list"),
        (b'"text"', JSON_CT, 400, "body must be a JSON object, got str"),
        (b'{"seq": NaN}', JSON_CT, 400, "malformed JSON: NaN is not JSON"),
        (b'{"sent_at": 1e400}', JSON_CT, 400, "malformed JSON: number 1e400 is out of range"),
        (b'{"padding": [-2e999]}', JSON_CT, 400, "malformed JSON: number -2e999 is out of"),
        (b'{"run": "\\ud800"}', JSON_CT, 400, "malformed JSON: 'utf-8' codec"),
        (b"\xff\xfe{", JSON_CT, 400, "malformed JSON"),
        ('{"run": "r"}'.encode("utf-16"), JSON_CT, 400, "malformed JSON: 'utf-8' codec"),
        (b'{"run": "a", "run": "b"}', JSON_CT, 400, "malformed JSON: key 'run' appears twice"),
        (b"[" * 10_000 + b"]" * 10_000, JSON_CT, 400, "malformed JSON: maximum recursion"),
        (b'{"run": 5}', JSON_CT, 400, "field 'run' must be a string"),
        (b'{"seq": "5"}', JSON_CT, 400, "field 'seq' must be an integer"),
        (b'{"seq": true}', JSON_CT, 400, "field 'seq' must be an integer"),
        (b'{"seq": 99999999999999999999}', JSON_CT, 400, "field 'seq' must fit in 64 bits"),
        (b'{"sent_at": "now"}', JSON_CT, 400, "field 'sent_at' must be a number"),
        (b'{"run": "r"}', TEXT, 415, f"{WANTS_JSON}, got 'text/plain'"),
        (b'{"run": "r"}', {}, 415, f"{WANTS_JSON}, got 'none'"),
        (b"run=r", FORM, 415, WANTS_JSON),
    ],
)  # fmt: skip
def test_publish_refuses_bad_input_with_json_errors(
    client: TestClient,
    daprd: FakeDaprd,
    body: bytes,
    headers: dict[str, str],
    status: int,
    error: str,
) -> None:
    response = client.post("/publish/t1", content=body, headers=headers)
    assert response.status_code == status
    assert response.json()["error"].startswith(error)
    assert daprd.published == []


def test_publish_accepts_json_with_charset(client: TestClient, daprd: FakeDaprd) -> None:
    response = client.post(
        "/publish/t1",
        content=b'{"run": "r", "seq": 1}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200
    assert len(daprd.published) == 1


def test_publish_refuses_body_over_limit_by_content_length(
    tmp_path: Path, daprd: FakeDaprd
) -> None:
    app = create_app(make_settings(tmp_path, max_body_bytes=1024), daprd.transport)
    with TestClient(app) as client:
        response = client.post("/publish/t1", json={"run": "r", "pad": "x" * 2000})
    assert response.status_code == 413
    assert response.json()["error"].startswith("body of ")
    assert "is over the limit of 1024" in response.json()["error"]
    assert daprd.published == []


def test_publish_refuses_body_over_limit_as_it_arrives(tmp_path: Path, daprd: FakeDaprd) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"run": "r", "pad": "'
        for _ in range(10):
            yield b"x" * 200
        yield b'"}'

    app = create_app(make_settings(tmp_path, max_body_bytes=1024), daprd.transport)
    with TestClient(app) as client:
        response = client.post("/publish/t1", content=chunks(), headers=JSON_CT)
    assert response.status_code == 413
    assert response.json() == {"error": "body is over the limit of 1024 bytes"}


def test_publish_refuses_a_content_length_that_is_not_a_number(client: TestClient) -> None:
    response = client.post(
        "/publish/t1",
        content=b'{"run": "r"}',
        headers={"content-type": "application/json", "content-length": "twelve"},
    )
    assert response.status_code == 400
    assert response.json() == {"error": "Content-Length 'twelve' is not a number"}


# --- t1 -------------------------------------------------------------------------------------


def test_t1_invokes_service2_and_stores_its_answer(
    client: TestClient, daprd: FakeDaprd, run: str
) -> None:
    event = cloud_event({"run": run, "seq": 3, "sent_at": 1767225600.5})
    response = deliver(client, "/t1", event, {"traceparent": TRACEPARENT, "tracestate": "k=v"})
    assert response.status_code == 200
    assert response.json() == {"status": "SUCCESS"}

    invoke = next(r for r in daprd.requests if r.url.path.startswith("/v1.0/invoke"))
    assert invoke.method == "POST"
    assert invoke.url.path == "/v1.0/invoke/service-2/method/t1"
    assert json.loads(invoke.content) == event["data"]
    assert invoke.headers["traceparent"] == TRACEPARENT
    assert invoke.headers["tracestate"] == "k=v"
    assert daprd.state["statestore"]["dapr-series"] == {"message": "received", "run": run, "seq": 3}

    [record] = ledger(client, run)
    assert record["id"] == event["id"]
    assert (record["topic"], record["route"]) == ("t1", "/t1")
    assert (record["run"], record["seq"], record["sent_at"]) == (run, 3, 1767225600.5)
    assert record["count"] == 1
    assert record["answers"] == ["SUCCESS"]
    assert record["traceparent"] == TRACEPARENT
    assert record["envelope"] == {
        "source": "service-1",
        "type": "com.dapr.event.sent",
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "topic": "t1",
        "pubsubname": "messagebus",
    }
    assert record["first_received_at"] == record["last_received_at"]
    assert record["first_received_at"] <= record["handled_at"] <= time.time()
    assert set(record) == {
        "id", "topic", "route", "run", "seq", "sent_at", "first_received_at",
        "last_received_at", "count", "answers", "traceparent", "envelope", "handled_at",
    }  # fmt: skip


def test_t1_takes_the_traceparent_from_the_envelope_without_header(
    client: TestClient, daprd: FakeDaprd, run: str
) -> None:
    event = cloud_event({"run": run, "seq": 1})
    event["tracestate"] = "vendor=1"
    assert deliver(client, "/t1", event).json() == {"status": "SUCCESS"}
    invoke = next(r for r in daprd.requests if r.url.path.startswith("/v1.0/invoke"))
    assert invoke.headers["traceparent"] == TRACEPARENT
    assert invoke.headers["tracestate"] == "vendor=1"


@pytest.mark.parametrize(
    "traceparent", ["\u00e4\u00f6", "00-zz-yy-01", "x" * 5000, "00-" + "a" * 32 + "-" + "b" * 16]
)
def test_t1_passes_on_only_a_w3c_traceparent(
    client: TestClient, daprd: FakeDaprd, run: str, traceparent: str
) -> None:
    # It goes on as a header: text that is not a traceparent broke the invocation (a 500).
    event = cloud_event({"run": run, "seq": 1})
    event["traceparent"], event["tracestate"] = traceparent, "\u00e4=1"
    assert deliver(client, "/t1", event).json() == {"status": "SUCCESS"}
    invoke = next(r for r in daprd.requests if r.url.path.startswith("/v1.0/invoke"))
    assert "traceparent" not in invoke.headers and "tracestate" not in invoke.headers
    assert ledger(client, run)[0]["traceparent"] is None


def test_t1_accepts_plain_application_json(client: TestClient, run: str) -> None:
    event = cloud_event({"run": run, "seq": 1})
    response = client.post("/t1", json=event)
    assert response.json() == {"status": "SUCCESS"}
    assert ledger(client, run)[0]["answers"] == ["SUCCESS"]


def test_t1_answers_retry_when_service2_fails(
    client: TestClient, daprd: FakeDaprd, run: str
) -> None:
    daprd.apps["service-2"] = lambda method, request: httpx.Response(500, text="boom")
    response = deliver(client, "/t1", cloud_event({"run": run, "seq": 1}))
    assert response.status_code == 200
    assert response.json()["status"] == "RETRY"
    assert response.json()["error"].startswith("service-2 invocation failed: invoke service-2/t1")
    assert "statestore" not in daprd.state
    assert ledger(client, run)[0]["answers"] == ["RETRY"]


@pytest.mark.parametrize("status", [400, 404, 413, 422])
def test_t1_answers_drop_at_once_when_service2_refuses_the_message(
    client: TestClient, daprd: FakeDaprd, run: str, status: int
) -> None:
    refused = httpx.Response(status, json={"error": "body must be a JSON object, got str"})
    daprd.apps["service-2"] = lambda method, request: refused
    response = deliver(client, "/t1", cloud_event({"run": run, "seq": 1}))
    assert response.status_code == 200
    assert response.json()["status"] == "DROP"
    assert response.json()["error"].startswith(
        f"service-2 refused the message: invoke service-2/t1: daprd answered {status}: "
    )
    assert "statestore" not in daprd.state
    assert ledger(client, run)[0]["answers"] == ["DROP"]


def test_t1_answers_retry_when_daprd_itself_refuses_the_invocation(
    client: TestClient, daprd: FakeDaprd, run: str
) -> None:
    # A Dapr errorCode means daprd refused (token, access policy): not the message's fault.
    daprd.fail("invoke", 403, "ERR_DIRECT_INVOKE", "access denied")
    response = deliver(client, "/t1", cloud_event({"run": run, "seq": 1}))
    assert response.json()["status"] == "RETRY"
    assert ledger(client, run)[0]["answers"] == ["RETRY"]


def test_t1_answers_retry_when_service2_is_unreachable(tmp_path: Path, run: str) -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    settings = make_settings(tmp_path)
    with TestClient(create_app(settings, httpx.MockTransport(unreachable))) as client:
        response = deliver(client, "/t1", cloud_event({"run": run, "seq": 1}))
        assert response.json()["status"] == "RETRY"
        assert ledger(client, run)[0]["answers"] == ["RETRY"]


def test_t1_answers_retry_when_the_state_store_fails(
    client: TestClient, daprd: FakeDaprd, run: str
) -> None:
    daprd.fail("state", 500, "ERR_STATE_SAVE", "redis is down")
    response = deliver(client, "/t1", cloud_event({"run": run, "seq": 1}))
    assert response.json() == {
        "status": "RETRY",
        "error": "saving service-2's answer failed: save statestore/dapr-series: "
        "daprd answered 500 ERR_STATE_SAVE: redis is down",
    }
    assert ledger(client, run)[0]["answers"] == ["RETRY"]


def test_redelivery_of_one_id_is_one_record_with_a_count(
    client: TestClient, daprd: FakeDaprd, run: str
) -> None:
    event = cloud_event({"run": run, "seq": 1})
    daprd.fail("invoke", 500, "ERR_DIRECT_INVOKE", "service-2 down")
    assert deliver(client, "/t1", event).json()["status"] == "RETRY"
    daprd.recover("invoke")
    assert deliver(client, "/t1", event).json()["status"] == "SUCCESS"
    [record] = ledger(client, run)
    assert record["count"] == 2
    assert record["answers"] == ["RETRY", "SUCCESS"]
    assert record["first_received_at"] <= record["last_received_at"]


# --- t2 -------------------------------------------------------------------------------------


def test_t2_waits_then_succeeds(tmp_path: Path, daprd: FakeDaprd, run: str) -> None:
    app = create_app(make_settings(tmp_path, t2_delay_seconds=0.2), daprd.transport)
    with TestClient(app) as client:
        started = time.monotonic()
        response = deliver(client, "/t2", cloud_event({"run": run, "seq": 1}, topic="t2"))
        waited = time.monotonic() - started
        [record] = ledger(client, run)
    assert response.json() == {"status": "SUCCESS"}
    assert waited >= 0.2
    assert record["topic"] == "t2"
    assert record["answers"] == ["SUCCESS"]
    assert record["handled_at"] - record["first_received_at"] >= 0.2
    assert not [r for r in daprd.requests if "invoke" in r.url.path]


def test_control_delay_replaces_the_t2_delay_for_one_message(
    tmp_path: Path, daprd: FakeDaprd, run: str
) -> None:
    app = create_app(make_settings(tmp_path, t2_delay_seconds=30.0), daprd.transport)
    message = {"run": run, "seq": 1, "control": {"delay_seconds": 0.05}}
    with TestClient(app) as client:
        started = time.monotonic()
        response = deliver(client, "/t2", cloud_event(message, topic="t2"))
        waited = time.monotonic() - started
    assert response.json() == {"status": "SUCCESS"}
    assert 0.05 <= waited < 5


def test_extra_configured_topic_just_succeeds(tmp_path: Path, daprd: FakeDaprd, run: str) -> None:
    app = create_app(make_settings(tmp_path, topics=("t1", "t2", "t3")), daprd.transport)
    with TestClient(app) as client:
        response = deliver(client, "/t3", cloud_event({"run": run, "seq": 1}, topic="t3"))
        assert response.json() == {"status": "SUCCESS"}
        assert ledger(client, run)[0]["topic"] == "t3"


def test_delivery_on_unsubscribed_topic_is_404(client: TestClient) -> None:
    response = deliver(client, "/t9", cloud_event({"run": "r"}, topic="t9"))
    assert response.status_code == 404
    assert response.json() == {"error": "Not Found"}


# --- dead letters ---------------------------------------------------------------------------


@pytest.mark.parametrize("topic", ["t1", "t2"])
def test_dead_letter_is_recorded_and_answered_success(
    client: TestClient, daprd: FakeDaprd, run: str, topic: str
) -> None:
    event = cloud_event({"run": run, "seq": 5, "control": {"answer": "RETRY", "times": 9}}, topic)
    response = deliver(client, f"/dead-letter/{topic}", event)
    assert response.json() == {"status": "SUCCESS"}
    [record] = ledger(client, run)
    assert record["topic"] == f"{topic}-dead-letter"
    assert record["route"] == f"/dead-letter/{topic}"
    assert record["answers"] == ["SUCCESS"]  # the control is not followed on dead letters
    assert not [r for r in daprd.requests if "invoke" in r.url.path]


def test_same_id_on_topic_and_dead_letter_topic_is_two_records(
    client: TestClient, run: str
) -> None:
    event = cloud_event({"run": run, "seq": 1, "control": {"answer": "DROP", "times": 1}})
    assert deliver(client, "/t1", event).json() == {"status": "DROP"}
    assert deliver(client, "/dead-letter/t1", event).json() == {"status": "SUCCESS"}
    records = ledger(client, run)
    assert [(r["id"], r["topic"], r["answers"]) for r in records] == [
        (event["id"], "t1", ["DROP"]),
        (event["id"], "t1-dead-letter", ["SUCCESS"]),
    ]


def test_dead_letter_for_unknown_topic_is_404(client: TestClient) -> None:
    response = deliver(client, "/dead-letter/t9", cloud_event({"run": "r"}))
    assert response.status_code == 404
    assert response.json() == {"error": "no dead-letter subscription for topic 't9'"}


BAD_DELAY = "control.delay_seconds must be a number 0..60, got"

# --- test control ---------------------------------------------------------------------------


@pytest.mark.parametrize("topic", ["t1", "t2"])
@pytest.mark.parametrize(
    ("answer", "status", "body"),
    [
        ("RETRY", 200, {"status": "RETRY"}),
        ("DROP", 200, {"status": "DROP"}),
        ("404", 404, {"error": "test control: answering 404"}),
        ("500", 500, {"error": "test control: answering 500"}),
    ],
)
def test_control_answers_n_times_then_handles_normally(
    client: TestClient,
    daprd: FakeDaprd,
    run: str,
    topic: str,
    answer: str,
    status: int,
    body: dict[str, str],
) -> None:
    event = cloud_event({"run": run, "seq": 1, "control": {"answer": answer, "times": 2}}, topic)
    for _ in range(2):
        response = deliver(client, f"/{topic}", event)
        assert (response.status_code, response.json()) == (status, body)
    assert not [r for r in daprd.requests if "invoke" in r.url.path]

    response = deliver(client, f"/{topic}", event)
    assert (response.status_code, response.json()) == (200, {"status": "SUCCESS"})
    [record] = ledger(client, run)
    assert record["count"] == 3
    assert record["answers"] == [answer, answer, "SUCCESS"]
    if topic == "t1":
        assert len([r for r in daprd.requests if "invoke" in r.url.path]) == 1


def test_control_is_counted_per_cloudevent_id(client: TestClient, run: str) -> None:
    control = {"answer": "RETRY", "times": 1}
    first = cloud_event({"run": run, "seq": 1, "control": control})
    second = cloud_event({"run": run, "seq": 2, "control": control})
    assert deliver(client, "/t1", first).json() == {"status": "RETRY"}
    assert deliver(client, "/t1", second).json() == {"status": "RETRY"}
    assert deliver(client, "/t1", first).json() == {"status": "SUCCESS"}


@pytest.mark.parametrize(
    ("control", "error"),
    [
        ("RETRY", "control must be an object, got str"),
        ({"answer": "MAYBE", "times": 1}, f"{BAD_ANSWER} 'MAYBE'"),
        ({"answer": 404, "times": 1}, f"{BAD_ANSWER} 404"),
        ({"times": 1}, f"{BAD_ANSWER} None"),
        ({"answer": "RETRY"}, f"{BAD_TIMES} None"),
        ({"answer": "RETRY", "times": 0}, f"{BAD_TIMES} 0"),
        ({"answer": "RETRY", "times": 1.5}, f"{BAD_TIMES} 1.5"),
        ({"answer": "RETRY", "times": True}, f"{BAD_TIMES} True"),
        ({"answer": "RETRY", "times": 5000}, f"{BAD_TIMES} 5000"),
        ({"answer": "RETRY", "times": 1, "after": 2}, "control has unknown keys: ['after']"),
        ({"delay_seconds": -1}, f"{BAD_DELAY} -1"),
        ({"delay_seconds": "soon"}, f"{BAD_DELAY} 'soon'"),
        ({"delay_seconds": 61}, f"{BAD_DELAY} 61"),
    ],
)  # fmt: skip
def test_invalid_control_rejects_the_delivery(
    client: TestClient, daprd: FakeDaprd, run: str, control: Any, error: str
) -> None:
    event = cloud_event({"run": run, "seq": 4, "control": control})
    response = deliver(client, "/t1", event, {"traceparent": TRACEPARENT})
    assert response.status_code == 200
    assert response.json() == {"status": "DROP", "error": error}
    [record] = ledger(client, run)
    assert (record["id"], record["seq"], record["answers"]) == (event["id"], 4, ["REJECTED"])
    assert record["envelope"]["source"] == "service-1"
    assert record["traceparent"] == TRACEPARENT
    assert not [r for r in daprd.requests if "invoke" in r.url.path]


# --- bad deliveries -------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["/t1", "/t2", "/dead-letter/t1"])
@pytest.mark.parametrize(
    ("body", "headers", "error", "recorded_id"),
    [
        (b'{"id": "x", ', CLOUDEVENT, "malformed JSON: Expecting property name", None),
        (b"[]", CLOUDEVENT, "body must be a JSON object, got list", None),
        (b'{"data": {}}', CLOUDEVENT, "not a CloudEvent: no string 'id'", None),
        (b'{"id": 5, "data": {}}', CLOUDEVENT, "not a CloudEvent: no string 'id'", None),
        (b'{"id": "", "data": {}}', CLOUDEVENT, "not a CloudEvent: no string 'id'", None),
        (b'{"id": "x"}', CLOUDEVENT, "not a CloudEvent: no 'data'", "x"),
        (b'{"id": "x", "data": null}', CLOUDEVENT, "not a CloudEvent: no 'data'", "x"),
        (b'{"id": "x", "data": {}}', TEXT, f"{WANTS_CLOUDEVENT}, got 'text/plain'", "x"),
        (b'{"id": "x", "data": {}}', {"content-type": ""}, f"{WANTS_CLOUDEVENT}, got 'none'", "x"),
        (b"id=x", FORM, f"{WANTS_CLOUDEVENT}, got '{FORM['content-type']}'", None),
        (b'{"id": "x", "data": -Infinity}', CLOUDEVENT, "malformed JSON: -Infinity is", None),
        (b'{"id": "x", "data": {"n": 1e400}}', CLOUDEVENT, "malformed JSON: number 1e400", None),
    ],
)  # fmt: skip
def test_unusable_delivery_is_dropped_and_recorded_rejected(
    client: TestClient,
    route: str,
    body: bytes,
    headers: dict[str, str],
    error: str,
    recorded_id: str | None,
) -> None:
    response = client.post(route, content=body, headers=headers)
    assert response.status_code == 200
    assert response.json()["status"] == "DROP"
    assert response.json()["error"].startswith(error)
    newest = newest_rows(client)[0]
    assert newest["answer"] == "REJECTED"
    assert newest["error"] == response.json()["error"]
    assert newest["route"] == route
    assert newest["topic"] == {"/t1": "t1", "/t2": "t2", "/dead-letter/t1": "t1-dead-letter"}[route]
    if recorded_id is None:
        assert newest["event_id"].startswith("rejected-")
    else:
        assert newest["event_id"] == recorded_id


def test_rejected_delivery_with_a_run_is_in_the_run_ledger(client: TestClient, run: str) -> None:
    control = {"answer": "LATER", "times": 1}
    body = {"id": "bad-control", "data": {"message": {"run": run, "seq": 9, "control": control}}}
    assert deliver(client, "/t2", body).json()["status"] == "DROP"
    [record] = ledger(client, run)
    assert (record["id"], record["topic"], record["answers"]) == (
        "bad-control",
        "t2",
        ["REJECTED"],
    )


def test_oversized_delivery_is_dropped(tmp_path: Path, daprd: FakeDaprd) -> None:
    app = create_app(make_settings(tmp_path, max_body_bytes=1024), daprd.transport)
    with TestClient(app) as client:
        event = cloud_event({"run": "r", "pad": "x" * 2000})
        response = deliver(client, "/t1", event)
        assert response.status_code == 200
        assert response.json()["status"] == "DROP"
        assert "is over the limit of 1024" in response.json()["error"]
        assert newest_rows(client)[0]["answer"] == "REJECTED"


def test_message_fields_of_the_wrong_type_are_kept_as_null(client: TestClient) -> None:
    event = cloud_event({"run": 5, "seq": "7", "sent_at": True}, event_id="odd-fields")
    assert deliver(client, "/t2", event).json() == {"status": "SUCCESS"}
    newest = newest_rows(client)[0]
    assert (newest["event_id"], newest["run"], newest["seq"], newest["sent_at"]) == (
        "odd-fields",
        None,
        None,
        None,
    )


# --- tokens ---------------------------------------------------------------------------------


@pytest.fixture
def guarded_client(tmp_path: Path, daprd: FakeDaprd) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, app_api_token="app-secret")
    with TestClient(create_app(settings, daprd.transport)) as client:
        yield client


@pytest.mark.parametrize("route", ["/t1", "/t2", "/dead-letter/t1"])
@pytest.mark.parametrize("token", [None, "wrong"])
def test_app_token_guards_subscriber_routes(
    guarded_client: TestClient, run: str, route: str, token: str | None
) -> None:
    headers = {} if token is None else {"dapr-api-token": token}
    response = deliver(guarded_client, route, cloud_event({"run": run, "seq": 1}), headers)
    assert response.status_code == 401
    assert response.json() == {"error": "missing or wrong dapr-api-token header"}
    assert ledger(guarded_client, run) == []


def test_app_token_lets_daprd_in(guarded_client: TestClient, run: str) -> None:
    response = deliver(
        guarded_client, "/t1", cloud_event({"run": run, "seq": 1}), {"dapr-api-token": "app-secret"}
    )
    assert response.json() == {"status": "SUCCESS"}
    assert guarded_client.get("/dapr/subscribe").status_code == 401
    subscribed = guarded_client.get("/dapr/subscribe", headers={"dapr-api-token": "app-secret"})
    assert subscribed.status_code == 200


def test_app_token_does_not_guard_the_test_api(guarded_client: TestClient) -> None:
    assert guarded_client.post("/publish/t1", json={"run": "r", "seq": 1}).status_code == 200
    assert guarded_client.get("/healthz").status_code == 200
    assert guarded_client.get("/ledger", params={"run": "r"}).status_code == 200


@pytest.fixture
def suite_guarded_client(tmp_path: Path, daprd: FakeDaprd) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, suite_api_token="suite-secret", app_api_token="app-secret")
    with TestClient(create_app(settings, daprd.transport)) as client:
        yield client


@pytest.mark.parametrize("token", [None, "wrong", "app-secret"])
def test_suite_token_guards_what_changes_something(
    suite_guarded_client: TestClient, daprd: FakeDaprd, run: str, token: str | None
) -> None:
    headers = {} if token is None else {"suite-api-token": token}
    client = suite_guarded_client
    for response in (
        client.post("/publish/t1", json={"run": run, "seq": 1}, headers=headers),
        client.post("/state", json={"value": 1}, headers=headers),
        client.delete("/state", headers=headers),
    ):
        assert response.status_code == 401
        assert response.json() == {"error": "missing or wrong suite-api-token header"}
    assert daprd.published == [] and daprd.requests == []


def test_suite_token_lets_the_suite_in_and_reads_stay_open(
    suite_guarded_client: TestClient, daprd: FakeDaprd, run: str
) -> None:
    client = suite_guarded_client
    token = {"suite-api-token": "suite-secret"}
    assert client.post("/publish/t1", json={"run": run, "seq": 1}, headers=token).status_code == 200
    assert client.post("/state", json={"value": 1}, headers=token).status_code == 200
    assert client.delete("/state", headers=token).status_code == 200
    for path in ("/ledger?run=r", "/ledger/summary?run=r", "/state", "/healthz", "/ping"):
        assert client.get(path).status_code == 200, path
    # the suite token is not the app token: it cannot forge a delivery
    forged = deliver(client, "/t1", cloud_event({"run": run, "seq": 1}), token)
    assert forged.status_code == 401


def test_openapi_document_lists_every_route(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    app = client.app
    assert isinstance(app, Starlette)
    served = {route.path for route in app.routes} - {"/metrics", "/openapi.json"}
    assert set(document["paths"]) == served
    assert document["paths"]["/publish/{topic}"]["post"]["security"] == [{"suiteToken": []}]
    assert document["paths"]["/t1"]["post"]["security"] == [{"appToken": []}]


def test_dapr_token_goes_with_every_daprd_call(tmp_path: Path, run: str) -> None:
    daprd = FakeDaprd(api_token="dapr-secret")
    daprd.apps["service-2"] = fake_service2
    settings = make_settings(tmp_path, dapr_api_token="dapr-secret")
    with TestClient(create_app(settings, daprd.transport)) as client:
        assert client.post("/publish/t1", json={"run": run, "seq": 1}).status_code == 200
        assert deliver(client, "/t1", cloud_event({"run": run})).json() == {"status": "SUCCESS"}
        assert client.get("/state").status_code == 200
        assert client.get("/s2/ping").status_code == 200
    assert len(daprd.requests) == 5
    assert {r.headers["dapr-api-token"] for r in daprd.requests} == {"dapr-secret"}


def test_without_dapr_token_daprd_refuses(tmp_path: Path) -> None:
    daprd = FakeDaprd(api_token="dapr-secret")
    with TestClient(create_app(make_settings(tmp_path), daprd.transport)) as client:
        response = client.post("/publish/t1", json={"run": "r", "seq": 1})
    assert response.status_code == 502
    assert response.json()["errorCode"] == "ERR_UNAUTHORIZED"
    assert "dapr-api-token" not in daprd.requests[0].headers


# --- state ----------------------------------------------------------------------------------


def test_state_round_trip(client: TestClient, daprd: FakeDaprd) -> None:
    assert client.get("/state").json() == {"key": "dapr-series", "value": None}
    saved = client.post("/state", json={"value": {"episode": 3}})
    assert saved.json() == {"message": "saved", "key": "dapr-series", "value": {"episode": 3}}
    assert daprd.state["statestore"]["dapr-series"] == {"episode": 3}
    assert client.get("/state").json() == {"key": "dapr-series", "value": {"episode": 3}}
    assert client.delete("/state").json() == {"message": "deleted", "key": "dapr-series"}
    assert client.get("/state").json() == {"key": "dapr-series", "value": None}
    methods = [(r.method, r.url.path) for r in daprd.requests]
    assert ("POST", "/v1.0/state/statestore") in methods
    assert ("DELETE", "/v1.0/state/statestore/dapr-series") in methods


@pytest.mark.parametrize(
    ("body", "headers", "status", "error"),
    [
        (b'{"other": 1}', JSON_CT, 400, "body must have a 'value' field"),
        (b'{"value": ', JSON_CT, 400, "malformed JSON"),
        (b"[1]", JSON_CT, 400, "body must be a JSON object, got list"),
        (b'{"value": 1}', {"content-type": "text/plain"}, 415, WANTS_JSON),
    ],
)  # fmt: skip
def test_state_refuses_bad_input(
    client: TestClient, body: bytes, headers: dict[str, str], status: int, error: str
) -> None:
    response = client.post("/state", content=body, headers=headers)
    assert response.status_code == status
    assert response.json()["error"].startswith(error)


def test_state_refuses_body_over_limit(tmp_path: Path, daprd: FakeDaprd) -> None:
    app = create_app(make_settings(tmp_path, max_body_bytes=1024), daprd.transport)
    with TestClient(app) as client:
        response = client.post("/state", json={"value": "x" * 2000})
    assert response.status_code == 413
    assert "is over the limit of 1024" in response.json()["error"]


def test_state_store_errors_are_502(client: TestClient, daprd: FakeDaprd) -> None:
    daprd.fail("state", 400, "ERR_STATE_STORE_NOT_FOUND", "state store statestore is not found")
    for response in (client.get("/state"), client.delete("/state")):
        assert response.status_code == 502
        assert response.json()["errorCode"] == "ERR_STATE_STORE_NOT_FOUND"
        assert response.json()["daprd_status"] == 400


def test_state_value_daprd_sends_broken_is_502(tmp_path: Path) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"{nope"))
    with TestClient(create_app(make_settings(tmp_path), transport)) as client:
        response = client.get("/state")
    assert response.status_code == 502
    assert response.json()["message"].startswith("malformed JSON")


# --- pings, health, metrics, ledger API, errors ---------------------------------------------


def test_ping_and_healthz(client: TestClient) -> None:
    assert client.get("/ping").json() == {"message": "pong", "app_id": "service-1"}
    assert client.get("/healthz").json() == {"status": "ok"}


def test_s2_ping_goes_through_dapr_invocation(client: TestClient, daprd: FakeDaprd) -> None:
    response = client.get("/s2/ping")
    assert response.json() == {
        "message": "pong",
        "answer": {"message": "pong", "app_id": "service-2"},
    }
    [request] = daprd.requests
    assert (request.method, request.url.path) == ("GET", "/v1.0/invoke/service-2/method/ping")


def test_s2_ping_failure_is_502(client: TestClient, daprd: FakeDaprd) -> None:
    daprd.fail("invoke", 500, "ERR_DIRECT_INVOKE", "failed to invoke, id: service-2")
    response = client.get("/s2/ping")
    assert response.status_code == 502
    assert response.json() == {
        "error": "daprd failed to invoke service-2/ping",
        "daprd_status": 500,
        "errorCode": "ERR_DIRECT_INVOKE",
        "message": "failed to invoke, id: service-2",
    }


def test_metrics_count_deliveries_and_invocations(client: TestClient, run: str) -> None:
    deliver(client, "/t1", cloud_event({"run": run, "seq": 1}))
    deliver(client, "/t2", cloud_event({"run": run, "seq": 2}, topic="t2"))
    client.post("/t1", content=b"{", headers=CLOUDEVENT)
    client.post("/publish/t1", json={"run": run})
    client.get("/s2/ping")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'service1_deliveries_total{answer="SUCCESS",topic="t1"} 1.0' in text
    assert 'service1_deliveries_total{answer="SUCCESS",topic="t2"} 1.0' in text
    assert 'service1_deliveries_total{answer="REJECTED",topic="t1"} 1.0' in text
    assert 'service1_publishes_total{outcome="ok",topic="t1"} 1.0' in text
    assert 'service1_invocation_seconds_count{method="t1",outcome="ok"} 1.0' in text
    assert 'service1_invocation_seconds_count{method="ping",outcome="ok"} 1.0' in text


def test_two_apps_keep_separate_metrics(tmp_path: Path, daprd: FakeDaprd) -> None:
    first = create_app(make_settings(tmp_path / "a"), daprd.transport)
    second = create_app(make_settings(tmp_path / "b"), daprd.transport)
    with TestClient(first) as one, TestClient(second) as two:
        one.post("/publish/t1", json={"run": "r"})
        assert 'service1_publishes_total{outcome="ok",topic="t1"} 1.0' in one.get("/metrics").text
        assert "service1_publishes_total{" not in two.get("/metrics").text


def test_ledger_needs_a_run(client: TestClient) -> None:
    for path in ("/ledger", "/ledger/summary", "/ledger/arrivals"):
        response = client.get(path)
        assert response.status_code == 400
        assert response.json() == {"error": "query parameter 'run' is required"}


def test_ledger_of_unknown_run_is_empty(client: TestClient) -> None:
    assert client.get("/ledger", params={"run": "nobody"}).json() == {
        "run": "nobody",
        "records": [],
    }


def test_ledger_arrivals_page_through_a_run(client: TestClient, run: str) -> None:
    for seq in range(5):
        deliver(client, "/t1", cloud_event({"run": run, "seq": seq, "sent_at": 1.5}))
    deliver(client, "/t1", cloud_event({"run": "someone-else", "seq": 9}))
    first = client.get("/ledger/arrivals", params={"run": run, "limit": 3}).json()
    assert first["run"] == run
    assert [a["seq"] for a in first["arrivals"]] == [0, 1, 2]
    assert first["more"] is True
    assert set(first["arrivals"][0]) == {
        "attempt", "id", "topic", "route", "seq", "sent_at", "received_at"
    }  # fmt: skip
    params = {"run": run, "after": first["next"], "limit": 3}
    second = client.get("/ledger/arrivals", params=params).json()
    assert [a["seq"] for a in second["arrivals"]] == [3, 4]
    assert second["more"] is False
    params["after"] = second["next"]
    assert client.get("/ledger/arrivals", params=params).json() == {
        "run": run,
        "arrivals": [],
        "next": second["next"],
        "more": False,
    }


BAD_AFTER = "query parameter 'after' must be a whole number from 0 to 9223372036854775807"
BAD_LIMIT = "query parameter 'limit' must be a whole number from 1 to 10000"


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("after=-1", BAD_AFTER),
        ("after=abc", BAD_AFTER),
        ("after=1_000", BAD_AFTER),  # int() would take it
        ("after=%D9%A1", BAD_AFTER),  # an Arabic-Indic 1: int() would take it too
        ("after=9223372036854775808", BAD_AFTER),
        ("after=" + "9" * 5000, BAD_AFTER),
        ("limit=-5", BAD_LIMIT),
        ("limit=0", BAD_LIMIT),
        ("limit=10001", BAD_LIMIT),
        ("limit=", BAD_LIMIT),
        ("limit=2.5", BAD_LIMIT),
    ],
)
def test_ledger_arrivals_refuse_a_bad_cursor_or_limit(
    client: TestClient, query: str, error: str
) -> None:
    response = client.get(f"/ledger/arrivals?run=r&{query}")
    assert (response.status_code, response.json()) == (400, {"error": error})


def test_ledger_summary_counts_by_topic(client: TestClient, run: str) -> None:
    retry_once = {"run": run, "seq": 1, "control": {"answer": "RETRY", "times": 1}}
    first = cloud_event(retry_once)
    deliver(client, "/t1", first)
    deliver(client, "/t1", first)
    deliver(client, "/t2", cloud_event({"run": run, "seq": 2}, topic="t2"))
    deliver(client, "/dead-letter/t2", cloud_event({"run": run, "seq": 3}, topic="t2"))
    assert client.get("/ledger/summary", params={"run": run}).json() == {
        "run": run,
        "deliveries": 4,
        "topics": {
            "t1": {"ids": 1, "deliveries": 2, "answers": {"RETRY": 1, "SUCCESS": 1}},
            "t2": {"ids": 1, "deliveries": 1, "answers": {"SUCCESS": 1}},
            "t2-dead-letter": {"ids": 1, "deliveries": 1, "answers": {"SUCCESS": 1}},
        },
    }


def test_ledger_survives_a_restart(tmp_path: Path, daprd: FakeDaprd, run: str) -> None:
    settings = make_settings(tmp_path)
    event = cloud_event({"run": run, "seq": 1, "control": {"answer": "RETRY", "times": 1}})
    with TestClient(create_app(settings, daprd.transport)) as client:
        assert deliver(client, "/t1", event).json() == {"status": "RETRY"}
    with TestClient(create_app(settings, daprd.transport)) as client:
        # The control count comes from the file too: the redelivery after a restart succeeds.
        assert deliver(client, "/t1", event).json() == {"status": "SUCCESS"}
        [record] = ledger(client, run)
    assert record["count"] == 2
    assert record["answers"] == ["RETRY", "SUCCESS"]
    with sqlite3.connect(settings.ledger_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_unknown_route_and_wrong_method_answer_json(client: TestClient) -> None:
    missing = client.get("/nowhere")
    assert (missing.status_code, missing.json()) == (404, {"error": "Not Found"})
    wrong = client.put("/state", json={"value": 1})
    assert (wrong.status_code, wrong.json()) == (405, {"error": "Method Not Allowed"})


def test_unexpected_error_is_a_json_500(tmp_path: Path) -> None:
    def explode(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("not an httpx error")

    app = create_app(make_settings(tmp_path), httpx.MockTransport(explode))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/state")
    assert response.status_code == 500
    assert response.json() == {"error": "internal error: RuntimeError"}


def test_unexpected_error_in_a_delivery_is_recorded_as_500(tmp_path: Path, run: str) -> None:
    def explode(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("not an httpx error")

    app = create_app(make_settings(tmp_path), httpx.MockTransport(explode))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = deliver(client, "/t1", cloud_event({"run": run, "seq": 1}))
        assert response.status_code == 500
        assert response.json() == {"error": "internal error: RuntimeError"}
        assert ledger(client, run)[0]["answers"] == ["500"]
