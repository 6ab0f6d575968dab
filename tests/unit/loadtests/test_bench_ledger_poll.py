"""The ledger poll benchmark's parts against service-1 in a test client: figures, accounting."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from harness.ledger import LedgerClient
from loadtests import bench_ledger_poll
from system_under_test.service1.app import create_app
from system_under_test.service1.ledger import Ledger
from system_under_test.service1.settings import Service1Settings

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient


@pytest.fixture
def service1(tmp_path: Path):
    settings = Service1Settings(ledger_path=tmp_path / "ledger.sqlite3")
    with TestClient(create_app(settings)) as client:
        yield settings.ledger_path, client


def test_each_size_prints_the_full_read_and_both_cursor_polls(service1, capsys) -> None:
    path, client = service1
    ledger = Ledger.open(path)
    try:
        bench_ledger_poll.measure_sizes(ledger, client, new=10, sizes=(20, 50))
    finally:
        ledger.close()
    lines = capsys.readouterr().out.splitlines()
    assert "cursor poll, 10 new" in lines[0]
    assert [line.split()[0] for line in lines[1:]] == ["20", "50"]
    assert all(line.count(" ms ") == 3 for line in lines[1:])


def test_a_run_written_while_polled_is_accounted_exactly(service1, capsys) -> None:
    path, client = service1
    ledger_client = LedgerClient("http://testserver")
    ledger_client.http = client
    assert bench_ledger_poll.account_while_written(path, ledger_client, 3000)
    out = capsys.readouterr().out
    assert "attempts read 3,000, distinct 3,000; delivered 3,000, lost 0, duplicated 0" in out
    assert out.rstrip().endswith(": exact")
