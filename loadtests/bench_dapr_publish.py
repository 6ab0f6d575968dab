"""Dapr's own benchmark method: publish straight to daprd at a fixed rate, against a no-op baseline.

Dapr's perf tests (dapr/dapr tests/perf/pubsub_publish_grpc) call the publish API at a fixed
1,000 calls per second, call a no-op endpoint the same way, and report Dapr's added latency
(Dapr minus baseline) at each percentile. This benchmark does the same on the local stack, for
the same messages, one mode after the other:

- `baseline`: the no-op endpoint (loadtests/noop_endpoint.py, uvicorn in its own process);
- `publish`: daprd's HTTP publish API, `POST /v1.0/publish/messagebus/t1`, one message a call;
- `bulk`: daprd's bulk publish API, `POST /v1.0/publish/bulk/messagebus/t1`, --bulk-size
  messages a call (the same messages per second, fewer calls);
- `grpc-baseline`: a no-op gRPC method (loadtests/noop_grpc.py, in its own process);
- `grpc`: daprd's gRPC API, `PublishEvent`, one message a call, on one channel (HTTP/2 carries
  --connections calls at once on it, as a gRPC client does).

Service-1's app is a lean subscriber (loadtests/lean_subscriber.py) that only notes each
arrival, so the figures are daprd's and Redis's, not our service's. The calls come from an
open-loop generator (loadtests/open_loop.py): latency is measured from the intended send time.
Its client is aiohttp: httpx spent 2.4 ms of CPU per call on this machine, aiohttp 0.15 ms, and
at 1,000 calls/s on a shared core httpx alone could not keep the rate (330/s at most).
It reports the publish latency (p50/p90/p99/p99.9), Dapr's added latency, publish and consume
rates, end-to-end latency and the delivery verdict (harness/verdict.py) from the subscriber's
records, with Dapr's published v1.18 figures beside ours. Exit code 1 when a message was lost.

    python -m loadtests.bench_dapr_publish --rate 1000 --seconds 10 [--modes publish,grpc,...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import httpx
from dapr.proto import api_service_v1, api_v1

from harness.arguments import bounded_int, command_failed, one_line_parser
from harness.errors import HarnessError
from harness.ledger import new_run_id
from harness.local_stack import LocalStack
from harness.settings import StackSettings
from harness.verdict import Attempt, Outcome, QueueVerdict, total_queue
from harness.wait import poll
from loadtests.latency import e2e_ms, percentile
from loadtests.messages import encode, message_body
from loadtests.noop_grpc import METHOD as NOOP_METHOD
from loadtests.noop_grpc import serving as serving_noop_grpc
from loadtests.open_loop import Call, run_open_loop
from loadtests.served_app import pinned_port, served

LEAN_SUBSCRIBER = "loadtests.lean_subscriber:app"
NOOP_PORT = 6069  # loadtests/noop_endpoint.py; HARNESS_PORT_OFFSET moves it
NOOP_GRPC_PORT = 6068  # loadtests/noop_grpc.py
PUBSUB, TOPIC = "messagebus", "t1"
MODES = ("baseline", "publish", "bulk", "grpc-baseline", "grpc")
BASELINE_OF = {"publish": "baseline", "bulk": "baseline", "grpc": "grpc-baseline"}
PERCENTILES = (50.0, 90.0, 99.0, 99.9)
MAX_MESSAGES = 100_000
CALL_TIMEOUT = 10.0
GOAL_RATE, GOAL_SHARE = 1000, 0.99
JSON = {"Content-Type": "application/json"}
# flag: (lowest, highest, default)
FLAGS = {
    "--seconds": (1, 120, 10),
    "--messages": (1, MAX_MESSAGES, MAX_MESSAGES),  # a mode ends at --seconds or here
    "--connections": (1, 100, 16),  # Dapr's perf tests use 16
    "--bulk-size": (2, 100, 10),
    "--message-bytes": (64, 60_000, 256),
    "--drain-seconds": (1, 300, 30),
    "--warm-up-seconds": (0, 10, 2),  # per mode, unmeasured
}
# Dapr v1.18 performance report, as issue 12 quotes it (ms)
DAPR_V118 = (
    "HTTP publish: p50 0.38, p90 0.48",
    "gRPC publish: p50 0.57, p99 1.54; added p90 0.29 (Dapr minus no-op baseline)",
)


@dataclass
class ModeResult:
    """One mode's calls and, through daprd, what the subscriber got."""

    mode: str
    batch: int
    calls: list[Call]
    run: str = ""
    records: list[dict[str, Any]] = field(default_factory=list)
    verdict: QueueVerdict | None = None

    @property
    def acknowledged(self) -> int:
        return sum(self.batch for call in self.calls if call.outcome is Outcome.OK)

    def latency(self) -> dict[str, float | None]:
        return latency_figures(c.latency_ms for c in self.calls if c.outcome is Outcome.OK)

    def service(self) -> dict[str, float | None]:
        return latency_figures(c.service_ms for c in self.calls if c.outcome is Outcome.OK)

    def publish_rate(self) -> float:
        return rate_over(self.acknowledged, self.start(), max(c.done_at for c in self.calls))

    def consume_rate(self) -> float:
        got = first_arrivals(self.records)
        last = max((r["received_at"] for r in got.values()), default=self.start())
        return rate_over(len(got), self.start(), last)

    def e2e(self) -> dict[str, float | None]:
        return latency_figures(
            e2e_ms(r["sent_at"], r["received_at"]) for r in first_arrivals(self.records).values()
        )

    def start(self) -> float:
        return min(c.intended_at for c in self.calls)


