"""The matrix's preflight: what would stop it part way is refused before the first release."""

from __future__ import annotations

import pytest

from harness.errors import HarnessError
from harness.matrix import runner

VERSIONS = ["1.16.0", "1.18.3"]


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The releases whose daprd the preflight asked for, in order (none is built here)."""
    asked: list[str] = []
    monkeypatch.setattr(runner, "ensure_daprd", asked.append)
    return asked


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"MATRIX_FAULT_SCENARIOS": "sidecar-term,nope"}, "unknown scenario(s) nope"),
        ({"MATRIX_FAULTS_PORT_OFFSET": "40000"}, "must be in 1024..32767"),
        ({"HARNESS_PORT_OFFSET": "x"}, "HARNESS_PORT_OFFSET"),
        ({"FAULTS_BROKER_PROXY": "maybe"}, "FAULTS_BROKER_PROXY"),
        ({"HARNESS_SERVICE1_IMAGE": "dapr-suite/service-1:suite"}, "HARNESS_SERVICE1_IMAGE"),
    ],
)
def test_a_setting_that_would_stop_a_release_is_refused_before_any_daprd(
    env: dict[str, str], says: str, installed: list[str]
) -> None:
    with pytest.raises(HarnessError) as caught:
        runner.preflight(VERSIONS, env)
    assert says in str(caught.value) and "\n" not in str(caught.value)
    assert installed == []


def test_settings_the_matrix_sets_itself_are_not_held_against_it(installed: list[str]) -> None:
    runner.preflight(VERSIONS, {"HARNESS_SUBSCRIPTION_PROFILE": "bogus", "DAPR_VERSION": "x"})
    assert installed == VERSIONS


def test_main_makes_no_results_folder_when_the_preflight_refuses(
    monkeypatch: pytest.MonkeyPatch, installed: list[str], tmp_path, capsys
) -> None:
    from harness.matrix import __main__ as matrix

    folder = tmp_path / "matrix-run"
    monkeypatch.setattr(matrix, "results_folder", lambda *a: folder)
    code = matrix.main(["--versions", "1.16.0,1.18.3"], {"MATRIX_FAULT_SCENARIOS": "nope"})
    assert (code, installed) == (2, [])
    assert not folder.exists()
    assert capsys.readouterr().err.startswith("error: FAULT_SCENARIOS names unknown scenario")


def test_a_results_folder_that_cannot_be_made_is_refused_before_any_daprd(
    monkeypatch: pytest.MonkeyPatch, installed: list[str], tmp_path, capsys
) -> None:
    from harness.matrix import __main__ as matrix

    (tmp_path / "file").write_text("")
    monkeypatch.setattr(matrix, "results_folder", lambda *a: tmp_path / "file" / "run")
    assert matrix.main(["--versions", "1.16.0,1.18.3"], {}) == 2
    assert installed == []
    assert "is a file, not a folder" in capsys.readouterr().err
