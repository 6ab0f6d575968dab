"""The Dapr publish benchmark's pure parts: percentiles, added latency, the verdict from the
subscriber's records, the goal, and its command line."""

from __future__ import annotations

import asyncio
import json

import grpc
import pytest

from harness.verdict import Outcome
from loadtests.bench_dapr_publish import (
    ModeResult,
    added_latency,
    attempts_of,
    build_parser,
    bulk_body,
    calls_for,
    goal_verdict,
    judge,
    latency_figures,
    rpc_outcome,
    seqs_of,
)
from loadtests.open_loop import Call


def call(index: int, outcome: Outcome = Outcome.OK, at: float = 0.0) -> Call:
    return Call(index, at, at + 0.001, at + 0.002, outcome)


def record(
    seq: int, received_at: float = 1.0, run: str = "r", topic: str = "t1"
) -> dict[str, object]:
    return {"run": run, "seq": seq, "topic": topic, "sent_at": 0.5, "received_at": received_at}


def test_latency_figures_are_nearest_rank_percentiles() -> None:
    figures = latency_figures(float(v) for v in range(1, 1001))
    assert figures == {"p50": 500.0, "p90": 900.0, "p99": 990.0, "p99.9": 999.0}
    assert latency_figures([]) == {"p50": None, "p90": None, "p99": None, "p99.9": None}


def test_added_latency_is_dapr_minus_baseline_per_percentile() -> None:
    added = added_latency(
        {"p50": 3.0, "p90": 5.0, "p99": None}, {"p50": 1.0, "p90": None, "p99": 2.0}
    )
    assert added == {"p50": 2.0, "p90": None, "p99": None}


def test_each_call_carries_its_own_consecutive_seqs() -> None:
    assert list(seqs_of(0, 1)) == [0]
    assert list(seqs_of(3, 10)) == list(range(30, 40))
    attempts = attempts_of([call(0), call(1, Outcome.FAILED)], batch=2)
    assert [(a.seq, a.outcome) for a in attempts] == [
        (0, Outcome.OK), (1, Outcome.OK), (2, Outcome.FAILED), (3, Outcome.FAILED)
    ]  # fmt: skip


def test_calls_stop_at_the_duration_or_the_message_cap_in_whole_batches() -> None:
    assert calls_for(1000, 10, 100_000, 1) == 10_000
    assert calls_for(1000, 10, 5_000, 1) == 5_000
    assert calls_for(1000, 10, 100_000, 10) == 1_000
    assert calls_for(1, 1, 100_000, 10) == 1  # never zero calls


def test_verdict_from_records_counts_lost_duplicated_and_foreign_runs() -> None:
    result = ModeResult("publish", 1, [call(i) for i in range(4)], run="r")
    result.records = [record(0), record(1), record(1, 2.0), record(9), record(2, run="other")]
    verdict = judge(result)
    assert verdict.lost == {2, 3}
    assert dict(verdict.duplicated) == {1: 2}
    assert verdict.unexpected == {9}
    assert not verdict.ok


def test_bulk_verdict_and_rates_count_messages_not_calls() -> None:
    result = ModeResult("bulk", 2, [call(0, at=0.0), call(1, at=1.0)], run="r")
    result.records = [record(seq, received_at=2.0) for seq in range(4)]
    result.verdict = judge(result)
    assert result.verdict.ok and result.acknowledged == 4
    assert result.consume_rate() == pytest.approx(2.0)  # 4 messages from 0 s to 2 s
    assert result.e2e()["p50"] == pytest.approx(1500.0)


def test_goal_needs_the_rate_kept_up_and_nothing_lost() -> None:
    calls = [call(i, at=i / 1000) for i in range(1000)]
    kept_up = ModeResult(
        "publish", 1, calls, run="r", records=[record(i, i / 1000) for i in range(1000)]
    )
    kept_up.verdict = judge(kept_up)
    assert goal_verdict(kept_up, 1000).startswith("met")
    assert goal_verdict(kept_up, 500).startswith("NOT met")  # offered below 1,000/s
    lossy = ModeResult(
        "publish", 1, calls, run="r", records=[record(i, i / 1000) for i in range(999)]
    )
    lossy.verdict = judge(lossy)
    assert goal_verdict(lossy, 1000).startswith("NOT met") and "lost 1" in goal_verdict(lossy, 1000)


def test_bulk_body_is_the_list_of_entries_daprd_expects() -> None:
    entries = json.loads(bulk_body("r", range(5, 7), 1.0, 64))
    assert [e["entryId"] for e in entries] == ["5", "6"]
    assert entries[0]["contentType"] == "application/json"
    assert entries[1]["event"]["seq"] == 6 and entries[1]["event"]["run"] == "r"


def test_defaults_are_dapr_perf_tests_rate() -> None:
    args = build_parser().parse_args([])
    assert (args.rate, args.seconds, args.connections) == (1000, 10, 16)
    assert args.modes == ("baseline", "publish", "bulk", "grpc-baseline", "grpc")
    assert build_parser().parse_args(["--modes", "grpc, publish"]).modes == ("grpc", "publish")


@pytest.mark.parametrize(
    "argv",
    [
        ["--rate", "0"],
        ["--rate", "-5"],
        ["--rate", "fast"],
        ["--seconds", "100000"],
        ["--seconds", "0"],
        ["--bulk-size", "1"],
        ["--modes", "publish,graphql"],
        ["--modes", ","],
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def rpc_error(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata())


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (grpc.StatusCode.INTERNAL, Outcome.FAILED),  # daprd answered: the publish failed
        (grpc.StatusCode.UNAUTHENTICATED, Outcome.FAILED),
        (grpc.StatusCode.UNAVAILABLE, Outcome.INDETERMINATE),  # refused, or broken mid-call
        (grpc.StatusCode.DEADLINE_EXCEEDED, Outcome.INDETERMINATE),  # sent, may still arrive
        (grpc.StatusCode.CANCELLED, Outcome.INDETERMINATE),
    ],
)
def test_a_grpc_error_is_a_refusal_unless_the_call_may_have_reached_daprd(
    code: grpc.StatusCode, outcome: Outcome
) -> None:
    async def failing() -> None:
        raise rpc_error(code)

    async def answered() -> None:
        return None

    assert asyncio.run(rpc_outcome(failing())) is outcome
    assert asyncio.run(rpc_outcome(answered())) is Outcome.OK
