"""What a ledger poll costs as a run grows: the whole run against a read by cursor.

service-1 runs under uvicorn on a ledger file of its own (no Dapr: the benchmark writes the
deliveries straight through service-1's ledger module, as its handlers do). At 1,000, 10,000
and 100,000 recorded messages of one run it times, over HTTP as the load runner reads:

- the full read, `GET /ledger?run=` (what each poll cost before reads by cursor);
- a cursor poll that brings `--new` arrivals (`GET /ledger/arrivals?after=`), what a runner
  polling every 0.5 s at 200 msgs/s reads, and one that finds nothing new.

Then it writes a second run of `--messages` deliveries from a thread while the runner's own
accounting (harness.ledger.ArrivalCursor into loadtests.accounting.DeliveryTracker) polls,
and checks that every message is accounted exactly: each attempt read once, none lost,
none duplicated. Exit code 1 if not.

    python -m loadtests.bench_ledger_poll [--new 100] [--messages 100000] [--port N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from harness.arguments import command_failed, one_line_parser
from harness.errors import HarnessError
from harness.ledger import ArrivalCursor, LedgerClient, new_run_id
from loadtests.accounting import DeliveryTracker, Publish
from loadtests.bench_ledger import t1_delivery
from loadtests.served_app import pinned_port, served
from system_under_test.service1.ledger import Ledger

SIZES = (1_000, 10_000, 100_000)
PORT = 6068  # service-1 of this benchmark; HARNESS_PORT_OFFSET moves it
POLL_SECONDS = 0.25
# flag: (lowest, highest, default)
FLAGS = {
    "--new": (1, 10_000, 100),
    "--messages": (1_000, 1_000_000, 100_000),
    "--port": (0, 65535, 0),  # 0: 6068 moved by HARNESS_PORT_OFFSET
}


def record(ledger: Ledger, run: str, seq: int) -> int:
    """One delivery of t1 as the handler records it: arrival, then answer. Its attempt."""
    attempt = ledger.received(t1_delivery(run, seq))
    ledger.answered(attempt, "SUCCESS")
    return attempt


@dataclass(frozen=True)
class Read:
    """One kind of read: its median time over `times` tries and the bytes of its answer."""

    seconds: float
    size: int
    times: int


def timed_get(http: httpx.Client, path: str, params: dict[str, Any], times: int) -> Read:
    durations, size = [], 0
    for _ in range(times):
        started = time.perf_counter()
        response = http.get(path, params=params)
        response.raise_for_status()
        durations.append(time.perf_counter() - started)
        size = len(response.content)
    return Read(statistics.median(durations), size, times)


def poll_costs(http: httpx.Client, run: str, attempts: list[int], new: int) -> list[Read]:
    """The full read, a poll bringing `new` arrivals and an empty poll, at this size."""
    full = timed_get(http, "/ledger", {"run": run}, max(1, min(5, 30_000 // len(attempts))))
    cursor = attempts[-new - 1] if new < len(attempts) else 0
    paged = {"run": run, "after": cursor, "limit": 10_000}
    fresh = timed_get(http, "/ledger/arrivals", paged, 20)
    empty = timed_get(http, "/ledger/arrivals", {**paged, "after": attempts[-1]}, 20)
    return [full, fresh, empty]


def measure_sizes(
    ledger: Ledger, http: httpx.Client, new: int, sizes: tuple[int, ...] = SIZES
) -> None:
    run = new_run_id("poll-bench")
    attempts: list[int] = []
    print(f"{'recorded':>9}  {'full read GET /ledger':>26}  {f'cursor poll, {new} new':>24}"
          f"  {'cursor poll, nothing new':>24}")  # fmt: skip
    for size in sizes:
        attempts += [record(ledger, run, seq) for seq in range(len(attempts), size)]
        cells = [f"{r.seconds * 1000:9.1f} ms {r.size:>11,} B" for r in poll_costs(
            http, run, attempts, new)]  # fmt: skip
        print(f"{size:>9,}  {cells[0]:>26}  {cells[1]:>24}  {cells[2]:>24}")


def account_while_written(ledger_path: Path, client: LedgerClient, messages: int) -> bool:
    """Write `messages` deliveries from a thread while the runner's accounting polls them."""
    run = new_run_id("account-bench")
    tracker = DeliveryTracker(run)
    tracker.add_published(Publish(seq, "t1", 0.0, 0.0) for seq in range(messages))
    done = threading.Event()

    def write() -> None:
        writer = Ledger.open(ledger_path)
        try:
            for seq in range(messages):
                record(writer, run, seq)
        finally:
            writer.close()
            done.set()

    writer = threading.Thread(target=write, daemon=True)
    seen: list[int] = []
    polls: list[float] = []
    started = time.perf_counter()
    cursor = ArrivalCursor(client, run)
    writer.start()
    while True:
        finished = done.is_set()  # read before the poll: then the poll sees every write
        poll_started = time.perf_counter()
        arrivals = cursor.new()
        polls.append(time.perf_counter() - poll_started)
        seen += [arrival["attempt"] for arrival in arrivals]
        tracker.add_arrivals(arrivals)
        if finished:
            break
        time.sleep(POLL_SECONDS)
    writer.join()
    verdict = tracker.verdict()
    counts = verdict.counts()
    exact = (
        len(seen) == len(set(seen)) == messages
        and counts["delivered"] == messages
        and not verdict.lost
        and not verdict.duplicated
        and not verdict.unexpected
    )
    print(
        f"\naccounting a run of {messages:,} messages while they were written "
        f"({time.perf_counter() - started:.1f} s, {len(polls)} polls every {POLL_SECONDS} s; "
        f"a poll took {statistics.median(polls) * 1000:.1f} ms at the median, "
        f"{max(polls) * 1000:.1f} ms at most):"
    )
    print(
        f"  attempts read {len(seen):,}, distinct {len(set(seen)):,}; delivered "
        f"{counts['delivered']:,}, lost {counts['lost']}, duplicated {counts['duplicated']}, "
        f"unexpected {counts['unexpected']}: {'exact' if exact else 'NOT EXACT'}"
    )
    return exact


def main(argv: list[str] | None = None) -> int:
    args = one_line_parser("python -m loadtests.bench_ledger_poll", __doc__, FLAGS).parse_args(argv)
    try:
        port = args.port or pinned_port(PORT)
        with tempfile.TemporaryDirectory(prefix="bench-ledger-poll-") as workdir:
            ledger_path = Path(workdir) / "ledger.sqlite3"
            env = {"LEDGER_PATH": str(ledger_path), "APP_PORT": str(port)}
            app = "system_under_test.service1.app:app"
            with served("service-1", app, port, Path(workdir), env):
                url = f"http://127.0.0.1:{port}"
                ledger = Ledger.open(ledger_path)
                try:
                    with httpx.Client(base_url=url, timeout=120.0, trust_env=False) as http:
                        measure_sizes(ledger, http, args.new)
                finally:
                    ledger.close()
                with closing(LedgerClient(url)) as client:
                    exact = account_while_written(ledger_path, client, args.messages)
    except (HarnessError, httpx.HTTPError, KeyboardInterrupt) as err:
        return command_failed(err)
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
