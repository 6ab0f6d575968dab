"""Known differences: reading docs/version-differences.md and explaining the table's rows."""

from __future__ import annotations

import pytest

from harness.errors import HarnessError
from harness.matrix.differences import (
    DOCUMENT,
    KnownDifference,
    notes_and_unexplained,
    read_known,
)
from harness.matrix.table import Difference

DOC = """# Differences

Some text.

| scenario | metric | since | what | source |
| --- | --- | --- | --- | --- |
| `semantics (plain): RETRY*` | `attempts` | 1.17.0 | acked | dapr/dapr#1 |
| `faults: sidecar-term` | `*` | 1.18.0 | drained | release notes 1.18 |

Other table:

| a | b |
| --- | --- |
| x | y |
"""

ACKED = KnownDifference("semantics (plain): RETRY*", "attempts", "1.17.0", "acked", "dapr/dapr#1")


def test_entries_are_read_from_the_table_with_its_header(tmp_path):
    path = tmp_path / "d.md"
    path.write_text(DOC)
    known = read_known(path)
    assert known[0] == ACKED
    assert [k.since for k in known] == ["1.17.0", "1.18.0"]


def test_the_suite_document_reads():
    assert read_known(DOCUMENT)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no table", "has no table with the columns"),
        (
            "| scenario | metric | since | what | source |\n|---|---|---|---|---|\n| a | b |",
            "2 cells",
        ),
        (
            "| scenario | metric | since | what | source |\n| a | b | soon | c | d |",
            "not a Dapr release",
        ),
    ],
)
def test_a_broken_document_is_one_line(tmp_path, text, message):
    path = tmp_path / "d.md"
    path.write_text(text)
    with pytest.raises(HarnessError, match=message):
        read_known(path)


def retry_attempts(values: dict[str, str]) -> Difference:
    return Difference("semantics (plain): RETRY then success", "attempts", values)


def test_a_difference_across_the_release_that_changed_it_is_explained():
    assert ACKED.explains(retry_attempts({"1.16.0": "3", "1.18.3": "1"}))
    assert ACKED.explains(retry_attempts({"1.16.0": "3", "1.17.5": "1", "1.18.3": "1"}))


def test_a_difference_on_one_side_of_the_release_is_not_explained():
    assert not ACKED.explains(retry_attempts({"1.17.5": "2", "1.18.3": "1"}))
    assert not ACKED.explains(retry_attempts({"1.16.0": "3", "1.17.5": "1", "1.18.3": "2"}))


def test_another_row_is_not_explained():
    other = Difference("semantics (plain): DROP", "attempts", {"1.16.0": "3", "1.18.3": "1"})
    assert not ACKED.explains(other)


def test_an_unexplained_difference_is_named_and_noted():
    """The go-red proof of the matrix's verdict: the same table judged without the entry
    that explains it fails on that row, by name."""
    difference = retry_attempts({"1.16.0": "3", "1.18.3": "1"})
    notes, unexplained = notes_and_unexplained([difference], [ACKED])
    assert unexplained == []
    assert notes[(difference.scenario, "attempts")] == "since 1.17.0: acked (dapr/dapr#1)"
    notes, unexplained = notes_and_unexplained([difference], [])
    assert unexplained == [difference]
    assert notes[(difference.scenario, "attempts")].startswith("UNEXPLAINED")
