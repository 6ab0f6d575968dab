"""The behaviour table: rows, differing cells, markdown and HTML with the marks."""

from __future__ import annotations

from harness.matrix.observations import exact, from_fault_summaries, from_scoreboard, none_or_some
from harness.matrix.table import MARK, BehaviourTable, html_page, markdown


def two_releases() -> BehaviourTable:
    return BehaviourTable.of(
        {
            "1.18.3": [exact("case", "attempts", 1), exact("case", "lost", 0)],
            "1.16.0": [exact("case", "attempts", 3), exact("case", "lost", 0)],
        }
    )


def test_columns_are_releases_in_release_order():
    table = BehaviourTable.of({"1.18.3": [], "1.9.0": [], "1.16.0": []})
    assert table.versions == ["1.9.0", "1.16.0", "1.18.3"]


def test_a_row_differs_only_when_its_compared_values_differ():
    table = two_releases()
    assert table.differs(("case", "attempts"))
    assert not table.differs(("case", "lost"))
    (difference,) = table.differences()
    assert difference.values == {"1.16.0": "3", "1.18.3": "1"}
    assert difference.describe() == "case / attempts (1.16.0: 3, 1.18.3: 1)"


def test_a_row_one_release_did_not_show_differs():
    table = BehaviourTable.of({"1.16.0": [exact("case", "attempts", 1)], "1.18.3": []})
    assert table.differs(("case", "attempts"))
    assert table.shown(("case", "attempts"), "1.18.3") == "—"


def test_fault_counts_are_compared_as_none_or_some():
    table = BehaviourTable.of(
        {
            "1.16.0": [none_or_some("f", "duplicated", 3)],
            "1.18.3": [none_or_some("f", "duplicated", 7)],
        }
    )
    assert not table.differs(("f", "duplicated"))
    table = BehaviourTable.of(
        {"1.16.0": [none_or_some("f", "lost", 0)], "1.18.3": [none_or_some("f", "lost", 2.0)]}
    )
    assert table.differs(("f", "lost"))
    assert table.shown(("f", "lost"), "1.18.3") == "2"


def test_markdown_marks_every_differing_cell_and_notes_the_row():
    text = markdown(two_releases(), {("case", "attempts"): "since 1.17.0: acked"})
    lines = text.splitlines()
    assert lines[0] == "| scenario | metric | 1.16.0 | 1.18.3 | difference |"
    assert f"| case | attempts | **3** {MARK} | **1** {MARK} | since 1.17.0: acked |" in lines
    assert "| case | lost | 0 | 0 |  |" in lines


def test_html_marks_differing_cells_and_unexplained_notes():
    page = html_page(two_releases(), {("case", "attempts"): "UNEXPLAINED: x"}, ["summary"])
    assert page.count('class="differs"') == 2
    assert 'class="unexplained"' in page
    assert "<li>summary</li>" in page


def test_scoreboard_rows_become_counts_answers_deltas_and_check_outcomes():
    board = {
        "rows": [{"scenario": "DROP", "arrivals": 3, "delivered": 1, "lost": 0,
                  "dead_lettered": 1}],
        "facts": {"DROP": {"answers": "RETRY,RETRY,SUCCESS"}},
        "deltas": [{"scenario": "DROP", "query": "q", "delta": 1.0}],
        "checks": {"e2e/test_semantics.py::test_x[DROP]": "failed"},
    }  # fmt: skip
    seen = {(o.scenario, o.metric): o.shown for o in from_scoreboard("plain", board)}
    assert seen[("semantics (plain): DROP", "attempts")] == "3"
    assert seen[("semantics (plain): DROP", "duplicated")] == "2"
    assert seen[("semantics (plain): DROP", "dead_lettered")] == "1"
    assert seen[("semantics (plain): DROP", "answers")] == "RETRY,RETRY,SUCCESS"
    assert seen[("semantics (plain): DROP", "Δ q")] == "1"
    assert seen[("check (plain)", "test_x[DROP]")] == "failed"


def test_fault_summaries_become_counts_and_counter_deltas():
    summary = {
        "scenario": "sidecar-term",
        "verdict": {"counts": {"lost": 0, "duplicated": 4, "dead_lettered": 2, "recovered": 0,
                               "unexpected": 0}},
        "counters": {"ingress": {"retry": 0.0, "drop": 2.0},
                     "dead_letter_ingress": {"retry": 0.0, "drop": 0.0}},
    }  # fmt: skip
    seen = {(o.scenario, o.metric): o.compared for o in from_fault_summaries([summary])}
    assert seen[("faults: sidecar-term", "duplicated")] == "(shown only)"
    assert seen[("faults: sidecar-term", "lost")] == "none"
    assert seen[("faults: sidecar-term", "Δ ingress drop")] == "some"
    assert seen[("faults: sidecar-term", "recovered")] == "(shown only)"


def test_duplicates_are_compared_where_the_fault_causes_them_by_design():
    summary = {
        "scenario": "service2-down", "duplicates_by_design": True,
        "verdict": {"counts": {"lost": 0, "duplicated": 0, "dead_lettered": 0, "recovered": 0,
                               "unexpected": 0}},
        "counters": {"ingress": {"retry": 0.0, "drop": 0.0},
                     "dead_letter_ingress": {"retry": 0.0, "drop": 0.0}},
    }  # fmt: skip
    seen = {(o.scenario, o.metric): o.compared for o in from_fault_summaries([summary])}
    assert seen[("faults: service2-down", "duplicated")] == "none"
