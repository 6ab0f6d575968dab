"""The ledger benchmark runs and prints its figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtests import bench_ledger


def test_ledger_bench_prints_microseconds_per_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench_ledger.main(["--records", "300", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "µs per record (mean of 300: insert + update, WAL, synchronous=NORMAL)" in out
    assert "GET /ledger folding 300 records took" in out
    mean = float(out.split("ledger: ", 1)[1].split(" µs", 1)[0])
    assert mean > 0  # the figure itself is the benchmark's to judge, not a test's
