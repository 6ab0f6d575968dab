"""Run ids and the ledger client, against a scripted service-1 instead of a real one."""

from __future__ import annotations

import re

import httpx

from harness.ledger import LedgerClient, new_run_id


def test_run_ids_are_readable_and_unique():
    ids = {new_run_id("load") for _ in range(1000)}
    assert len(ids) == 1000
    for run in ids:
        assert re.fullmatch(r"load-\d{8}-\d{6}-[0-9a-f]{8}", run), run
    assert new_run_id().startswith("run-")


def scripted(answers: list[int]) -> tuple[LedgerClient, list[str]]:
    """A client whose service-1 knows 0, 1, 2, ... records as it is asked again and again."""
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.url.path}?{request.url.query.decode()}")
        count = answers.pop(0) if len(answers) > 1 else answers[0]
        if request.url.path == "/ledger/summary":
            return httpx.Response(200, json={"run": "r", "deliveries": count, "topics": {}})
        records = [{"run": "r", "seq": seq, "topic": "t1"} for seq in range(count)]
        return httpx.Response(200, json={"run": "r", "records": records})

    client = LedgerClient("http://127.0.0.1:1", sleep=lambda _: None)
    client.http = httpx.Client(base_url="http://127.0.0.1:1", transport=httpx.MockTransport(answer))
    return client, asked


def test_records_of_one_run():
    client, asked = scripted([2])
    assert [r["seq"] for r in client.records("r")] == [0, 1]
    assert asked == ["/ledger?run=r"]


def test_wait_for_returns_once_done():
    client, _ = scripted([0, 1, 3, 5])
    assert len(client.wait_for("r", lambda records: len(records) >= 3, timeout=5)) == 3


def test_wait_for_returns_what_is_there_on_timeout():
    client, _ = scripted([1])
    assert len(client.wait_for("r", lambda records: len(records) >= 3, timeout=0.05)) == 1


def test_wait_for_deliveries_counts_through_the_summary():
    client, asked = scripted([0, 4, 10])
    assert client.wait_for_deliveries("r", 10, timeout=5) == 10
    assert set(asked) == {"/ledger/summary?run=r"}
    client, _ = scripted([4])
    assert client.wait_for_deliveries("r", 10, timeout=0.05) == 4
