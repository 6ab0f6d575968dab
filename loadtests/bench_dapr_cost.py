"""What does Dapr cost? The same messages through Redis Streams directly and through Dapr.

Direct: XADD to a stream of its own and XREADGROUP/XACK from a group of its own on the local
stack's redis (so Dapr's streams and groups are untouched); receipt is when the consumer reads
the entry. Dapr: service-1's publish API -> daprd -> Redis -> daprd -> service-1, where receipt
is the ledger's first_received_at (on arrival, before t1's handler calls service-2). Both paths
send the same number of equally sized messages from the same number of concurrent publishers,
one after the other in the same run, and report rates and end-to-end latency percentiles.

    python -m loadtests.bench_dapr_cost --messages 2000 --concurrency 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
import redis
import redis.asyncio as aioredis

from harness.arguments import OPTION_ERROR_EXIT, bounded_int, one_line_parser
from harness.errors import HarnessError
from harness.ledger import LedgerClient, new_run_id
from harness.loopback import require_loopback
from harness.settings import StackSettings
from harness.targets import Target
from loadtests.latency import Schedule, e2e_ms, summarize
from loadtests.messages import encode, message_body
from loadtests.target_session import loopback_target

JSON = {"Content-Type": "application/json"}
DELIVERY_TIMEOUT = 180.0
# flag: (lowest, highest, default); --rate has its own help below
FLAGS = {"--messages": (100, 50_000, 2000), "--concurrency": (1, 100, 10),
         "--message-bytes": (64, 60_000, 256)}  # fmt: skip

Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class PathResult:
    """One path's timings: publish window, and per seq its send and receipt times."""

    name: str
    published: int = 0
    first_sent: float = 0.0
    last_published: float = 0.0
    receipts: dict[int, tuple[float, float]] = field(default_factory=dict)  # seq -> sent, got

    @property
    def publish_rate(self) -> float:
        return self.published / max(self.last_published - self.first_sent, 1e-9)

    @property
    def delivery_rate(self) -> float:
        last = max((got for _, got in self.receipts.values()), default=self.first_sent)
        return len(self.receipts) / max(last - self.first_sent, 1e-9)

    def latency(self) -> dict[str, float | int | None]:
        return summarize(e2e_ms(sent, got) for sent, got in self.receipts.values())


async def publish_all(
    result: PathResult, send: Send, run: str, count: int, size: int, concurrency: int, rate: float
) -> None:
    """`count` messages from `concurrency` publishers, as fast as they go or at `rate` per
    second; sent_at is taken just before each send."""
    seqs = iter(range(count))
    result.first_sent = time.time()
    schedule = Schedule(result.first_sent, rate) if rate > 0 else None

    async def publisher() -> None:
        for seq in seqs:  # a shared iterator: each seq goes to exactly one publisher
            if schedule is not None:
                await asyncio.sleep(max(0.0, schedule.take() - time.time()))
            await send(message_body(run, seq, time.time(), size))

    await asyncio.gather(*(publisher() for _ in range(concurrency)))
    result.last_published = time.time()
    result.published = count


# -- Redis Streams directly -------------------------------------------------------------------


async def redis_direct(port: int, args: argparse.Namespace) -> PathResult:
    result = PathResult("redis streams direct")
    stream, group = f"bench-direct-{uuid.uuid4().hex[:8]}", "bench-direct"
    client = aioredis.Redis(host="127.0.0.1", port=port)
    try:
        await client.xgroup_create(stream, group, id="0", mkstream=True)
        consumer = asyncio.create_task(consume(client, stream, group, args.messages, result))

        async def send(body: dict[str, Any]) -> None:
            await client.xadd(stream, {"data": encode(body)})

        await publish_all(result, send, "bench-direct", *publishing(args))
        await asyncio.wait_for(consumer, DELIVERY_TIMEOUT)
    finally:
        await client.delete(stream)
        await client.aclose()
    return result


# XREADGROUP's answer without decode_responses: [[stream, [(entry id, {field: value})]]].
StreamEntries = list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]]


async def consume(
    client: aioredis.Redis, stream: str, group: str, count: int, result: PathResult
) -> None:
    while len(result.receipts) < count:
        answer = await client.xreadgroup(group, "reader", {stream: ">"}, count=100, block=1000)
        for _, entries in cast(StreamEntries | None, answer) or []:
            got = time.time()
            for _, fields in entries:
                body = json.loads(fields[b"data"])
                result.receipts[body["seq"]] = (body["sent_at"], got)
            await client.xack(stream, group, *(entry_id for entry_id, _ in entries))


