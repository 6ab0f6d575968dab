"""How long service-1's ledger takes to record one delivery: python -m loadtests.bench_ledger

A record is what the t1/t2 handlers do per delivery: `received` (insert) then `answered`
(update), each its own commit in WAL mode with synchronous=NORMAL, on a file in a temp dir,
while a thread checkpoints the WAL every second as service-1 does.
The target is well under 1 ms per record, so the ledger can stay inline on the event loop.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from harness.arguments import bounded_int, existing_folder, one_line_parser
from system_under_test.service1.ledger import Delivery, Ledger

ENVELOPE = {
    "source": "service-1",
    "type": "com.dapr.event.sent",
    "specversion": "1.0",
    "datacontenttype": "application/json",
    "topic": "t1",
    "pubsubname": "messagebus",
}
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def t1_delivery(run: str, seq: int) -> Delivery:
    """One delivery of t1 as service-1's handler sees it arrive."""
    return Delivery(
        event_id=str(uuid.uuid4()),
        topic="t1",
        route="/t1",
        run=run,
        seq=seq,
        sent_at=time.time(),
        traceparent=TRACEPARENT,
        envelope=ENVELOPE,
    )


def record_deliveries(ledger: Ledger, run: str, count: int) -> list[float]:
    """Seconds each of `count` deliveries of one run took to record, arrival and answer."""
    durations = []
    for seq in range(count):
        delivery = t1_delivery(run, seq)
        started = time.perf_counter()
        ledger.answered(ledger.received(delivery), "SUCCESS")
        durations.append(time.perf_counter() - started)
    return durations


def checkpoint_until(ledger: Ledger, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        ledger.checkpoint()


def percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def main(argv: list[str] | None = None) -> int:
    parser = one_line_parser("python -m loadtests.bench_ledger", __doc__)
    parser.add_argument("--records", type=bounded_int(1, 1_000_000), default=10_000)
    parser.add_argument("--dir", type=existing_folder, default=None, help="where to put the file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir) as workdir:
        ledger = Ledger.open(Path(workdir) / "bench-ledger.sqlite3")
        stop = threading.Event()
        checkpointer = threading.Thread(target=checkpoint_until, args=(ledger, stop))
        checkpointer.start()  # as service-1 does: a checkpoint every second, off the writer
        try:
            record_deliveries(ledger, "warm-up", 200)
            durations = sorted(record_deliveries(ledger, "bench", args.records))
            query_started = time.perf_counter()
            records = ledger.records("bench")
            query_seconds = time.perf_counter() - query_started
        finally:
            stop.set()
            checkpointer.join()
            ledger.close()
    mean = sum(durations) / len(durations)
    print(
        f"ledger: {mean * 1e6:.1f} µs per record (mean of {args.records}: insert + update,"
        " WAL, synchronous=NORMAL)"
    )
    print(
        f"ledger: p50 {percentile(durations, 0.5) * 1e6:.1f} µs, "
        f"p99 {percentile(durations, 0.99) * 1e6:.1f} µs, "
        f"p99.9 {percentile(durations, 0.999) * 1e6:.0f} µs, max {durations[-1] * 1e6:.0f} µs"
    )
    print(f"ledger: GET /ledger folding {len(records)} records took {query_seconds:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
