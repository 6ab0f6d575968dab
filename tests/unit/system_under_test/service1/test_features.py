"""service-1's feature topics (system_under_test/service1/features), against a fake daprd."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from system_under_test.service1.app import create_app
from tests.unit.fake_daprd import FakeDaprd
from tests.unit.system_under_test.service1.test_app import TestClient, cloud_event, make_settings

RUN = "run-features"


@pytest.fixture
def daprd() -> FakeDaprd:
    return FakeDaprd()


@pytest.fixture
def client(tmp_path: Path, daprd: FakeDaprd) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path), daprd.transport)) as test_client:
        yield test_client


def ledger(client: TestClient) -> dict[int, dict[str, Any]]:
    records = client.get("/ledger", params={"run": RUN}).json()["records"]
    return {r["seq"]: r for r in records}


def test_subscriptions_of_the_feature_topics(client: TestClient) -> None:
    features = {
        s["topic"]: s
        for s in client.get("/dapr/subscribe").json()
        if s["pubsubname"] == "featurebus"
    }
    assert set(features) == {
        "routed", "bulk", "raw", "ttl", "unsubscribed", "answers",
        "bulk-dead-letter", "answers-dead-letter",
    }  # fmt: skip
    rules = features["routed"]["routes"]["rules"]
    assert rules[0] == {
        "match": 'event.type == "order.created"',
        "path": "/features/routed/created",
    }
    assert features["routed"]["routes"]["default"] == "/features/routed/other"
    assert features["bulk"]["bulkSubscribe"]["enabled"] is True
    assert features["bulk"]["deadLetterTopic"] == "bulk-dead-letter"
    assert features["ttl"]["bulkSubscribe"]["maxAwaitDurationMs"] == 3000
    assert features["raw"]["metadata"] == {"rawPayload": "true"}


def test_publish_passes_type_raw_and_ttl_as_metadata(client: TestClient, daprd: FakeDaprd) -> None:
    params = {"type": "order.created", "raw": "true", "ttl": "5"}
    response = client.post("/features/publish/routed", params=params, json={"run": RUN, "seq": 1})
    assert response.status_code == 200, response.text
    sent = daprd.requests[-1]
    assert sent.url.path == "/v1.0/publish/featurebus/routed"
    assert dict(sent.url.params) == {
        "metadata.cloudevent.type": "order.created",
        "metadata.rawPayload": "true",
        "metadata.ttlInSeconds": "5",
    }
    assert json.loads(sent.content) == {"messageType": "routed", "message": {"run": RUN, "seq": 1}}


@pytest.mark.parametrize("ttl", ["0", "-1", "soon"])
def test_a_bad_ttl_is_refused(client: TestClient, ttl: str) -> None:
    response = client.post("/features/publish/ttl", params={"ttl": ttl}, json={"seq": 1})
    assert response.status_code == 400
    assert "ttl" in response.json()["error"]


def test_a_refused_publish_shows_daprds_status(client: TestClient, daprd: FakeDaprd) -> None:
    daprd.fail("publish", 403, "ERR_PUBSUB_FORBIDDEN", "topic forbidden is not allowed")
    response = client.post("/features/publish/forbidden", json={"seq": 1})
    assert response.status_code == 403  # the caller's doing: passed on as a 4xx
    assert (response.json()["daprd_status"], response.json()["errorCode"]) == (
        403,
        "ERR_PUBSUB_FORBIDDEN",
    )


def test_a_daprd_failure_that_is_not_the_callers_is_a_502(client: TestClient, daprd) -> None:
    daprd.fail("publish", 500, "ERR_PUBSUB_PUBLISH_MESSAGE", "broker down")
    response = client.post("/features/publish/routed", json={"seq": 1})
    assert response.status_code == 502
    assert response.json()["daprd_status"] == 500


def test_a_topic_that_is_not_a_plain_name_never_reaches_daprd(client: TestClient, daprd) -> None:
    response = client.post("/features/publish/a%2F..%2Fb", json={"seq": 1})
    assert response.status_code in (400, 404), response.text
    assert daprd.requests == []


def test_bulk_publish_sends_one_entry_per_message(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def bulk_daprd(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"failedEntries": [{"entryId": "1", "error": "no"}]})

    app = create_app(make_settings(tmp_path), httpx.MockTransport(bulk_daprd))
    with TestClient(app) as client:
        body = {"messages": [{"seq": 1}, {"seq": 2}]}
        response = client.post("/features/publish-bulk/bulk", json=body)
    assert response.json()["failedEntries"] == [{"entryId": "1", "error": "no"}]
    assert seen[0].url.path == "/v1.0/publish/bulk/featurebus/bulk"
    entries = json.loads(seen[0].content)
    assert [e["entryId"] for e in entries] == ["0", "1"]
    assert entries[1]["event"] == {"messageType": "bulk", "message": {"seq": 2}}


def bulk_entry(seq: int, **fields: Any) -> dict[str, Any]:
    event = cloud_event({"run": RUN, "seq": seq, **fields}, topic="bulk")
    return {"entryId": f"e{seq}", "event": event, "contentType": "application/cloudevents+json"}


def test_each_bulk_entry_gets_its_own_status(client: TestClient) -> None:
    entries = [bulk_entry(1), bulk_entry(2, control={"answer": "DROP"}), bulk_entry(3)]
    response = client.post("/features/bulk", json={"entries": entries, "topic": "bulk"})
    assert response.json() == {
        "statuses": [
            {"entryId": "e1", "status": "SUCCESS"},
            {"entryId": "e2", "status": "DROP"},
            {"entryId": "e3", "status": "SUCCESS"},
        ]
    }
    records = ledger(client)
    assert {seq: r["answers"] for seq, r in records.items()} == {
        1: ["SUCCESS"],
        2: ["DROP"],
        3: ["SUCCESS"],
    }
    assert {r["topic"] for r in records.values()} == {"bulk"}


def test_a_bulk_delivery_without_entries_is_refused(client: TestClient) -> None:
    assert client.post("/features/bulk", json={"items": []}).status_code == 400


def raw_wrapper(payload: bytes) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "datacontenttype": "application/octet-stream",
        "data_base64": base64.b64encode(payload).decode(),
        "topic": "raw",
        "pubsubname": "featurebus",
    }


def test_a_raw_payload_is_recorded_as_raw(client: TestClient) -> None:
    payload = json.dumps({"messageType": "raw", "message": {"run": RUN, "seq": 1}}).encode()
    response = client.post("/features/raw", json=raw_wrapper(payload))
    assert response.json() == {"status": "SUCCESS"}
    assert ledger(client)[1]["envelope"]["payload"] == "raw"


def test_a_cloudevent_where_a_raw_payload_belongs_is_dropped(client: TestClient) -> None:
    payload = json.dumps(cloud_event({"run": RUN, "seq": 2}, topic="raw")).encode()
    response = client.post("/features/raw", json=raw_wrapper(payload))
    assert response.json() == {"status": "DROP"}
    assert ledger(client)[2]["envelope"]["payload"] == "cloudevent"


@pytest.mark.parametrize(
    ("reply", "body", "word"),
    [
        ("empty-json", b"{}", "EMPTY-JSON"),
        ("unknown-status", b'{"status":"MAYBE"}', "UNKNOWN-STATUS"),
        ("not-json", b"thanks", "NOT-JSON"),
        (None, b'{"status":"SUCCESS"}', "SUCCESS"),
    ],
)
def test_odd_answers(client: TestClient, reply: str | None, body: bytes, word: str) -> None:
    control = {"control": {"reply": reply}} if reply else {}
    event = cloud_event({"run": RUN, "seq": 1, **control}, topic="answers")
    response = client.post("/features/answers", json=event)
    assert response.status_code == 200
    assert response.content == body
    assert ledger(client)[1]["answers"] == [word]


def test_routes_record_the_route_that_received(client: TestClient) -> None:
    event = cloud_event({"run": RUN, "seq": 1}, topic="routed")
    client.post("/features/routed/cancelled", json=event)
    assert ledger(client)[1]["route"] == "/features/routed/cancelled"


def test_no_stream_without_a_grpc_port(client: TestClient) -> None:
    assert client.get("/features/streaming").json() == {
        "topic": "streamed",
        "open": False,
        "received": 0,
    }
