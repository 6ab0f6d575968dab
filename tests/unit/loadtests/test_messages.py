"""Messages: unique sequence numbers across processes, the topic mix, the padded size."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from loadtests.journal import ProcessJournal
from loadtests.messages import SEQ_STRIDE, SeqCounter, TopicMix, encode, message_body


def test_seqs_are_unique_across_worker_processes() -> None:
    counters = [SeqCounter(worker_index, limit=1000) for worker_index in range(4)]
    seqs = [counter.next() for counter in counters for _ in range(1000)]
    assert len(set(seqs)) == 4000
    assert min(seqs) == 0
    assert max(seqs) == 3 * SEQ_STRIDE + 999


def test_a_process_stops_numbering_at_its_limit() -> None:
    counter = SeqCounter(worker_index=2, limit=3)
    assert [counter.next() for _ in range(5)] == [
        2 * SEQ_STRIDE,
        2 * SEQ_STRIDE + 1,
        2 * SEQ_STRIDE + 2,
        None,
        None,
    ]


def test_a_limit_beyond_the_stride_would_overlap_the_next_worker() -> None:
    with pytest.raises(ValueError, match="per process"):
        SeqCounter(worker_index=0, limit=SEQ_STRIDE + 1)


def test_the_mix_is_exact_and_evenly_spread() -> None:
    mix = TopicMix({"t1": 0.9, "t2": 0.1})
    topics = [mix.next() for _ in range(1000)]
    assert Counter(topics) == {"t1": 900, "t2": 100}
    for start in range(0, 1000, 10):
        assert topics[start : start + 10].count("t2") == 1


def test_a_single_topic_mix() -> None:
    mix = TopicMix({"t1": 1.0})
    assert {mix.next() for _ in range(50)} == {"t1"}


def test_an_even_mix_alternates() -> None:
    mix = TopicMix({"t1": 0.5, "t2": 0.5})
    assert [mix.next() for _ in range(4)] == ["t1", "t2", "t1", "t2"]


@pytest.mark.parametrize("size", [256, 1000, 4096])
def test_a_message_is_padded_to_its_size(size: int) -> None:
    body = message_body("run-1", 12, 1700000000.123456, size, intended_at=1700000000.1)
    assert len(encode(body)) == size
    assert json.loads(encode(body))["seq"] == 12
    assert body["sent_at"] == 1700000000.123456
    assert body["intended_at"] == 1700000000.1


def test_a_size_below_the_fields_leaves_no_padding() -> None:
    body = message_body("run-1", 1, 1.0, size=10)
    assert body["padding"] == ""


def test_a_journal_deals_seqs_and_topics_until_its_limit() -> None:
    journal = ProcessJournal()
    assert journal.next_message() is None  # no run yet: the users publish nothing
    journal.begin("run-1", worker_index=1, limit=2, mix={"t1": 0.5, "t2": 0.5})
    assert journal.next_message() == (SEQ_STRIDE, "t1")
    assert journal.next_message() == (SEQ_STRIDE + 1, "t2")
    assert journal.next_message() is None
    journal.begin("run-2", worker_index=1, limit=5, mix={"t1": 1.0})
    journal.end()
    assert journal.next_message() is None
