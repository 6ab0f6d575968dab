"""The matrix command line: its releases, bad input, and the verdict on a finished run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.matrix import __main__ as matrix
from harness.matrix.runner import environment, faults_env, semantics_env

DOC = """| scenario | metric | since | what | source |
| --- | --- | --- | --- | --- |
| `semantics (plain): * then success` | `*` | 1.17.0 | acked | release notes |
"""


def finished_run(folder: Path, plain_drop_attempts: str) -> Path:
    """A results/matrix-<ts> folder as a run leaves it: observations of two releases."""

    def obs(scenario: str, metric: str, value: str) -> dict[str, str]:
        return {"scenario": scenario, "metric": metric, "shown": value, "compared": value}

    runs = [
        {"version": "1.16.0", "seconds": 200.0, "failed_checks": [], "observations": [
            obs("semantics (plain): RETRY then success", "attempts", "3"),
            obs("semantics (plain): DROP", "attempts", plain_drop_attempts)]},
        {"version": "1.18.3", "seconds": 210.0, "failed_checks": [], "observations": [
            obs("semantics (plain): RETRY then success", "attempts", "1"),
            obs("semantics (plain): DROP", "attempts", "1")]},
    ]  # fmt: skip
    folder.mkdir()
    (folder / matrix.OBSERVATIONS).write_text(json.dumps(runs))
    return folder


@pytest.fixture
def document(tmp_path: Path) -> Path:
    path = tmp_path / "version-differences.md"
    path.write_text(DOC)
    return path


def test_explained_differences_pass(tmp_path, document, capsys):
    run = finished_run(tmp_path / "run", plain_drop_attempts="1")
    assert matrix.main(["--rejudge", str(run), "--differences", str(document)]) == 0
    out = capsys.readouterr().out
    assert "2 rows, 1 differ, 1 explained by version-differences.md" in out
    table = (run / "behaviour.md").read_text()
    assert "| semantics (plain): RETRY then success | attempts | **3** ⚠ | **1** ⚠ |" in table
    assert "since 1.17.0: acked (release notes)" in table
    assert (run / "behaviour.html").is_file()


def test_an_unexplained_difference_fails_the_matrix_naming_it(tmp_path, document, capsys):
    """The go-red proof: a difference the document does not explain fails the run."""
    run = finished_run(tmp_path / "run", plain_drop_attempts="2")
    assert matrix.main(["--rejudge", str(run), "--differences", str(document)]) == 1
    out = capsys.readouterr().out
    assert (
        "unexplained difference: semantics (plain): DROP / attempts (1.16.0: 2, 1.18.3: 1)" in out
    )
    assert "UNEXPLAINED" in (run / "behaviour.md").read_text()


def test_a_failed_check_fails_the_matrix(tmp_path, document, capsys):
    run = finished_run(tmp_path / "run", plain_drop_attempts="1")
    data = json.loads((run / matrix.OBSERVATIONS).read_text())
    data[0]["failed_checks"] = ["1.16.0 (plain) e2e/test_semantics.py::test_x"]
    (run / matrix.OBSERVATIONS).write_text(json.dumps(data))
    assert matrix.main(["--rejudge", str(run), "--differences", str(document)]) == 1
    assert "check failed: 1.16.0 (plain) e2e/test_semantics.py::test_x" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("raw", "message"),
    [("1.18.3", "two or more releases"), ("1.18.3,1.18.3", "two or more releases"),
     ("1.16,1.18.3", "is not a Dapr release number")],
)  # fmt: skip
def test_bad_versions_are_one_line(raw, message, capsys):
    assert matrix.main([], env={"DAPR_VERSIONS": raw}) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_missing_run_folder_is_one_line(tmp_path, capsys):
    assert matrix.main(["--rejudge", str(tmp_path / "none")]) == 2
    assert "observations.json cannot be read" in capsys.readouterr().err


def test_default_releases_are_the_oldest_supported_and_the_pinned_one():
    assert matrix.versions_from(matrix.DEFAULT_VERSIONS) == ["1.16.0", "1.18.3"]
    with pytest.raises(HarnessError):
        matrix.versions_from("")


def test_each_release_and_profile_runs_in_its_own_folders(tmp_path):
    env = semantics_env("1.16.0", "plain", tmp_path, {"HARNESS_PORT_OFFSET": "12000"})
    assert env["DAPR_VERSION"] == "1.16.0"
    assert env["HARNESS_SUBSCRIPTION_PROFILE"] == "plain"
    assert env["HARNESS_RUN_DIR"].endswith(".run/matrix/1.16.0-plain")
    assert env["HARNESS_PORT_OFFSET"] == "12000"
    faults = faults_env("1.16.0", {"HARNESS_PORT_OFFSET": "12000"})
    assert faults["HARNESS_PORT_OFFSET"] == "12500"
    assert faults["HARNESS_SUBSCRIPTION_PROFILE"] == "standard"


def test_the_environment_is_restored_after_the_faults():
    os.environ.pop("MATRIX_TEST_VALUE", None)
    with environment({"MATRIX_TEST_VALUE": "1"}):
        assert os.environ["MATRIX_TEST_VALUE"] == "1"
    assert "MATRIX_TEST_VALUE" not in os.environ
