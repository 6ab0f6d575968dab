"""The lean subscriber: notes what daprd delivers, answers SUCCESS, refuses callers without the
app token."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from loadtests import lean_subscriber

TOKEN = {"dapr-api-token": "app-token"}


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setattr(lean_subscriber, "APP_TOKEN", b"app-token")
    monkeypatch.setattr(lean_subscriber.Arrivals, "by_run", {})
    return TestClient(lean_subscriber.app)


def event(seq: int, run: str = "r") -> dict[str, object]:
    return {"specversion": "1.0", "data": {"run": run, "seq": seq, "sent_at": 1.0}}


def test_subscribes_to_t1_and_t2_on_messagebus(client: TestClient) -> None:
    answer = client.get("/dapr/subscribe", headers=TOKEN).json()
    assert [(s["pubsubname"], s["topic"], s["route"]) for s in answer] == [
        ("messagebus", "t1", "/t1"), ("messagebus", "t2", "/t2")
    ]  # fmt: skip


def test_a_delivery_is_recorded_and_answered_success(client: TestClient) -> None:
    for seq in (1, 2, 2):
        response = client.post("/t1", json=event(seq), headers=TOKEN)
        assert response.json() == {"status": "SUCCESS"}
    client.post("/t1", json=event(7, run="other"), headers=TOKEN)
    records = client.get("/arrivals", params={"run": "r"}).json()
    assert [(r["seq"], r["topic"]) for r in records] == [(1, "t1"), (2, "t1"), (2, "t1")]
    assert all(r["received_at"] > 0 and r["sent_at"] == 1.0 for r in records)
    assert client.get("/arrivals/count", params={"run": "r"}).json() == {"count": 3}


def test_a_caller_without_the_app_token_is_refused(client: TestClient) -> None:
    assert client.post("/t1", json=event(1)).status_code == 401
    assert client.get("/dapr/subscribe").status_code == 401
    assert client.get("/arrivals/count", params={"run": "r"}).json() == {"count": 0}


def test_other_topics_and_foreign_events_are_not_kept(client: TestClient) -> None:
    assert client.post("/t3", json=event(1), headers=TOKEN).status_code == 404
    assert client.post("/t1", content=b"not json", headers=TOKEN).json() == {"status": "SUCCESS"}
    assert client.get("/arrivals/count", params={"run": "r"}).json() == {"count": 0}
    assert client.get("/metrics").status_code == 200
