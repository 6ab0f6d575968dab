"""A concurrent burst over both topics: every message is accounted for."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from harness.ledger import Records, new_run_id
from harness.verdict import delivery_verdict

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PER_TOPIC = 500
CONCURRENCY = 32


async def publish_all(url: str, run: str, headers: dict[str, str]) -> list[int]:
    """Publish PER_TOPIC messages on t1 and on t2; return the failed status codes."""
    gate = asyncio.Semaphore(CONCURRENCY)
    no_delay = {"delay_seconds": 0}  # t2 otherwise waits the tutorial's 10 s per message

    async def one(client: httpx.AsyncClient, topic: str, seq: int) -> int:
        body = {"run": run, "seq": seq, "sent_at": time.time()}
        if topic == "t2":
            body["control"] = no_delay
        async with gate:
            return (await client.post(f"/publish/{topic}", json=body)).status_code

    async with httpx.AsyncClient(
        base_url=url, timeout=30, trust_env=False, headers=headers
    ) as client:
        jobs = [
            one(client, topic, seq) for seq in range(1, PER_TOPIC + 1) for topic in ("t1", "t2")
        ]
        statuses = await asyncio.gather(*jobs)
    return [status for status in statuses if status != 200]


def all_succeeded(records: Records) -> bool:
    """Every message's last answer is SUCCESS: no retry is still in flight."""
    done = [r for r in records if r["answers"] and r["answers"][-1] == "SUCCESS"]
    return len(done) >= 2 * PER_TOPIC


def test_burst_over_both_topics_is_fully_accounted_for(target, suite, scoreboard):
    run = new_run_id("burst")
    failed = asyncio.run(publish_all(target.service1_url, run, target.tokens.suite_headers()))
    assert failed == [], f"{len(failed)} publishes failed: {sorted(set(failed))}"
    records = suite.ledger.wait_for(run, all_succeeded, timeout=90)
    verdicts = [delivery_verdict(topic, range(1, PER_TOPIC + 1), records) for topic in ("t1", "t2")]
    for verdict in verdicts:
        scoreboard.verdict(f"burst {2 * PER_TOPIC} over t1+t2", verdict)
    scoreboard.delivery_times(f"burst {2 * PER_TOPIC} over t1+t2", records)
    assert all(v.ok for v in verdicts), "; ".join(str(v) for v in verdicts)
    invoked = {r["seq"] for r in suite.received_by_service2(run)}
    assert invoked == set(range(1, PER_TOPIC + 1)), f"{len(invoked)} t1 seqs reached service-2"
