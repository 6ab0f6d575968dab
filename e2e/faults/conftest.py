"""Fixtures of the fault checks: each scenario on a fresh faults-profile stack of its own.

These checks never attach to a stack started by `python -m harness up` and never start
the e2e gate's stack: the gate's session fixtures are replaced here by ones that do
nothing. They run only when selected with `-m faults` (`tox -e faults`), so `pytest e2e`
and `tox -e e2e` leave them out. Bad input (an unknown scenario in FAULT_SCENARIOS, a
target that cannot take faults) ends the session with one line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.errors import HarnessError
from harness.faults.report import results_dir, results_folder_to_be, table_lines, write_results
from harness.faults.runner import ScenarioResult, run_scenario
from harness.faults.scenarios import SCENARIOS, Scenario, require_local_target, selected
from harness.faults.stack import FaultProfile, profile_from_env

RESULTS: list[ScenarioResult] = []
OUT: list[Path] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave the fault checks out unless the marker expression asks for them."""
    if faults_selected(config):
        return
    kept = [item for item in items if item.get_closest_marker("faults") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


def faults_selected(config: pytest.Config) -> bool:
    return "faults" in (config.option.markexpr or "")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Bad input ends the session here, in one line, before anything starts."""
    if not faults_selected(session.config):
        return
    try:
        require_local_target()
        profile_from_env(FaultProfile())
        selected()
        results_folder_to_be()
    except HarnessError as exc:  # SettingsError is one
        pytest.exit(f"faults: {exc}", returncode=4)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "scenario" in metafunc.fixturenames:
        try:
            scenarios = selected()
        except HarnessError:  # refused at session start when the faults are selected
            scenarios = list(SCENARIOS)
        metafunc.parametrize("scenario", scenarios, ids=[s.name for s in scenarios])


# The e2e gate's session fixtures start (or attach to) the shared stack: not here.
@pytest.fixture(scope="session", autouse=True)
def early_t2() -> None:
    return None


@pytest.fixture(autouse=True)
def target_alive() -> None:
    return None


@pytest.fixture(scope="session", autouse=True)
def feature_scenarios() -> dict[str, Any]:
    return {}


@pytest.fixture(scope="session")
def faults_out() -> Iterator[Path]:
    out = results_dir()
    OUT.append(out)
    yield out
    if RESULTS:
        write_results(out, [r.as_dict() for r in RESULTS], [r.row() for r in RESULTS])


@pytest.fixture
def fault_run(faults_out: Path, scenario: Scenario) -> ScenarioResult:
    """Run the scenario on its own stack (stopped again before the test judges it)."""
    try:
        result = run_scenario(scenario)
    except HarnessError as exc:  # SettingsError is one
        pytest.fail(f"{scenario.name}: {exc}", pytrace=False)
    RESULTS.append(result)
    return result


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RESULTS:
        return
    terminalreporter.section("dapr pub/sub under faults")
    for line in table_lines([r.row() for r in RESULTS]):
        terminalreporter.write_line(line)
    if OUT:
        terminalreporter.write_line(f"results: {OUT[0]}")
