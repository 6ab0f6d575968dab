"""The delivery verdict goes red on loss and on strays, and reports duplicates."""

from __future__ import annotations

from harness.verdict import delivery_verdict


def record(seq, topic="t1", count=1):
    return {"topic": topic, "seq": seq, "count": count}


def test_everything_delivered_once_is_ok():
    verdict = delivery_verdict("t1", [1, 2, 3], [record(1), record(2), record(3)])
    assert verdict.ok and not verdict.duplicated
    assert str(verdict) == "t1: published 3, delivered 3, lost 0, duplicated 0, unexpected 0"


def test_a_lost_message_fails_and_is_named():
    verdict = delivery_verdict("t1", [1, 2, 3], [record(1), record(3)])
    assert not verdict.ok
    assert verdict.lost == {2}
    assert "lost seq 2" in str(verdict)


def test_a_duplicate_is_reported_but_not_a_failure():
    verdict = delivery_verdict("t1", [1, 2], [record(1, count=2), record(2)])
    assert verdict.ok
    assert verdict.duplicated == {1: 2}
    assert "duplicated seq 1" in str(verdict)


def test_other_topics_do_not_count_and_strays_fail():
    records = [record(1), record(2, topic="t2"), record(9)]
    verdict = delivery_verdict("t1", [1, 2], records)
    assert verdict.lost == {2}
    assert verdict.unexpected == {9}
    assert not verdict.ok


def test_a_long_list_is_shortened():
    verdict = delivery_verdict("t1", range(1, 31), [])
    assert "lost seq 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 … (+20)" in str(verdict)
