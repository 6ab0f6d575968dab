"""Where runs write their results (harness/results.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.results import RESULTS, require_makeable, results_folder, unwritable


def test_a_named_folder_is_used_as_given_but_absolute(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert results_folder("out", "load") == tmp_path / "out"
    assert results_folder(tmp_path / "x", "faults") == tmp_path / "x"


def test_an_unnamed_folder_is_new_per_run_under_results() -> None:
    folder = results_folder(None, "bench-generator")
    assert folder.parent == RESULTS
    assert folder.name.startswith("bench-generator-20")
    assert results_folder("", "load").parent == RESULTS


def test_two_runs_in_the_same_second_get_two_folders(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("time.strftime", lambda fmt, t=None: "20261202-000000")
    first = results_folder(None, "e2e", root=tmp_path)
    first.mkdir()
    second = results_folder(None, "e2e", root=tmp_path)
    assert (first.name, second.name) == ("e2e-20261202-000000", "e2e-20261202-000000-2")


def test_a_folder_that_can_be_made_is_accepted_and_not_made(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b"
    assert unwritable(deep) == ""
    assert require_makeable(deep) == deep
    assert not (tmp_path / "a").exists()


def test_a_file_in_the_path_is_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    assert unwritable(tmp_path / "file") == f"{tmp_path / 'file'} is a file, not a folder"
    assert unwritable(tmp_path / "file" / "sub") == f"{tmp_path / 'file'} is a file, not a folder"


def test_a_link_to_nothing_as_the_folder_itself_is_named(tmp_path: Path) -> None:
    (tmp_path / "gone").symlink_to(tmp_path / "missing")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    assert unwritable(tmp_path / "gone") == f"{tmp_path / 'gone'} is a link to nothing"
    assert unwritable(tmp_path / "loop") == f"{tmp_path / 'loop'} is a link to nothing"


def test_a_link_to_nothing_is_named_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "gone").symlink_to(tmp_path / "missing")
    with pytest.raises(HarnessError) as caught:
        require_makeable(tmp_path / "gone" / "run")
    assert str(caught.value) == (
        f"results folder {tmp_path / 'gone' / 'run'}: {tmp_path / 'gone'} is a link to nothing"
    )
