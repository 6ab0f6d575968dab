"""Publish admission: service-1 refuses publishes while its backlog is full, and only then."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from system_under_test.service1.admission import QUIET_RESET_SECONDS, Backlog
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


def test_the_backlog_fills_with_publishes_and_empties_with_arrivals() -> None:
    backlog = Backlog(2, Clock())
    backlog.publishing()
    assert backlog.full() is None
    backlog.publishing()
    assert backlog.full() == 2
    backlog.arrived()
    assert backlog.full() is None
    backlog.publishing()
    backlog.not_published()  # daprd refused it: it will not arrive
    assert backlog.full() is None


def test_unannounced_arrivals_never_make_room_in_advance() -> None:
    backlog = Backlog(2, Clock())
    for _ in range(5):  # redeliveries, or messages published around service-1
        backlog.arrived()
    backlog.publishing()
    backlog.publishing()
    assert backlog.full() == 2


def test_a_count_nothing_reduces_for_a_while_starts_again() -> None:
    clock = Clock()
    backlog = Backlog(2, clock)
    clock.now += 3 * QUIET_RESET_SECONDS  # an idle stack: its first publishes start the clock
    backlog.publishing()
    backlog.publishing()
    assert backlog.full() == 2
    clock.now += QUIET_RESET_SECONDS + 0.1  # lost: nothing arrives any more
    assert backlog.full() is None


def test_off_never_refuses() -> None:
    backlog = Backlog(0, Clock())
    for _ in range(100):
        backlog.publishing()
    assert backlog.full() is None


def test_service1_answers_503_with_retry_after_while_its_backlog_is_full(tmp_path: Path) -> None:
    daprd = FakeDaprd()
    daprd.apps["service-2"] = fake_service2
    settings = make_settings(tmp_path, publish_max_backlog=2)
    with TestClient(create_app(settings, daprd.transport)) as client:
        run = f"run-{uuid.uuid4().hex[:8]}"
        for seq in (1, 2):
            assert client.post("/publish/t1", json={"run": run, "seq": seq}).status_code == 200
        refused = client.post("/publish/t1", json={"run": run, "seq": 3})
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert refused.json() == {"error": "publishing paused: 2 published messages have not "
                                           "arrived yet (PUBLISH_MAX_BACKLOG=2)"}  # fmt: skip
        assert len(daprd.published) == 2  # the refused one never reached daprd
        arrival = cloud_event({"run": run, "seq": 1})
        client.post("/t1", content=json.dumps(arrival).encode(), headers=CLOUDEVENT)
        assert client.post("/publish/t1", json={"run": run, "seq": 3}).status_code == 200
        metrics = client.get("/metrics").text
        assert 'service1_publishes_total{outcome="refused",topic="t1"} 1.0' in metrics


def test_an_arrival_on_another_topic_makes_no_room(tmp_path: Path) -> None:
    daprd = FakeDaprd()
    settings = make_settings(tmp_path, publish_max_backlog=1)
    with TestClient(create_app(settings, daprd.transport)) as client:
        assert client.post("/publish/t1", json={"run": "r", "seq": 1}).status_code == 200
        dead = cloud_event({"run": "r", "seq": 1}, topic="t1")
        client.post("/dead-letter/t1", content=json.dumps(dead).encode(), headers=CLOUDEVENT)
        assert client.post("/publish/t1", json={"run": "r", "seq": 2}).status_code == 503


def test_a_publish_daprd_refused_leaves_no_place_taken(tmp_path: Path) -> None:
    daprd = FakeDaprd()
    daprd.fail("publish", 500, "ERR_PUBSUB_PUBLISH_MESSAGE", "the broker is down")
    settings = make_settings(tmp_path, publish_max_backlog=1)
    with TestClient(create_app(settings, daprd.transport)) as client:
        for seq in (1, 2):
            assert client.post("/publish/t1", json={"run": "r", "seq": seq}).status_code == 502
