"""service-2 against a fake daprd: t1 calls and /received, ping, state, tokens, bad input."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning

from system_under_test.common.settings import SettingsError
from system_under_test.service2 import app as service2_module
from system_under_test.service2.app import ReceivedCalls, create_app
from system_under_test.service2.settings import Service2Settings
from tests.unit.fake_daprd import FakeDaprd

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 behind its test client; with plain httpx it works the same.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01"
JSON_CT = {"content-type": "application/json"}
WANTS_CLOUDEVENT = "content type must be application/cloudevents+json or application/json"


@pytest.fixture
def daprd() -> FakeDaprd:
    return FakeDaprd()


@pytest.fixture
def client(daprd: FakeDaprd) -> Iterator[TestClient]:
    with TestClient(create_app(Service2Settings(), daprd.transport)) as test_client:
        yield test_client


def call_t1(client: TestClient, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return client.post(
        "/t1",
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json", **(headers or {})},
    )


# --- settings -------------------------------------------------------------------------------


def test_settings_defaults_follow_the_contract() -> None:
    settings = Service2Settings.from_env({})
    assert settings.port == 7070
    assert settings.dapr_http_endpoint == "http://127.0.0.1:3510"
    assert (settings.state_store_name, settings.state_key) == ("statestore", "service-2")


def test_settings_honour_dapr_http_port_and_tokens() -> None:
    settings = Service2Settings.from_env(
        {"DAPR_HTTP_PORT": "3610", "APP_API_TOKEN": "a", "DAPR_API_TOKEN": "d", "STATE_KEY": "k"}
    )
    assert settings.dapr_http_endpoint == "http://127.0.0.1:3610"
    assert (settings.app_api_token, settings.dapr_api_token, settings.state_key) == ("a", "d", "k")


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({"DAPR_HTTP_PORT": "x"}, "DAPR_HTTP_PORT='x' is not a whole number"),
        ({"MAX_BODY_BYTES": "0"}, "MAX_BODY_BYTES=0 must be at least 1024"),
        ({"DAPR_TIMEOUT_SECONDS": "0"}, "DAPR_TIMEOUT_SECONDS=0 must be a finite number"),
        ({"DAPR_HTTP_ENDPOINT": "ftp://x"}, "DAPR_HTTP_ENDPOINT='ftp://x' is not an http(s) URL"),
    ],
)
def test_bad_settings_give_one_line_errors(env: dict[str, str], error: str) -> None:
    with pytest.raises(SettingsError, match=r"^.*$") as caught:
        Service2Settings.from_env(env)
    assert error in str(caught.value)


def test_module_level_app_is_a_starlette_app() -> None:
    assert isinstance(service2_module.app, Starlette)


# --- t1 and /received -----------------------------------------------------------------------


def test_t1_answers_received_with_run_and_seq(client: TestClient) -> None:
    body = {"messageType": "t1", "message": {"run": "r1", "seq": 4, "sent_at": 1.5}}
    response = call_t1(client, body, {"traceparent": TRACEPARENT})
    assert response.status_code == 200
    assert response.json() == {"message": "received", "run": "r1", "seq": 4}


def test_t1_without_run_answers_nulls(client: TestClient) -> None:
    assert call_t1(client, {"messageType": "t1", "message": {"hello": 1}}).json() == {
        "message": "received",
        "run": None,
        "seq": None,
    }


def test_t1_reads_a_bare_message_too(client: TestClient) -> None:
    assert call_t1(client, {"run": "r2", "seq": 1}).json()["run"] == "r2"


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ({"run": 7, "seq": 1}, "field 'run' must be a string"),
        ({"run": "r", "seq": "1"}, "field 'seq' must be an integer"),
        ({"run": "r", "seq": True}, "field 'seq' must be an integer"),
        ("text", "field 'message' must be an object"),
        ([1], "field 'message' must be an object"),
    ],
)
def test_t1_refuses_a_message_with_wrong_types_as_422(
    client: TestClient, message: Any, error: str
) -> None:
    response = call_t1(client, {"messageType": "t1", "message": message})
    assert (response.status_code, response.json()) == (422, {"error": error})
    assert client.get("/received", params={"run": "r"}).json()["count"] == 0


def test_received_lists_the_calls_of_a_run(client: TestClient) -> None:
    call_t1(client, {"message": {"run": "r1", "seq": 1}}, {"traceparent": TRACEPARENT})
    call_t1(client, {"message": {"run": "r1", "seq": 2}})
    call_t1(client, {"message": {"run": "other", "seq": 1}})
    response = client.get("/received", params={"run": "r1"})
    assert response.status_code == 200
    answer = response.json()
    assert (answer["run"], answer["count"]) == ("r1", 2)
    assert [(r["run"], r["seq"], r["traceparent"]) for r in answer["records"]] == [
        ("r1", 1, TRACEPARENT),
        ("r1", 2, None),
    ]
    assert all(set(r) == {"run", "seq", "traceparent", "received_at"} for r in answer["records"])
    assert answer["records"][0]["received_at"] <= answer["records"][1]["received_at"]


def test_received_of_unknown_run_is_empty(client: TestClient) -> None:
    assert client.get("/received", params={"run": "none"}).json() == {
        "run": "none",
        "count": 0,
        "records": [],
        "not_kept": 0,
    }


def test_received_needs_a_run(client: TestClient) -> None:
    response = client.get("/received")
    assert response.status_code == 400
    assert response.json() == {"error": "query parameter 'run' is required"}


@pytest.mark.parametrize(
    ("body", "headers", "status", "error"),
    [
        (b"{", JSON_CT, 400, "malformed JSON: Expecting"),
        (b"[1]", JSON_CT, 400, "body must be a JSON object, got list"),
        (b'{"a": NaN}', JSON_CT, 400, "malformed JSON: NaN is not JSON"),
        (b"{}", {"content-type": "text/plain"}, 415, f"{WANTS_CLOUDEVENT}, got 'text/plain'"),
    ],
)  # fmt: skip
def test_t1_refuses_bad_input(
    client: TestClient, body: bytes, headers: dict[str, str], status: int, error: str
) -> None:
    response = client.post("/t1", content=body, headers=headers)
    assert response.status_code == status
    assert response.json()["error"].startswith(error)


def test_t1_refuses_body_over_limit(daprd: FakeDaprd) -> None:
    with TestClient(create_app(Service2Settings(max_body_bytes=1024), daprd.transport)) as client:
        response = call_t1(client, {"message": {"run": "r", "pad": "x" * 2000}})
        assert response.status_code == 413
        assert "is over the limit of 1024" in response.json()["error"]
        assert client.get("/received", params={"run": "r"}).json()["count"] == 0


# --- ping, subscribe, state, health, metrics ------------------------------------------------


def test_ping_subscribe_and_healthz(client: TestClient) -> None:
    assert client.get("/ping").json() == {"message": "pong", "app_id": "service-2"}
    assert client.get("/dapr/subscribe").json() == []
    assert client.get("/healthz").json() == {"status": "ok"}


def test_state_round_trip_on_its_own_key(client: TestClient, daprd: FakeDaprd) -> None:
    assert client.get("/state").json() == {"key": "service-2", "value": None}
    saved = client.post("/state", json={"value": [1, 2]})
    assert saved.json() == {"message": "saved", "key": "service-2", "value": [1, 2]}
    assert daprd.state == {"statestore": {"service-2": [1, 2]}}
    assert client.get("/state").json() == {"key": "service-2", "value": [1, 2]}
    assert [(r.method, r.url.path) for r in daprd.requests] == [
        ("GET", "/v1.0/state/statestore/service-2"),
        ("POST", "/v1.0/state/statestore"),
        ("GET", "/v1.0/state/statestore/service-2"),
    ]


@pytest.mark.parametrize(
    ("body", "headers", "status", "error"),
    [
        (b'{"v": 1}', JSON_CT, 400, "body must have a 'value' field"),
        (b"nope", JSON_CT, 400, "malformed JSON"),
        (b'{"value": 1}', {"content-type": "text/csv"}, 415, "content type must be application/"),
    ],
)  # fmt: skip
def test_state_refuses_bad_input(
    client: TestClient, body: bytes, headers: dict[str, str], status: int, error: str
) -> None:
    response = client.post("/state", content=body, headers=headers)
    assert response.status_code == status
    assert response.json()["error"].startswith(error)


def test_state_store_error_is_502(client: TestClient, daprd: FakeDaprd) -> None:
    daprd.fail("state", 500, "ERR_STATE_GET", "fail to get service-2 from state store")
    response = client.get("/state")
    assert response.status_code == 502
    assert response.json() == {
        "error": "daprd failed to read statestore/service-2",
        "daprd_status": 500,
        "errorCode": "ERR_STATE_GET",
        "message": "fail to get service-2 from state store",
    }


def test_metrics_count_invocations(client: TestClient) -> None:
    call_t1(client, {"message": {"run": "r", "seq": 1}})
    call_t1(client, {"message": {"run": "r", "seq": 2}})
    client.get("/ping")
    text = client.get("/metrics").text
    assert 'service2_invocations_received_total{method="t1"} 2.0' in text
    assert 'service2_invocations_received_total{method="ping"} 1.0' in text


def test_unknown_route_is_json_404(client: TestClient) -> None:
    response = client.get("/t2")
    assert (response.status_code, response.json()) == (404, {"error": "Not Found"})


# --- tokens ---------------------------------------------------------------------------------


@pytest.fixture
def guarded_client(daprd: FakeDaprd) -> Iterator[TestClient]:
    settings = Service2Settings(app_api_token="app-secret")
    with TestClient(create_app(settings, daprd.transport)) as client:
        yield client


@pytest.mark.parametrize("token", [None, "wrong"])
def test_app_token_guards_what_daprd_calls(guarded_client: TestClient, token: str | None) -> None:
    headers = {} if token is None else {"dapr-api-token": token}
    for response in (
        call_t1(guarded_client, {"message": {"run": "r"}}, headers),
        guarded_client.get("/ping", headers=headers),
        guarded_client.get("/dapr/subscribe", headers=headers),
    ):
        assert response.status_code == 401
        assert response.json() == {"error": "missing or wrong dapr-api-token header"}
    assert guarded_client.get("/received", params={"run": "r"}).json()["count"] == 0


def test_app_token_lets_daprd_in(guarded_client: TestClient) -> None:
    token = {"dapr-api-token": "app-secret"}
    assert call_t1(guarded_client, {"message": {"run": "r"}}, token).status_code == 200
    assert guarded_client.get("/ping", headers=token).status_code == 200
    assert guarded_client.get("/received", params={"run": "r"}).json()["count"] == 1
    assert guarded_client.get("/healthz").status_code == 200


@pytest.mark.parametrize("token", [None, "wrong"])
def test_suite_token_guards_the_state_write(daprd: FakeDaprd, token: str | None) -> None:
    settings = Service2Settings(suite_api_token="suite-secret")
    headers = {} if token is None else {"suite-api-token": token}
    with TestClient(create_app(settings, daprd.transport)) as client:
        refused = client.post("/state", json={"value": 1}, headers=headers)
        assert (refused.status_code, refused.json()) == (
            401,
            {"error": "missing or wrong suite-api-token header"},
        )
        ok = client.post("/state", json={"value": 1}, headers={"suite-api-token": "suite-secret"})
        assert ok.status_code == 200
        assert client.get("/state").json()["value"] == 1


def test_openapi_document_lists_every_route(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    app = client.app
    assert isinstance(app, Starlette)
    served = {route.path for route in app.routes} - {"/metrics", "/openapi.json"}
    assert set(document["paths"]) == served


def test_dapr_token_goes_with_every_daprd_call() -> None:
    daprd = FakeDaprd(api_token="dapr-secret")
    settings = Service2Settings(dapr_api_token="dapr-secret")
    with TestClient(create_app(settings, daprd.transport)) as client:
        assert client.post("/state", json={"value": 1}).status_code == 200
        assert client.get("/state").json()["value"] == 1
    assert [r.headers["dapr-api-token"] for r in daprd.requests] == ["dapr-secret"] * 2


def test_received_calls_keep_only_the_newest_runs() -> None:
    calls = ReceivedCalls(max_runs=2)
    for run in ("a", "b", "c"):
        calls.add(run, 1, None)
    assert calls.of_run("a") == []
    assert [r["run"] for r in calls.of_run("b") + calls.of_run("c")] == ["b", "c"]


def test_received_calls_keep_the_first_of_a_long_run_and_count_the_rest() -> None:
    calls = ReceivedCalls(max_runs=2, max_per_run=3)
    for seq in range(5):
        calls.add("long", seq, None)
    assert [r["seq"] for r in calls.of_run("long")] == [0, 1, 2]
    assert calls.not_kept("long") == 2
    calls.add("b", 1, None)
    calls.add("c", 1, None)  # "long" is the oldest run: gone, and so is its count
    assert calls.of_run("long") == [] and calls.not_kept("long") == 0