# -- pure figures -----------------------------------------------------------------------------


def latency_figures(values: Iterable[float]) -> dict[str, float | None]:
    """p50, p90, p99, p99.9 in ms (None without values): the percentiles Dapr reports, and one."""
    ordered = sorted(values)
    return {f"p{q:g}": percentile(ordered, q) for q in PERCENTILES}


def added_latency(
    dapr: Mapping[str, float | None], baseline: Mapping[str, float | None]
) -> dict[str, float | None]:
    """Dapr minus baseline per percentile, as Dapr's perf tests compute it."""
    return {
        key: None if value is None or baseline.get(key) is None else value - (baseline[key] or 0)
        for key, value in dapr.items()
    }


def rate_over(count: int, start: float, end: float) -> float:
    return count / (end - start) if end > start else 0.0


def seqs_of(call_index: int, batch: int) -> range:
    """The messages of call `call_index`: each call of a mode carries `batch` consecutive seqs."""
    return range(call_index * batch, (call_index + 1) * batch)


def attempts_of(calls: Iterable[Call], batch: int) -> list[Attempt]:
    """Every message of every call, with its call's outcome: what the verdict judges."""
    return [
        Attempt(seq, TOPIC, call.outcome) for call in calls for seq in seqs_of(call.index, batch)
    ]