# -- through Dapr -----------------------------------------------------------------------------


async def through_dapr(
    service1_url: str, args: argparse.Namespace, headers: dict[str, str]
) -> PathResult:
    result = PathResult("dapr via service-1")
    run = new_run_id("bench-dapr")
    async with httpx.AsyncClient(
        base_url=service1_url, timeout=30.0, trust_env=False, headers=headers
    ) as http:

        async def send(body: dict[str, Any]) -> None:
            response = await http.post("/publish/t1", content=encode(body), headers=JSON)
            if response.status_code != 200:
                raise HarnessError(f"publish failed: {response.status_code} {response.text}")

        await publish_all(result, send, run, *publishing(args))
    records = await asyncio.to_thread(delivered_records, service1_url, run, args.messages)
    for record in records:
        if record["topic"] == "t1" and record["seq"] not in result.receipts:
            result.receipts[record["seq"]] = (record["sent_at"], record["first_received_at"])
    return result


def delivered_records(service1_url: str, run: str, count: int) -> list[dict[str, Any]]:
    """Wait until the ledger counts `count` deliveries of the run, then read them."""
    with closing(LedgerClient(service1_url)) as ledger:
        ledger.wait_for_deliveries(run, count, DELIVERY_TIMEOUT)
        return ledger.records(run)


# -- main -------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = one_line_parser("python -m loadtests.bench_dapr_cost", __doc__, FLAGS)
    parser.add_argument(
        "--rate",
        type=bounded_int(0, 5000),
        default=0,
        help="messages per second (0: as fast as the publishers go, a throughput test; "
        "a rate the stack sustains shows latency without queueing)",
    )
    return parser


def publishing(args: argparse.Namespace) -> tuple[int, int, int, float]:
    return args.messages, args.message_bytes, args.concurrency, float(args.rate)


async def both_paths(
    target: Target, redis_port: int, args: argparse.Namespace
) -> tuple[PathResult, PathResult]:
    headers = target.tokens.suite_headers()
    return await redis_direct(redis_port, args), await through_dapr(
        target.service1_url, args, headers
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = StackSettings.from_env()
        require_loopback(settings.url(settings.redis_port), "redis")
        target = loopback_target()
        if target.name != "local":  # the direct path needs the local stack's own redis
            raise HarnessError("the Dapr cost benchmark runs on the local stack only")
    except HarnessError as err:  # SettingsError is one
        print(f"error: {err}", file=sys.stderr)
        return OPTION_ERROR_EXIT
    try:
        with target:
            direct, dapr = asyncio.run(both_paths(target, settings.redis_port, args))
    except HarnessError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except (redis.RedisError, TimeoutError) as err:
        print(f"error: the direct Redis path failed: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print_result(direct, dapr, args)
    return 0 if len(dapr.receipts) == len(direct.receipts) == args.messages else 1


def print_result(direct: PathResult, dapr: PathResult, args: argparse.Namespace) -> None:
    print(
        f"dapr cost benchmark: {args.messages} messages of {args.message_bytes} bytes to one "
        f"topic, {args.concurrency} concurrent publishers, "
        f"{f'{args.rate} msgs/s' if args.rate else 'as fast as they go'}"
    )
    print(f"  {'path':22} {'delivered':>9} {'publish/s':>10} {'deliver/s':>10}   e2e ms")
    for path in (direct, dapr):
        latency = path.latency()
        shown = ", ".join(f"{k} {latency[k]}" for k in ("p50", "p95", "p99", "p99.9"))
        print(
            f"  {path.name:22} {len(path.receipts):9d} {path.publish_rate:10.1f} "
            f"{path.delivery_rate:10.1f}   {shown}"
        )
    direct_p50, dapr_p50 = direct.latency()["p50"], dapr.latency()["p50"]
    print(
        f"  dapr / direct: delivery rate {dapr.delivery_rate / direct.delivery_rate:.3f}, "
        f"publish rate {dapr.publish_rate / direct.publish_rate:.3f}, "
        f"e2e p50 {(dapr_p50 or 0) / (direct_p50 or 1):.1f}x"
    )


if __name__ == "__main__":
    sys.exit(main())
