"""The delivery verdict goes red on loss and on strays, and reports duplicates."""

from __future__ import annotations

from harness.verdict import Attempt, Outcome, attempts_ok, delivery_verdict, total_queue


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


# -- the total-queue checker ------------------------------------------------------------------


def test_indeterminate_and_failed_publishes_are_kept_apart_and_recovered_when_they_arrive():
    attempts = [
        Attempt(1, "t1"),
        Attempt(2, "t1", Outcome.FAILED),
        Attempt(3, "t1", Outcome.INDETERMINATE),
        Attempt(4, "t1", Outcome.INDETERMINATE),
    ]
    verdict = total_queue(attempts, [record(1), record(3)])
    assert verdict.counts() == {
        "attempted": 4, "acknowledged": 1, "failed": 1, "indeterminate": 2, "delivered": 1,
        "lost": 0, "duplicated": 0, "unexpected": 0, "recovered": 1, "dead_lettered": 0,
    }  # fmt: skip
    assert verdict.recovered == {3}
    assert verdict.ok
    assert verdict.fractions()["indeterminate"] == 0.5


def test_a_dead_lettered_message_is_not_lost_and_is_counted():
    records = [record(1), record(2, topic="t1-dead-letter")]
    verdict = total_queue(attempts_ok("t1", [1, 2]), records)
    assert verdict.lost == frozenset()
    assert verdict.dead_lettered == {2}
    assert "dead-lettered 1" in str(verdict)


def test_records_of_another_run_are_ignored_when_the_run_is_given():
    records = [{**record(1), "run": "a"}, {**record(2), "run": "b"}]
    verdict = total_queue(attempts_ok("t1", [1, 2]), records, run="a")
    assert verdict.lost == {2} and not verdict.unexpected


def test_a_message_on_the_wrong_topic_is_unexpected():
    verdict = total_queue(attempts_ok("t1", [1]), [record(1, topic="t2")])
    assert verdict.unexpected == {1} and verdict.lost == {1}


def test_fractions_of_an_empty_run_are_zero():
    assert set(total_queue([], []).fractions().values()) == {0}
