"""Run ids and the ledger client, against a scripted service-1 instead of a real one."""

from __future__ import annotations

import re

import httpx
import pytest

from harness import ledger as ledger_module
from harness.ledger import (
    ArrivalCursor,
    ArrivalPage,
    LedgerClient,
    arrivals_until_settled,
    new_run_id,
)


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


class PagedLedger:
    """A service-1 whose ledger holds attempts 1..`held` of run r; it pages as the real one."""

    def __init__(self, held: int, fail_on_call: int = 0) -> None:
        self.held = held
        self.calls = 0
        self.fail_on_call = fail_on_call

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.calls == self.fail_on_call:
            return httpx.Response(503, json={"error": "busy"})
        after, limit = int(request.url.params["after"]), int(request.url.params["limit"])
        attempts = list(range(after + 1, min(self.held, after + limit) + 1))
        arrivals = [{"attempt": n, "seq": n, "topic": "t1"} for n in attempts]
        page = {"run": "r", "arrivals": arrivals, "next": attempts[-1] if attempts else after}
        return httpx.Response(200, json={**page, "more": after + limit < self.held})

    def client(self) -> LedgerClient:
        client = LedgerClient("http://127.0.0.1:1", sleep=lambda _: None)
        transport = httpx.MockTransport(self.answer)
        client.http = httpx.Client(base_url="http://127.0.0.1:1", transport=transport)
        return client


def test_a_cursor_reads_every_page_then_only_what_is_new():
    ledger = PagedLedger(held=25)
    cursor = ArrivalCursor(ledger.client(), "r", page_size=10)
    assert [a["attempt"] for a in cursor.new()] == list(range(1, 26))
    assert ledger.calls == 3  # 10 + 10 + 5: the last page says there is no more
    assert cursor.new() == []
    ledger.held = 27
    assert [a["attempt"] for a in cursor.new()] == [26, 27]


def test_a_failed_read_leaves_the_cursor_where_it_was():
    ledger = PagedLedger(held=25, fail_on_call=2)
    cursor = ArrivalCursor(ledger.client(), "r", page_size=10)
    with pytest.raises(httpx.HTTPStatusError):
        cursor.new()  # the first page came, the second failed: nothing handed out
    assert cursor.after == 0
    assert [a["attempt"] for a in cursor.new()] == list(range(1, 26))


class _TrickleLedger:
    """Hands out one more attempt of the run per read, then nothing."""

    def __init__(self, url: str, attempts: list[int]) -> None:
        self.attempts = attempts
        self.closed = False

    def arrivals(self, run: str, after: int, limit: int) -> ArrivalPage:
        if after >= len(self.attempts):
            return ArrivalPage([], after, False)
        return ArrivalPage([{"seq": self.attempts[after]}], after + 1, False)

    def close(self) -> None:
        self.closed = True


def test_arrivals_until_settled_waits_for_every_message_then_quiet(monkeypatch) -> None:
    made: list[_TrickleLedger] = []

    def fake(url: str) -> _TrickleLedger:
        made.append(_TrickleLedger(url, [1, 2, 2, 3]))
        return made[-1]

    monkeypatch.setattr(ledger_module, "LedgerClient", fake)
    found = arrivals_until_settled("http://x", "r", 3, quiet=0.05, timeout=5, interval=0.01)
    assert [seq for seq, _ in found] == [1, 2, 2, 3]
    assert made[0].closed


def test_arrivals_until_settled_returns_what_came_by_the_timeout(monkeypatch) -> None:
    monkeypatch.setattr(ledger_module, "LedgerClient", lambda url: _TrickleLedger(url, [1]))
    found = arrivals_until_settled("http://x", "r", 2, quiet=0.01, timeout=0.2, interval=0.01)
    assert [seq for seq, _ in found] == [1]
