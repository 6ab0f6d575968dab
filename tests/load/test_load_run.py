"""Short real loads against the local stack: the summary must add up with the ledger, with
locust's own statistics and with Dapr's counters; a broken threshold must fail the run."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.ports import is_port_free
from harness.settings import REPO_ROOT, StackSettings
from harness.wait import wait_until
from loadtests.messages import SEQ_STRIDE

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OWN_STACK_OFFSET = 250  # conftest's shared stack uses 200


def all_ports_free(settings: StackSettings) -> bool:
    return all(is_port_free(port, settings.host) for port in settings.ports().values())


# These tests check what a run counts, not how fast the machine is: the latency thresholds
# are out of the way unless a test gives its own (the last flag wins).
ANY_LATENCY = ("--max-p95-publish-ms", "600000", "--max-p95-e2e-ms", "600000")


def run_load(env: dict[str, str], results: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "loadtests.run",
            "--results-dir",
            str(results),
            *ANY_LATENCY,
            *flags,
        ],  # fmt: skip
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def output(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"


def ledger_records(settings: StackSettings, run: str) -> list[dict[str, Any]]:
    url = f"{settings.url(settings.service1_port)}/ledger"
    response = httpx.get(url, params={"run": run}, timeout=30)
    response.raise_for_status()
    records: list[dict[str, Any]] = response.json()["records"]
    return records


def locust_stats(results: Path) -> dict[tuple[str, str], dict[str, str]]:
    with (results / "locust_stats.csv").open() as rows:
        return {(row["Type"], row["Name"]): row for row in csv.DictReader(rows)}


def test_a_short_load_adds_up(
    stack_env: dict[str, str], stack_settings: StackSettings, tmp_path: Path
) -> None:
    done = run_load(
        stack_env, tmp_path, "--duration", "10s", "--arrival-rate", "40", "--users", "8"
    )
    assert done.returncode == 0, output(done)
    summary = json.loads((tmp_path / "summary.json").read_text())
    published = summary["published"]

    # The schedule's 400 slots at most (and one more per user, due as the stop comes);
    # fewer when a busy machine made users late: the open model counts that as publish
    # delay, and this test is not about speed.
    assert 0 < published <= 40 * 10 + 8, "40 msgs/s for 10 s, 8 users"
    assert summary["publish_failed"] == 0
    assert summary["delivered"] == published
    assert (summary["lost"], summary["duplicated"], summary["unexpected"]) == (0, 0, 0)
    assert summary["gate"]["passed"] is True

    # The ledger itself: one t1 record per published seq.
    records = ledger_records(stack_settings, summary["run"])
    assert sorted(r["seq"] for r in records if r["topic"] == "t1") == sorted(
        {r["seq"] for r in records}
    )
    assert len(records) == published

    # Dapr's own counters moved by exactly what was published.
    dapr = summary["dapr_metrics"]
    assert dapr["scraped_after_drain"] is True
    assert dapr["egress_delta"]["t1"] == summary["topics"]["t1"]["published"] == published
    assert dapr["ingress_delta"]["t1"] >= published

    # locust's CSV and HTML report carry the end-to-end entry beside the publishes.
    stats = locust_stats(tmp_path)
    assert int(stats[("POST", "/publish/t1")]["Request Count"]) == published
    assert int(stats[("E2E", "t1 delivery")]["Request Count"]) == published
    assert int(stats[("DELAY", "publish delay")]["Request Count"]) == published
    assert "t1 delivery" in (tmp_path / "report.html").read_text()
    assert (tmp_path / "chart.png").read_bytes()[:4] == b"\x89PNG"
    assert f"published {published} at" in done.stdout


def test_workers_keep_seqs_unique_and_only_the_master_polls(
    stack_env: dict[str, str], stack_settings: StackSettings, tmp_path: Path
) -> None:
    done = run_load(
        stack_env,
        tmp_path,
        "--duration",
        "8s",
        "--arrival-rate",
        "40",
        "--users",
        "8",
        "--processes",
        "2",
    )
    assert done.returncode == 0, output(done)
    summary = json.loads((tmp_path / "summary.json").read_text())
    published = summary["published"]
    assert summary["delivered"] == published
    assert summary["unexpected"] == 0

    seqs = [record["seq"] for record in ledger_records(stack_settings, summary["run"])]
    assert len(seqs) == len(set(seqs)) == published
    assert {seq // SEQ_STRIDE for seq in seqs} == {0, 1}, "both workers published"

    # Each receipt fired once: workers would double the count if they polled too.
    stats = locust_stats(tmp_path)
    assert int(stats[("E2E", "t1 delivery")]["Request Count"]) == published
    assert int(stats[("POST", "/publish/t1")]["Request Count"]) == published


def test_a_broken_threshold_fails_the_run_and_names_it(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    done = run_load(
        stack_env,
        tmp_path,
        "--duration",
        "4s",
        "--arrival-rate",
        "20",
        "--max-p95-publish-ms",
        "0.001",
    )
    assert done.returncode == 1, output(done)
    assert "threshold broken: BROKEN p95 publish latency" in done.stderr
    assert "(max 0.001 ms, --max-p95-publish-ms)" in done.stderr
    assert "threshold broken" not in done.stderr.replace(
        "threshold broken: BROKEN p95 publish latency", ""
    ), "only that threshold broke"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["gate"]["passed"] is False
    assert summary["lost"] == 0


def test_the_runner_starts_a_stack_when_none_runs_and_stops_it(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HARNESS_PORT_OFFSET": str(OWN_STACK_OFFSET),
        "HARNESS_RUN_DIR": str(tmp_path / "stack"),
    }
    settings = StackSettings.from_env(env)
    assert all_ports_free(settings), "precondition: nothing listens on the moved ports"
    done = run_load(env, tmp_path / "results", "--duration", "3s", "--arrival-rate", "20")
    assert done.returncode == 0, output(done)
    summary = json.loads((tmp_path / "results" / "summary.json").read_text())
    assert summary["published"] > 0
    assert summary["delivered"] == summary["published"]
    wait_until(lambda: all_ports_free(settings), timeout=10, what="the run's stack stopped")
