"""The generator benchmark: its figures per core, its reading of wrk, its Lua script."""

from __future__ import annotations

import pytest

from loadtests import bench_generator
from loadtests.bench_generator import (
    Sample,
    Stretch,
    build_bench_parser,
    overall_per_core,
    parse_wrk,
    wrk_script,
)

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:6060
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    52.10ms   30.00ms 210.00ms   70.00%
    Req/Sec   190.00     20.00   230.00     70.00%
  Latency Distribution
     50%   47.02ms
     75%   60.00ms
     90%   90.00ms
     99%  210.92ms
  1905 requests in 10.01s, 500.00KB read
  Non-2xx or 3xx responses: 5
Requests/sec:    190.31
Transfer/sec:     49.95KB
"""


def test_wrk_output_is_read() -> None:
    achieved = parse_wrk(WRK_OUTPUT)
    assert achieved.ok_requests == 1900
    assert achieved.seconds == pytest.approx(10.01)
    assert achieved.rate == pytest.approx(1900 / 10.01)
    assert "p50 47.020 ms" in achieved.detail and "non-2xx 5" in achieved.detail


def test_the_wrk_script_posts_t1_messages() -> None:
    script = wrk_script("bench-wrk-1", 256)
    assert 'wrk.format(nil, "/publish/t1", nil, body)' in script
    assert '"run":"bench-wrk-1"' in script
    # the suite token is read from the environment, never written into the script
    assert 'os.getenv("SUITE_API_TOKEN")' in script
    assert 'wrk.headers["suite-api-token"] = token' in script


def test_the_benchmark_refuses_an_unbounded_run_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_bench_parser().parse_args(["--seconds", "3600"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == "error: argument --seconds: 3600 is not in 5..60\n"


def test_without_wrk_nothing_runs(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(bench_generator.shutil, "which", lambda name: None)
    monkeypatch.setattr(bench_generator, "served", lambda *a, **k: pytest.fail("a phase started"))
    assert bench_generator.main(["--seconds", "5"]) == 1
    assert capsys.readouterr().err == "error: wrk is not installed (Debian package `wrk`)\n"


def test_an_offset_that_moves_the_endpoint_out_of_range_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setattr(bench_generator.shutil, "which", lambda name: "/usr/bin/wrk")
    monkeypatch.setenv("HARNESS_PORT_OFFSET", "70000")
    monkeypatch.setattr(bench_generator, "served", lambda *a, **k: pytest.fail("a phase started"))
    assert bench_generator.main(["--seconds", "5"]) == 1
    assert capsys.readouterr().err.startswith(f"error: port {bench_generator.PORT + 70000} for ")


def test_a_stretch_charges_the_requests_to_the_generator_cpu() -> None:
    first = Sample(at=10.0, requests=1000, generator_cpu=2.0, endpoint_cpu=5.0)
    last = Sample(at=17.0, requests=15_000, generator_cpu=5.5, endpoint_cpu=11.0)
    stretch = Stretch.between("locust", first, last)
    assert (stretch.requests, stretch.seconds) == (14_000, 7.0)
    assert stretch.rate == pytest.approx(2000.0)
    assert stretch.per_core == pytest.approx(4000.0)  # 14,000 requests on 3.5 CPU-seconds
    assert stretch.endpoint_cpu_seconds == pytest.approx(6.0)


def test_rounds_add_up_requests_and_cpu_per_generator() -> None:
    stretches = [
        Stretch("wrk", 40_000, 7.0, 1.0, 6.0),
        Stretch("locust", 10_000, 7.0, 2.0, 3.0),
        Stretch("locust", 20_000, 7.0, 3.0, 5.0),
    ]
    assert overall_per_core(stretches, "locust") == pytest.approx(6000.0)
    assert overall_per_core(stretches, "wrk") == pytest.approx(40_000.0)
