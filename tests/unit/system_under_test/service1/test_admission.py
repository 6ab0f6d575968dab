"""Publish admission: service-1 refuses publishes while its deliveries lag, and only then."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from system_under_test.service1.admission import LAG_FRESH_SECONDS, DeliveryLag
from system_under_test.service1.app import create_app
from tests.unit.fake_daprd import FakeDaprd
from tests.unit.system_under_test.service1.test_app import (
    CLOUDEVENT,
    TestClient,
    cloud_event,
    fake_service2,
    make_settings,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_fresh_lag_over_the_limit_refuses_and_catching_up_admits_again() -> None:
    clock = Clock()
    lag = DeliveryLag(2.0, clock)
    assert lag.behind() is None  # nothing arrived yet
    lag.arrived(sent_at=990.0, received_at=1000.0)
    assert lag.behind() == 10.0
    lag.arrived(sent_at=999.5, received_at=1000.0)
    assert lag.behind() is None  # caught up


def test_a_lag_goes_stale_when_deliveries_stop() -> None:
    clock = Clock()
    lag = DeliveryLag(2.0, clock)
    lag.arrived(sent_at=990.0, received_at=1000.0)
    clock.now += LAG_FRESH_SECONDS + 0.1
    assert lag.behind() is None


def test_off_and_unknown_send_times_never_refuse() -> None:
    clock = Clock()
    off = DeliveryLag(0.0, clock)
    off.arrived(sent_at=900.0, received_at=1000.0)
    assert off.behind() is None
    on = DeliveryLag(2.0, clock)
    on.arrived(sent_at=None, received_at=1000.0)
    assert on.behind() is None


def test_service1_answers_503_with_retry_after_while_t1_deliveries_lag(tmp_path: Path) -> None:
    daprd = FakeDaprd()
    daprd.apps["service-2"] = fake_service2
    settings = make_settings(tmp_path, publish_max_lag_seconds=2.0)
    with TestClient(create_app(settings, daprd.transport)) as client:
        run = f"run-{uuid.uuid4().hex[:8]}"
        assert client.post("/publish/t1", json={"run": run, "seq": 1}).status_code == 200
        late = cloud_event({"run": run, "seq": 1, "sent_at": time.time() - 30})
        client.post("/t1", content=json.dumps(late).encode(), headers=CLOUDEVENT)
        refused = client.post("/publish/t1", json={"run": run, "seq": 2})
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert "publishing paused: deliveries arrive 30" in refused.json()["error"]
        assert len(daprd.published) == 1  # the refused one never reached daprd
        fresh = cloud_event({"run": run, "seq": 1, "sent_at": time.time()})
        client.post("/t1", content=json.dumps(fresh).encode(), headers=CLOUDEVENT)
        assert client.post("/publish/t1", json={"run": run, "seq": 3}).status_code == 200
        metrics = client.get("/metrics").text
        assert 'service1_publishes_total{outcome="refused",topic="t1"} 1.0' in metrics


def test_a_lagging_delivery_on_another_topic_does_not_pause_publishing(tmp_path: Path) -> None:
    daprd = FakeDaprd()
    settings = make_settings(tmp_path, publish_max_lag_seconds=2.0)
    with TestClient(create_app(settings, daprd.transport)) as client:
        late = cloud_event({"run": "r", "seq": 1, "sent_at": time.time() - 30}, topic="t1")
        client.post("/dead-letter/t1", content=json.dumps(late).encode(), headers=CLOUDEVENT)
        assert client.post("/publish/t1", json={"run": "r", "seq": 2}).status_code == 200
