"""Running the matrix's checks on one Dapr release.

Per release: the delivery-semantics checks (e2e/test_semantics.py) in a pytest session of
their own for each subscription profile, each on a fresh local stack with that release's
daprd, then the chosen fault scenarios, each on a fresh faults-profile stack. Releases run
one after another on the same ports (HARNESS_PORT_OFFSET, so a matrix never meets another
stack), each in run folders of its own under .run/matrix/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.daprd import ensure_daprd
from harness.env import env_int, env_str
from harness.errors import HarnessError
from harness.faults.report import write_results
from harness.faults.runner import run_scenario
from harness.faults.scenarios import require_local_target, selected
from harness.faults.stack import FaultProfile, profile_from_env
from harness.matrix.observations import Observation, from_fault_summaries, from_scoreboard
from harness.progress import say
from harness.settings import REPO_ROOT, StackSettings
from harness.subscription_profile import PLAIN, STANDARD

SEMANTICS = "e2e/test_semantics.py"
# The plain profile has no dead-letter topic: only the per-case check applies to it.
SELECTION = {STANDARD: SEMANTICS, PLAIN: f"{SEMANTICS}::test_delivery_semantics"}
# Scenarios where a release's shutdown, dead-lettering or redelivery shows. service1-kill
# is left out: what it loses or dead-letters depends on what was in flight at the kill, and
# flipped between two runs on the same release.
DEFAULT_FAULT_SCENARIOS = "sidecar-term,service2-down,slow-handler"
SEMANTICS_TIMEOUT_SECONDS = 300


@dataclass
class ReleaseRun:
    version: str
    observations: list[Observation] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _say(message: str) -> None:
    say("matrix", message)


def preflight(versions: Sequence[str], env: Mapping[str, str] | None = None) -> None:
    """What would stop the matrix part way, checked before the first release runs: each
    release's stack settings for both profiles and for its fault scenarios, the scenarios
    themselves, then every release's daprd (installed when absent)."""
    env = dict(os.environ if env is None else env)
    for version in versions:
        for profile in (STANDARD, PLAIN):
            StackSettings.from_env(semantics_env(version, profile, Path("unused"), env))
        chosen = {**env, **faults_env(version, env)}
        StackSettings.from_env(chosen)
        require_local_target(chosen)
        profile_from_env(FaultProfile(), chosen)
        selected({"FAULT_SCENARIOS": chosen["FAULT_SCENARIOS"]})
    for version in versions:
        ensure_daprd(version)


def run_release(version: str, out: Path, env: Mapping[str, str] | None = None) -> ReleaseRun:
    """Every check of the matrix on `version`; results under out/<version>/."""
    env = dict(os.environ if env is None else env)
    started = time.monotonic()
    ensure_daprd(version)
    run = ReleaseRun(version)
    for profile in (STANDARD, PLAIN):
        board = run_semantics(version, profile, out / version / f"semantics-{profile}", env)
        run.observations += from_scoreboard(profile, board)
        run.failed_checks += [
            f"{version} ({profile}) {check}"
            for check, outcome in board.get("checks", {}).items()
            if outcome not in ("passed", "xfailed")
        ]
    run.observations += run_faults(version, out / version / "faults", env)
    run.seconds = time.monotonic() - started
    _say(f"{version}: done in {run.seconds:.0f} s")
    return run


def semantics_env(
    version: str, profile: str, report: Path, env: Mapping[str, str]
) -> dict[str, str]:
    return {
        **env,
        "DAPR_VERSION": version,
        "HARNESS_SUBSCRIPTION_PROFILE": profile,
        "HARNESS_RUN_DIR": str(REPO_ROOT / ".run" / "matrix" / f"{version}-{profile}"),
        "E2E_REPORT_DIR": str(report),
        "HARNESS_JAEGER": "0",  # no check of the matrix reads traces
        "T2_DELAY_SECONDS": "1",  # no check of the matrix waits for t2
    }


def run_semantics(
    version: str, profile: str, report: Path, env: Mapping[str, str]
) -> dict[str, Any]:
    """One pytest session of the semantics checks; its scoreboard.json (the check
    outcomes included). Failing checks are kept, not raised: the table shows them."""
    _say(f"{version}: delivery semantics, {profile} subscriptions")
    argv = [sys.executable, "-m", "pytest", SELECTION[profile], "-p", "no:cacheprovider",
            "-q", "--no-header", "-rN"]  # fmt: skip
    log = report / "pytest.log"
    report.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        try:
            subprocess.run(
                argv, cwd=REPO_ROOT, env=semantics_env(version, profile, report, env),
                stdout=out, stderr=subprocess.STDOUT, timeout=SEMANTICS_TIMEOUT_SECONDS,
                check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise HarnessError(
                f"the semantics checks on {version} ({profile}) took over "
                f"{SEMANTICS_TIMEOUT_SECONDS} s; see {log}"
            ) from None
    board_file = report / "scoreboard.json"
    if not board_file.is_file():
        raise HarnessError(
            f"the semantics checks on {version} ({profile}) wrote no scoreboard; see {log}"
        )
    board: dict[str, Any] = json.loads(board_file.read_text())
    return board


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """os.environ with `values` set, restored afterwards: the fault runner reads its
    settings from the environment when a scenario starts."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def faults_env(version: str, env: Mapping[str, str]) -> dict[str, str]:
    offset = env_int(env, "MATRIX_FAULTS_PORT_OFFSET", env_int(env, "HARNESS_PORT_OFFSET", 0) + 500)
    return {
        "DAPR_VERSION": version,
        "HARNESS_PORT_OFFSET": str(offset),
        "HARNESS_RUN_DIR": str(REPO_ROOT / ".run" / "matrix" / f"{version}-faults"),
        "HARNESS_SUBSCRIPTION_PROFILE": STANDARD,
        "FAULT_SCENARIOS": env_str(env, "MATRIX_FAULT_SCENARIOS", DEFAULT_FAULT_SCENARIOS),
    }


def run_faults(version: str, out: Path, env: Mapping[str, str]) -> list[Observation]:
    chosen = faults_env(version, env)
    scenarios = selected({"FAULT_SCENARIOS": chosen["FAULT_SCENARIOS"]})
    results = []
    with environment(chosen):
        for scenario in scenarios:
            _say(f"{version}: fault scenario {scenario.name}")
            results.append(run_scenario(scenario))
    summaries = [r.as_dict() for r in results]
    write_results(out, summaries, [r.row() for r in results])
    return from_fault_summaries(summaries)