def first_arrivals(records: Iterable[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    """seq -> its first arrival on the topic."""
    first: dict[int, Mapping[str, Any]] = {}
    for record in records:
        seq = record.get("seq")
        if record.get("topic") != TOPIC or not isinstance(seq, int):
            continue
        if seq not in first or record["received_at"] < first[seq]["received_at"]:
            first[seq] = record
    return first


def judge(result: ModeResult) -> QueueVerdict:
    return total_queue(
        attempts_of(result.calls, result.batch),
        result.records,
        run=result.run,
        topics=[TOPIC],
        label=result.mode,
    )


def goal_verdict(result: ModeResult, offered: int) -> str:
    """Issue 12's goal: >= 1,000 msgs/s published and consumed through daprd, lost 0. A run's
    rate ends a little below the offered one (its first call is due at 0, not at 1/rate), so
    kept up means 99% of it."""
    kept_up = min(result.publish_rate(), result.consume_rate()) >= GOAL_SHARE * offered
    lost = len(result.verdict.lost) if result.verdict else 0
    met = offered >= GOAL_RATE and kept_up and result.verdict is not None and lost == 0
    return (
        f"{'met' if met else 'NOT met'} (>= {GOAL_RATE} msgs/s offered, published and consumed "
        f">= {GOAL_SHARE:.0%} of it, lost 0; lost {lost})"
    )


def calls_for(rate: int, seconds: int, messages: int, batch: int) -> int:
    """Calls of one mode: --seconds at --rate, cut at --messages, whole batches."""
    return max(1, min(rate * seconds, messages) // batch)


# -- the calls --------------------------------------------------------------------------------


def outcome_of_error(err: Exception) -> Outcome:
    """Refused before it was sent: failed; lost after it was sent: it may still arrive."""
    if isinstance(err, aiohttp.ClientConnectorError):
        return Outcome.FAILED
    return Outcome.INDETERMINATE


async def post(http: aiohttp.ClientSession, path: str, body: bytes) -> Outcome:
    try:
        async with http.post(path, data=body, headers=JSON) as response:
            await response.read()
            return Outcome.OK if 200 <= response.status < 300 else Outcome.FAILED
    except (aiohttp.ClientError, TimeoutError) as err:
        return outcome_of_error(err)


def single_body(run: str, seq: int, sent_at: float, size: int) -> bytes:
    return encode(message_body(run, seq, sent_at, size))


def bulk_body(run: str, seqs: range, sent_at: float, size: int) -> bytes:
    entries = [
        {
            "entryId": str(seq),
            "event": message_body(run, seq, sent_at, size),
            "contentType": "application/json",
        }
        for seq in seqs
    ]
    return json.dumps(entries, separators=(",", ":")).encode()


# send(run, the call's seqs, actual start) -> how the call ended
Sender = Callable[[str, range, float], Awaitable[Outcome]]


@asynccontextmanager
async def http_sender(
    mode: str, url: str, headers: dict[str, str], args: argparse.Namespace
) -> AsyncIterator[Sender]:
    """Calls of the HTTP modes, on a pool of --connections connections."""
    async with aiohttp.ClientSession(
        base_url=url,
        headers=headers,
        timeout=aiohttp.ClientTimeout(total=CALL_TIMEOUT),
        connector=aiohttp.TCPConnector(limit=args.connections),
    ) as http:  # trust_env stays off: no proxy variable reroutes loopback traffic

        async def send(run: str, seqs: range, sent_at: float) -> Outcome:
            if mode == "bulk":
                body = bulk_body(run, seqs, sent_at, args.message_bytes)
                return await post(http, f"/v1.0/publish/bulk/{PUBSUB}/{TOPIC}", body)
            path = f"/v1.0/publish/{PUBSUB}/{TOPIC}" if mode != "baseline" else f"/publish/{TOPIC}"
            return await post(http, path, single_body(run, seqs[0], sent_at, args.message_bytes))

        yield send


@asynccontextmanager
async def grpc_sender(
    mode: str, address: str, headers: dict[str, str], args: argparse.Namespace
) -> AsyncIterator[Sender]:
    """Calls of the gRPC modes, on one channel: daprd's PublishEvent or the no-op method."""
    # No proxy: grpc reads http_proxy too, and loopback traffic must stay on loopback.
    channel = grpc.aio.insecure_channel(address, options=[("grpc.enable_http_proxy", 0)])
    noop: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(NOOP_METHOD)
    publish = api_service_v1.DaprStub(channel).PublishEvent
    metadata = tuple(headers.items()) or None  # gRPC metadata carries the token header
    try:

        async def send(run: str, seqs: range, sent_at: float) -> Outcome:
            body = single_body(run, seqs[0], sent_at, args.message_bytes)
            if mode == "grpc-baseline":
                return await rpc_outcome(noop(body, timeout=CALL_TIMEOUT))
            request = api_v1.PublishEventRequest(
                pubsub_name=PUBSUB, topic=TOPIC, data=body, data_content_type="application/json"
            )
            return await rpc_outcome(publish(request, metadata=metadata, timeout=CALL_TIMEOUT))

        yield send
    finally:
        await channel.close()


# Codes with which a call may have reached daprd: not a refusal. UNAVAILABLE is one of
# them, because grpc gives it to a connection that breaks mid-call as well as to a refused one.
UNSURE_CODES = frozenset(
    {
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.UNAVAILABLE,
    }
)


async def rpc_outcome(call: Awaitable[Any]) -> Outcome:
    try:
        await call
    except grpc.aio.AioRpcError as err:
        return Outcome.INDETERMINATE if err.code() in UNSURE_CODES else Outcome.FAILED
    return Outcome.OK


async def run_mode(mode: str, sender: Sender, args: argparse.Namespace) -> ModeResult:
    """--warm-up-seconds unmeasured (fresh connections, a cold path), then the measured run."""
    batch = args.bulk_size if mode == "bulk" else 1

    async def calls_of(run: str, seconds: int) -> list[Call]:
        async def send(index: int, intended_at: float, sent_at: float) -> Outcome:
            return await sender(run, seqs_of(index, batch), sent_at)

        count = calls_for(args.rate, seconds, args.messages, batch)
        return await run_open_loop(send, count, args.rate / batch, args.connections)

    if args.warm_up_seconds:
        await calls_of(new_run_id(f"warm-up-{mode}"), args.warm_up_seconds)
    run = new_run_id(f"bench-{mode}")
    return ModeResult(mode, batch, await calls_of(run, args.seconds), run=run)


def collect(result: ModeResult, subscriber_url: str, drain_seconds: float) -> ModeResult:
    """Wait (bounded) until every acknowledged message arrived, then judge the records."""
    with closing(httpx.Client(base_url=subscriber_url, timeout=10.0, trust_env=False)) as http:

        def count() -> int:
            return int(http.get("/arrivals/count", params={"run": result.run}).json()["count"])

        poll(count, lambda n: n >= result.acknowledged, timeout=drain_seconds, interval=0.2,
             on_timeout="return")  # fmt: skip
        time.sleep(0.5)  # a redelivery still on its way counts as a duplicate, not unseen
        records = http.get("/arrivals", params={"run": result.run}).json()
    judged = replace(result, records=records)
    return replace(judged, verdict=judge(judged))


# -- main -------------------------------------------------------------------------------------


def parse_modes(text: str) -> tuple[str, ...]:
    modes = tuple(m.strip() for m in text.split(",") if m.strip())
    unknown = [m for m in modes if m not in MODES]
    if not modes or unknown:
        raise argparse.ArgumentTypeError(
            f"{text!r}: choose from {', '.join(MODES)} (comma-separated)"
        )
    return modes


def build_parser() -> argparse.ArgumentParser:
    parser = one_line_parser("python -m loadtests.bench_dapr_publish", __doc__, FLAGS)
    parser.add_argument("--rate", type=bounded_int(1, 5000), default=1000,
                        help="messages per second, 1..5000 (Dapr's perf tests: 1000)")  # fmt: skip
    parser.add_argument("--modes", type=parse_modes, default=MODES,
                        help=f"comma-separated, of {', '.join(MODES)}")  # fmt: skip
    return parser


@dataclass(frozen=True)
class Endpoints:
    """Where each mode's calls go."""

    noop_http: str
    noop_grpc: str
    daprd_http: str
    daprd_grpc: str
    dapr_headers: dict[str, str]  # the API token, when the stack has one


def sender_for(mode: str, at: Endpoints, args: argparse.Namespace) -> Any:
    """The context manager of `mode`'s calls."""
    if mode == "baseline":
        return http_sender(mode, at.noop_http, {}, args)
    if mode == "grpc-baseline":
        return grpc_sender(mode, at.noop_grpc, {}, args)
    if mode == "grpc":
        return grpc_sender(mode, at.daprd_grpc, at.dapr_headers, args)
    return http_sender(mode, at.daprd_http, at.dapr_headers, args)


async def all_modes(stack: LocalStack, at: Endpoints, args: argparse.Namespace) -> list[ModeResult]:
    subscriber = stack.settings.url(stack.settings.service1_port)
    results = []
    for mode in args.modes:
        async with sender_for(mode, at, args) as sender:
            result = await run_mode(mode, sender, args)
        if mode not in BASELINE_OF.values():
            result = await asyncio.to_thread(collect, result, subscriber, args.drain_seconds)
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = replace(StackSettings.from_env(), service1_app=LEAN_SUBSCRIBER)
        port, grpc_port = pinned_port(NOOP_PORT), pinned_port(NOOP_GRPC_PORT)
        with (
            tempfile.TemporaryDirectory(prefix="bench-dapr-publish-") as workdir,
            served("noop-endpoint", "loadtests.noop_endpoint:app", port, Path(workdir)),
            serving_noop_grpc(grpc_port, Path(workdir)),
            LocalStack(settings, quiet=True) as stack,
        ):
            s = stack.settings
            at = Endpoints(
                noop_http=f"http://127.0.0.1:{port}",
                noop_grpc=f"127.0.0.1:{grpc_port}",
                daprd_http=s.url(s.sidecar1.http),
                daprd_grpc=f"{s.host}:{s.sidecar1.grpc}",
                dapr_headers=stack.tokens.dapr_headers(),
            )
            results = asyncio.run(all_modes(stack, at, args))
    except (HarnessError, httpx.HTTPError, KeyboardInterrupt) as err:  # httpx: the subscriber
        return command_failed(err)
    print_report(results, args)
    return 0 if all(r.verdict is None or r.verdict.ok for r in results) else 1


# -- the report -------------------------------------------------------------------------------


def shown(figures: Mapping[str, float | None]) -> str:
    return " ".join(f"{k} {'-' if v is None else f'{v:.2f}'}" for k, v in figures.items())


def print_report(results: list[ModeResult], args: argparse.Namespace) -> None:
    print(
        f"dapr publish benchmark: {args.rate} msgs/s for {args.seconds} s per mode, "
        f"{args.connections} connections, {args.message_bytes}-byte messages, "
        f"bulk batches of {args.bulk_size}; latencies in ms, from the intended send time"
    )
    by_mode = {r.mode: r for r in results}
    for r in results:
        print(f"  {r.mode:8} {len(r.calls)} calls, {r.acknowledged} msgs acknowledged, "
              f"published {r.publish_rate():.0f}/s")  # fmt: skip
        print(f"           publish  {shown(r.latency())}")
        print(f"           call     {shown(r.service())}  (from the actual start)")
        if r.verdict is not None:
            print(f"           e2e      {shown(r.e2e())}")
            print(f"           consumed {r.consume_rate():.0f}/s; {r.verdict}")
    for mode, baseline in BASELINE_OF.items():
        if mode in by_mode and baseline in by_mode:
            added = added_latency(by_mode[mode].latency(), by_mode[baseline].latency())
            print(f"  added by Dapr ({mode} - {baseline}, per call): {shown(added)}")
    print("  Dapr v1.18 perf report, for comparison (Kubernetes, dedicated nodes):")
    for line in DAPR_V118:
        print(f"    {line}")
    for mode in BASELINE_OF:
        if (judged := by_mode.get(mode)) is not None and judged.verdict is not None:
            print(f"  goal ({mode}): {goal_verdict(judged, args.rate)}")


if __name__ == "__main__":
    sys.exit(main())
